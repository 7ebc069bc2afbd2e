"""Requests without a session are limited per client address before any body is read; callers
with a token are never counted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.bootstrap import Container
from tests.conftest import make_settings

LOGIN = 'mutation { login(username: "nobody", password: "wrong-pass-1") { userErrors { code } } }'


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(
        database_url, anonymous_requests_per_second=1, anonymous_request_burst=3
    )
    container = Container(settings, database_url)
    try:
        with TestClient(create_app(container, run_projections=False)) as test_client:
            yield test_client
    finally:
        container.close()


def post(client: TestClient, query: str, **headers: str) -> tuple[int, dict]:
    response = client.post("/graphql", json={"query": query}, headers=headers)
    return response.status_code, response.json()


def test_a_burst_without_a_session_is_turned_away_with_retry_after(client: TestClient) -> None:
    statuses = [post(client, LOGIN)[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = client.post("/graphql", json={"query": LOGIN})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] >= 1


def test_callers_with_a_token_are_not_counted(client: TestClient) -> None:
    for _ in range(5):  # a token, even a wrong one, is its account's business
        status, body = post(client, "{ me { username } }", authorization="Bearer not-a-token")
        assert status == 200
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_each_address_has_its_own_bucket_and_other_paths_are_free(client: TestClient) -> None:
    for _ in range(4):
        post(client, LOGIN)
    assert client.get("/healthz").status_code != 429
    other = TestClient(client.app, client=("192.0.2.7", 50000))
    assert other.post("/graphql", json={"query": LOGIN}).status_code == 200
