"""GraphQL error conventions: masked internals with a correlation id, abuse limits, page caps."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from application.unit_of_work import save
from domain.access.account import Account
from domain.access.permissions import Role
from tests.e2e.access_world import World, open_world
from tests.helpers import error_codes

SECRET_DETAIL = "psycopg password=hunter2 at /srv/spoa/internal.py line 42"


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


def post(world: World, document: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    token = world.gql.tokens["admin"]
    return world.client.post(
        "/graphql",
        json={"query": document, **kw},
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
    )


# ---------------------------------------------------------------- masking
@pytest.mark.parametrize(
    ("method", "document"),
    [
        ("me", "{ me { username } }"),
        ("list_accounts", "{ accounts { totalCount } }"),
        ("disable", 'mutation { disableAccount(id: "%s") { position } }'),
    ],
)
def test_unexpected_errors_are_masked_and_logged_with_a_correlation_id(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    document: str,
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(SECRET_DETAIL)

    monkeypatch.setattr(world.container.access, method, explode)
    if "%s" in document:
        document %= world.account("viewer").id
    with caplog.at_level(logging.ERROR):
        response = post(world, document, headers={"x-request-id": "req-abc.123"})
    body = response.json()
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "correlationId": "req-abc.123"}
    assert "req-abc.123" in error["message"]
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert response.headers["x-request-id"] == "req-abc.123"
    logged = [r for r in caplog.records if r.exc_info and SECRET_DETAIL in str(r.exc_info[1])]
    assert logged, "the real error must reach the log"


def test_a_storage_conflict_is_masked_too(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def conflict(*args: Any, **kwargs: Any) -> Any:
        raise IntegrityError("duplicate key value violates unique constraint core_events_pkey")

    monkeypatch.setattr(world.container.access, "me", conflict)
    response = post(world, "{ me { username } }")
    assert error_codes(response.json()) == ["INTERNAL_SERVER_ERROR"]
    assert "core_events" not in response.text


def test_a_generated_correlation_id_is_returned_when_none_is_sent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world.container.access, "me", lambda *a: 1 / 0)
    response = post(world, "{ me { username } }", headers={"x-request-id": "bad id with spaces"})
    cid = response.headers["x-request-id"]
    assert cid != "bad id with spaces" and len(cid) == 32
    assert response.json()["errors"][0]["extensions"]["correlationId"] == cid


def test_other_fields_still_answer_when_one_fails(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world.container.access, "list_accounts", lambda *a: 1 / 0)
    body = post(world, "{ me { username } accounts { totalCount } }").json()
    assert body["data"] is None or body["data"]["me"] == {"username": "admin"}
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]


# ---------------------------------------------------------------- abuse limits
def test_deep_documents_are_refused(world: World) -> None:
    depth = world.container.settings.graphql_max_depth + 3
    document = "{ " + "me { " * depth + "id" + " }" * depth + " }"
    body = post(world, document).json()
    assert body["data"] is None
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}
    assert any("depth" in e["message"] for e in body["errors"])


def test_too_many_aliases_are_refused(world: World) -> None:
    count = world.container.settings.graphql_max_aliases + 1
    document = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(count)) + " }"
    body = post(world, document).json()
    assert body["data"] is None
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}
    assert any("alias" in e["message"].lower() for e in body["errors"])


def test_just_enough_aliases_are_fine(world: World) -> None:
    count = world.container.settings.graphql_max_aliases
    document = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(count)) + " }"
    body = post(world, document).json()
    assert "errors" not in body and len(body["data"]) == count


def test_too_many_tokens_are_refused(world: World) -> None:
    count = world.container.settings.graphql_max_tokens
    document = "{ me { " + "id " * count + "} }"
    assert len(document) < world.container.settings.graphql_max_body_bytes
    body = post(world, document).json()
    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "token" in body["errors"][0]["message"].lower()


def test_a_chunked_oversize_body_is_refused_too(pg_server_url: str, template_db: str) -> None:
    """Regression: only content-length was checked; a chunked body had no limit at all."""
    with open_world(pg_server_url, template_db, graphql_max_body_bytes=4096) as w:
        body = json.dumps({"query": "{ me { username } }", "variables": {"pad": "x" * 20000}})

        def chunks() -> Iterator[bytes]:
            data = body.encode()
            for i in range(0, len(data), 1000):
                yield data[i : i + 1000]

        headers = {
            "content-type": "application/json",
            "Authorization": f"Bearer {w.gql.tokens['admin']}",
        }
        response = w.client.post("/graphql", content=chunks(), headers=headers)
        assert response.status_code == 413
        assert error_codes(response.json()) == ["BAD_USER_INPUT"]
        small = json.dumps({"query": "{ me { username } }"}).encode()
        ok = w.client.post("/graphql", content=iter([small[:10], small[10:]]), headers=headers)
        assert ok.json() == {"data": {"me": {"username": "admin"}}}


# ---------------------------------------------------------------- page sizes
@pytest.fixture(scope="module")
def many_accounts(world: World) -> int:
    """Enough accounts and events to exceed the page cap, stored in one quick transaction."""
    accounts = [
        Account.register(
            username=f"bulk{i:04d}",
            display_name=f"Bulk {i}",
            role=Role.VIEWER,
            province=None,
            password_hash="not-a-real-hash",
            meta={},
        )
        for i in range(world.container.settings.page_max + 20)
    ]
    save(world.container.core, *accounts)
    world.catch_up()
    return len(accounts)


def test_first_over_the_cap_is_capped(world: World, many_accounts: int) -> None:
    cap = world.container.settings.page_max
    assert cap == 500  # the contract's cap
    body = post(
        world,
        "{ accounts(first: 100000) { totalCount nodes { username }"
        " pageInfo { hasNextPage endCursor } } }",
    ).json()
    page = body["data"]["accounts"]
    assert len(page["nodes"]) == cap
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] >= many_accounts

    events = post(world, "{ events(first: 9999) { nodes { position } pageInfo { hasNextPage } } }")
    assert len(events.json()["data"]["events"]["nodes"]) == cap


def test_default_page_is_fifty_and_cursors_walk_the_whole_list(
    world: World, many_accounts: int
) -> None:
    seen: list[str] = []
    after = None
    while True:
        body = post(
            world,
            "query($after: String) { accounts(after: $after) { totalCount nodes { username }"
            " pageInfo { hasNextPage endCursor } } }",
            variables={"after": after},
        ).json()
        page = body["data"]["accounts"]
        assert len(page["nodes"]) <= 50
        seen += [n["username"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == page["totalCount"]


def test_a_cursor_from_another_list_is_bad_input(world: World) -> None:
    trail = post(
        world,
        '{ auditTrail(streamType: "Account", streamId: "admin", first: 1) {'
        " pageInfo { endCursor } } }",
    ).json()
    cursor = trail["data"]["auditTrail"]["pageInfo"]["endCursor"]
    body = post(
        world, "query($a: String) { accounts(after: $a) { totalCount } }", variables={"a": cursor}
    )
    assert error_codes(body.json()) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "document",
    [
        "{ accounts(first: -1) { totalCount } }",
        "{ events(first: -1) { nodes { position } } }",
        '{ auditTrail(streamType: "Account", streamId: "admin", first: -3) { nodes { type } } }',
    ],
)
def test_negative_first_is_bad_user_input(world: World, document: str) -> None:
    body = post(world, document).json()
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "first" in body["errors"][0]["message"]


def test_first_zero_is_an_empty_page(world: World) -> None:
    body = post(world, "{ accounts(first: 0) { nodes { id } pageInfo { hasNextPage } } }").json()
    assert body["data"]["accounts"] == {"nodes": [], "pageInfo": {"hasNextPage": True}}
