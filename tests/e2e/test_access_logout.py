"""`logout` ends the caller's session, `revokeSessions` every session of an account; both are
audited Account events and hold on the next request in every process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.access.account import account_id_for
from infra.bootstrap import Container
from tests.e2e.access_world import World, open_world
from tests.helpers import GraphQL, error_codes

ME = "{ me { username } }"
LOGOUT = "mutation { logout }"
REVOKE = (
    "mutation($id: ID!) { revokeSessions(accountId: $id) {"
    " account { username } position userErrors { code } } }"
)


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


@pytest.fixture(scope="module")
def other_process(world: World) -> Iterator[GraphQL]:
    """A second app with its own container (its own aggregate cache and token cache) on the
    same database: what another `spoa serve --workers N` worker is."""
    settings = world.container.settings
    assert settings.database_url is not None
    container = Container(settings, settings.database_url)
    try:
        with TestClient(create_app(container, run_projections=False)) as client:
            yield GraphQL(client)
    finally:
        container.close()


def me(gql: GraphQL, token: str) -> list[str]:
    return error_codes(gql(ME, token=token))


def test_logout_ends_that_session_and_no_other(world: World) -> None:
    username, account_id = world.new_account()
    first, second = world.gql.login(username), world.gql.login(username)
    before = world.head()
    assert world.gql(LOGOUT, token=first) == {"data": {"logout": True}}
    assert me(world.gql, first) == ["UNAUTHENTICATED"]
    assert world.gql(ME, token=second)["data"]["me"]["username"] == username
    # Audited: one event on the account, by the account itself.
    (entry,) = world.container.core_log.feed(before, 10)
    assert type(entry.event).__name__ == "SessionEnded"
    assert entry.event.originator_id == account_id_for(username)
    assert entry.event.meta.actor.username == username
    assert str(account_id_for(username)) == account_id


def test_logout_needs_a_session(world: World) -> None:
    assert error_codes(world.gql(LOGOUT)) == ["UNAUTHENTICATED"]
    username, _ = world.new_account()
    token = world.gql.login(username)
    world.gql(LOGOUT, token=token)
    before = world.head()
    assert error_codes(world.gql(LOGOUT, token=token)) == ["UNAUTHENTICATED"]
    assert world.head() == before


def test_a_super_admin_revokes_every_session_of_an_account(world: World) -> None:
    username, account_id = world.new_account()
    tokens = [world.gql.login(username) for _ in range(3)]
    result = world.gql(REVOKE, {"id": account_id}, as_user="admin")["data"]["revokeSessions"]
    assert result["account"] == {"username": username}
    assert result["position"] > 0 and result["userErrors"] == []
    assert all(me(world.gql, t) == ["UNAUTHENTICATED"] for t in tokens)
    # A fresh login works as before.
    assert me(world.gql, world.gql.login(username)) == []
    entry = world.container.core_log.feed(result["position"] - 1, 1)[0]
    assert type(entry.event).__name__ == "SessionsRevoked"
    assert entry.event.meta.actor.username == "admin"


@pytest.mark.parametrize("caller", ["second", "gd.agent", "viewer", "auditor", "platform"])
def test_only_a_super_admin_may_revoke_sessions(world: World, caller: str) -> None:
    username, account_id = world.new_account()
    token = world.gql.login(username)
    before = world.head()
    assert error_codes(world.gql(REVOKE, {"id": account_id}, as_user=caller)) == ["FORBIDDEN"]
    assert world.head() == before
    assert me(world.gql, token) == []


def test_revoking_an_unknown_or_malformed_account(world: World) -> None:
    unknown = world.gql(REVOKE, {"id": str(account_id_for("nobody.here"))}, as_user="admin")
    assert unknown["data"]["revokeSessions"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert error_codes(world.gql(REVOKE, {"id": "not-an-id"}, as_user="admin")) == [
        "BAD_USER_INPUT"
    ]


def test_a_logout_in_one_process_holds_in_another_on_the_next_request(
    world: World, other_process: GraphQL
) -> None:
    username, account_id = world.new_account()
    token = world.gql.login(username)
    assert me(other_process, token) == []  # the other process has the account cached now
    assert world.gql(LOGOUT, token=token)["data"]["logout"] is True
    assert me(other_process, token) == ["UNAUTHENTICATED"]
    # ... and a revocation made in the other process holds here.
    token = world.gql.login(username)
    assert me(world.gql, token) == []
    other_process.tokens.clear()
    other_process.login("admin")
    revoked = other_process(REVOKE, {"id": account_id}, as_user="admin")
    assert revoked["data"]["revokeSessions"]["userErrors"] == []
    assert me(world.gql, token) == ["UNAUTHENTICATED"]
