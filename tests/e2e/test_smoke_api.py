"""The app answers health checks and the basic login → me round trip over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import GraphQL, error_codes


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] is True


def test_login_then_me(gql: GraphQL) -> None:
    result = gql("{ me { username role province enabled version } }", as_user="gd.agent")
    assert result["data"]["me"] == {
        "username": "gd.agent",
        "role": "PROVINCE_AGENT",
        "province": "GD",
        "enabled": True,
        "version": 2,
    }


def test_me_without_token_is_unauthenticated(gql: GraphQL) -> None:
    assert error_codes(gql("{ me { username } }")) == ["UNAUTHENTICATED"]
    assert error_codes(gql("{ me { username } }", token="garbage")) == ["UNAUTHENTICATED"]
