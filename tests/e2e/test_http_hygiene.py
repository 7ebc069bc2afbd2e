"""Bad input is a 4xx, never a 500 (design decision 10): bodies that are not UTF-8 JSON or nest
too deeply, DateTimes without an offset, the wrong media type on /ingest; introspection only
for authenticated callers outside dev mode; `spoa serve --demo` only in dev mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.e2e.access_world import World, open_world
from tests.helpers import error_codes

ME = "{ me { username } }"
SURROGATE_LOGIN = 'mutation { login(username: "\\ud800", password: "") { session { token } } }'
AS_OF = "query($id: ID!, $at: DateTime!) { accountAsOf(id: $id, at: $at) { username } }"


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


@pytest.fixture(scope="module")
def http(world: World) -> TestClient:
    """The app with server errors answered (500), not raised into the test."""
    return TestClient(world.client.app, raise_server_exceptions=False)


def token(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.gql.tokens['admin']}"}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def variables_body(value: str) -> bytes:
    return ('{"query": "query { me { username } }", "variables": {"a": ' + value + "}}").encode()


BAD_BODIES = {
    "invalid UTF-8 in a variable": b'{"query": "{ me { username } }", "variables": {"a": "\xff"}}',
    "invalid UTF-8 in the query": b'{"query": "{ me { \xc3\x28 } }"}',
    "truncated": b'{"query": ',
    "lone surrogate": b'{"query": "{ me { username } }", "variables": {"a": "\\ud800"}}',
    "NaN": b'{"query": "{ me { username } }", "variables": {"a": NaN}}',
    "50,000 deep": variables_body(nested(50_000)),
    "just too deep": variables_body(nested(63)),  # 65 levels with the body and variables
}


@pytest.mark.parametrize("who", ["anonymous", "authenticated"])
@pytest.mark.parametrize("accept", ["application/json", "text/event-stream"])
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_body_that_is_not_acceptable_json_is_400(
    world: World, http: TestClient, case: str, accept: str, who: str
) -> None:
    headers = {"content-type": "application/json", "accept": accept}
    if who == "authenticated":
        headers |= token(world)
    response = http.post("/graphql", content=BAD_BODIES[case], headers=headers)
    assert response.status_code == 400, response.text


def test_nesting_up_to_the_limit_is_served(world: World, http: TestClient) -> None:
    limit = world.container.settings.json_max_depth
    body = variables_body(nested(limit - 2))  # the body, the variables, then the value
    response = http.post(
        "/graphql", content=body, headers={"content-type": "application/json", **token(world)}
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"me": {"username": "admin"}}


@pytest.mark.parametrize(
    "body",
    [b'{"ticket": "\xff"}', ('{"ticket": ' + nested(50_000) + "}").encode(), b'{"ticket": '],
    ids=["invalid UTF-8", "50,000 deep", "truncated"],
)
def test_sso_bodies_that_are_not_acceptable_json_are_400(http: TestClient, body: bytes) -> None:
    response = http.post("/sso/spoa", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"


# ---------------------------------------------------------------- DateTime needs an offset
@pytest.mark.parametrize("at", ["2024-01-01T00:00:00", "2024-01-01", "2024-01-01T08:00"])
def test_a_datetime_without_an_offset_is_bad_user_input(world: World, at: str) -> None:
    admin = str(world.principals["admin"].account_id)
    as_variable = world.gql(AS_OF, {"id": admin, "at": at}, as_user="admin")
    assert error_codes(as_variable) == ["BAD_USER_INPUT"]
    assert "offset" in as_variable["errors"][0]["message"]
    literal = f'{{ accountAsOf(id: "{admin}", at: "{at}") {{ username }} }}'
    assert error_codes(world.gql(literal, as_user="admin")) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("at", ["2999-01-01T00:00:00+08:00", "2999-01-01T00:00:00Z"])
def test_a_datetime_with_an_offset_is_served(world: World, at: str) -> None:
    admin = str(world.principals["admin"].account_id)
    result = world.gql(AS_OF, {"id": admin, "at": at}, as_user="admin")
    assert result == {"data": {"accountAsOf": {"username": "admin"}}}


# ---------------------------------------------------------------- bulk ingest media type
@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain"])
def test_bulk_ingest_needs_ndjson(world: World, content_type: str | None) -> None:
    headers = {"Authorization": f"Bearer {world.gql.login('platform')}"}
    if content_type is not None:
        headers["content-type"] = content_type
    before = world.container.feed_log.head()
    response = world.client.post(
        "/ingest/sms?source=gw&batchId=media-type", content=b"{}\n", headers=headers
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert world.container.feed_log.head() == before


# ---------------------------------------------------------------- introspection
INTROSPECTIONS = [
    "{ __schema { queryType { name } } }",
    '{ __type(name: "Account") { name } }',
    "query { me { username } ... on Query { __schema { types { name } } } }",
    "fragment F on Query { __schema { queryType { name } } } { ...F }",
]


@pytest.fixture(scope="module")
def production(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db, dev_mode=False) as w:
        yield w


@pytest.mark.parametrize("document", INTROSPECTIONS)
def test_outside_dev_mode_introspection_needs_authentication(
    production: World, document: str
) -> None:
    # An authenticated caller first: the validation cache then knows the text as valid...
    assert "errors" not in production.gql(document, as_user="viewer")
    # ... for authenticated callers only.
    anonymous = production.gql(document)
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    assert anonymous["data"] is None
    assert "errors" not in production.gql(document, as_user="viewer")


def test_outside_dev_mode_typename_is_not_introspection(production: World) -> None:
    assert production.gql("{ __typename }") == {"data": {"__typename": "Query"}}


def test_in_dev_mode_anyone_may_introspect(world: World) -> None:
    assert world.gql(INTROSPECTIONS[0]) == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


# ---------------------------------------------------------------- no 500 for bad input
NASTY: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/graphql", {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}),
    ("POST", "/graphql", {"content": b"[]", "headers": {"content-type": "application/json"}}),
    ("POST", "/graphql", {"content": b"null", "headers": {"content-type": "application/json"}}),
    ("POST", "/graphql", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
    ("POST", "/graphql", {"json": {"query": "{" * 3000}}),
    ("POST", "/graphql", {"json": {"query": ME, "variables": {"a": "x" * 10}}}),
    ("POST", "/graphql", {"json": {"query": AS_OF, "variables": {"id": "x", "at": 5}}}),
    (
        "POST",
        "/graphql",
        {"json": {"query": SURROGATE_LOGIN}},
    ),
    ("GET", "/graphql?query=%7B%7D&variables=%ff", {}),
    (
        "POST",
        "/sso/spoa",
        {
            "content": b"ticket=%ff%fe",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
    ),
    ("POST", "/sso/spoa", {"content": b"\xff", "headers": {"content-type": "application/json"}}),
    (
        "POST",
        "/ingest/sms?source=a&batchId=b",
        {"content": b"\xff\n", "headers": {"content-type": "application/x-ndjson"}},
    ),
    ("POST", "/ingest/sms", {"content": b"", "headers": {"content-type": "application/x-ndjson"}}),
    ("GET", "/documents/%ff", {}),
    ("GET", "/exports/statistics/proxy-operations.csv?from=%ff&groupBy=%00", {}),
]


@pytest.mark.parametrize("who", ["anonymous", "authenticated"])
@pytest.mark.parametrize(("method", "path", "kwargs"), NASTY)
def test_no_bad_input_answers_500(
    world: World, http: TestClient, who: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    kwargs = dict(kwargs)
    content = kwargs.pop("content", None)
    headers = dict(kwargs.pop("headers", {}))
    if who == "authenticated":
        headers |= token(world)
        if path.startswith("/ingest"):
            headers["Authorization"] = f"Bearer {world.gql.login('platform')}"
    response = http.request(
        method,
        path,
        content=content,
        headers=headers,
        **kwargs,
    )
    assert response.status_code < 500, response.text
    assert "INTERNAL_SERVER_ERROR" not in response.text


# ---------------------------------------------------------------- demo data only in dev mode
def test_serve_demo_refuses_outside_dev_mode(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from api.cli.main import app

    def no_server(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the server was started")

    monkeypatch.setattr(uvicorn, "run", no_server)
    monkeypatch.delenv("SPOA_DEV_MODE", raising=False)
    monkeypatch.setenv("SPOA_DATABASE_URL", database_url)
    monkeypatch.setenv("SPOA_SECRET_KEY", "a-production-secret-0123456789")
    result = CliRunner().invoke(app, ["serve", "--demo"])
    assert result.exit_code == 2, result.output
    with psycopg.connect(database_url) as conn:
        (accounts,) = conn.execute("SELECT count(*) FROM core_events").fetchone() or (None,)
    assert accounts == 0
