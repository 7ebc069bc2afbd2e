"""The GraphQL HTTP surface: the lean JSON path (api/graphql_http.py) answers exactly like the
strawberry route it stands in for, and everything unusual still reaches the route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.graphql_http import GraphQLFastPath, bearer_token_of
from tests.e2e.access_world import World, open_world

ME = "{ me { username role } }"


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


def auth(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.gql.tokens['admin']}"}


def raw(world: World, body: bytes, content_type: str = "application/json", **headers: str) -> Any:
    return world.client.post(
        "/graphql", content=body, headers={"content-type": content_type, **auth(world), **headers}
    )


def test_the_lean_path_is_installed_inside_the_other_middleware(world: World) -> None:
    kinds = [m.cls for m in world.client.app.user_middleware]  # type: ignore[attr-defined]
    assert kinds[-1] is GraphQLFastPath


def test_a_json_operation_is_answered_with_data_and_a_request_id(world: World) -> None:
    response = raw(
        world,
        json.dumps({"query": ME, "variables": None, "operationName": None}).encode(),
        **{"x-request-id": "req-1"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "req-1"
    assert response.json() == {"data": {"me": {"username": "admin", "role": "SUPER_ADMIN"}}}


def test_charset_and_named_operations_are_served(world: World) -> None:
    body = {"query": "query A { me { username } } query B { me { role } }", "operationName": "B"}
    response = raw(world, json.dumps(body).encode(), "application/json; charset=utf-8")
    assert response.json() == {"data": {"me": {"role": "SUPER_ADMIN"}}}


def test_without_a_token_the_answer_is_unauthenticated(world: World) -> None:
    response = world.client.post("/graphql", json={"query": ME})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.json()["data"] is None


@pytest.fixture(scope="module")
def route_only(world: World) -> Iterator[TestClient]:
    """The same app without the lean path: every request goes through the strawberry route."""
    app = create_app(world.container, run_projections=False)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not GraphQLFastPath]
    with TestClient(app) as client:
        yield client


BODIES = [
    json.dumps({"query": ME}).encode(),
    json.dumps({"query": "query A { me { username } } query B { me { role } }"}).encode(),
    json.dumps({"query": "query A { me { username } }", "operationName": "Z"}).encode(),
    json.dumps({"query": "{ me { nope } }"}).encode(),
    json.dumps({"query": "{ me { username }"}).encode(),
    json.dumps({"query": "subscription { me { username } }"}).encode(),
    json.dumps({"query": "query($n: Int!) { me { username } }", "variables": {"n": "x"}}).encode(),
    json.dumps({"query": "query($n: Int!) { me { username } }"}).encode(),
    json.dumps({"query": ME, "operationName": 5}).encode(),
    json.dumps([{"query": ME}]).encode(),
    b"{not json",
    b'{"variables": {}}',
    b'{"query": 1}',
    b'{"query": "{ me { username } }", "variables": []}',
    b'{"query": "{ me { username } }", "extensions": 3}',
    b'{"query": ""}',
    b"null",
    b'{"query": "{ me { username } }", "variables": {"a": "\xff"}}',
    b'{"query": "{ me { username } }", "variables": {"a": ' + b"[" * 100 + b"]" * 100 + b"}}",
]


@pytest.mark.parametrize("body", BODIES)
def test_every_answer_is_the_routes_answer(
    world: World, route_only: TestClient, body: bytes
) -> None:
    headers = {"content-type": "application/json", **auth(world), "x-request-id": "same"}
    lean = world.client.post("/graphql", content=body, headers=headers)
    route = route_only.post("/graphql", content=body, headers=headers)
    assert (lean.status_code, lean.headers["content-type"]) == (
        route.status_code,
        route.headers["content-type"],
    )
    assert lean.content == route.content


def test_other_content_types_go_to_the_route(world: World) -> None:
    response = raw(world, b"query=%7B%20me%20%7B%20username%20%7D%20%7D", "text/plain")
    assert response.status_code == 400
    assert "Unsupported content type" in response.text


def test_bearer_tokens_are_read_like_the_route_reads_them() -> None:
    assert bearer_token_of("Bearer abc") == "abc"
    assert bearer_token_of("bearer  abc ") == "abc"
    assert bearer_token_of("Basic abc") is None
    assert bearer_token_of("Bearer ") is None
    assert bearer_token_of("") is None
