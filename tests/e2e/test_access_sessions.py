"""Logins, sessions that follow the account's current state, and the last admin (failed-login
throttling: test_access_throttle.py; logout and revocation: test_access_logout.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.access.account import account_id_for
from infra.bootstrap import Container
from infra.tokens import JwtTokenService
from tests.conftest import TEST_SECRET
from tests.e2e.access_world import World, open_world
from tests.helpers import PASSWORD, GraphQL, error_codes

LOGIN = (
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) {"
    " session { token expiresAt account { username lastLoginAt } }"
    " userErrors { code message field } } }"
)
ME = "{ me { username role enabled } }"
ACCOUNTS = "{ accounts { totalCount } }"
PAYLOAD = "account { username role province enabled version } position userErrors { code field }"


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


@pytest.fixture(autouse=True)
def _no_failed_logins_remembered(world: World) -> None:
    world.forget_failed_logins()


def login(world: World, username: str, password: str) -> tuple[int, dict[str, Any]]:
    response = world.client.post(
        "/graphql", json={"query": LOGIN, "variables": {"u": username, "p": password}}
    )
    return response.status_code, response.json()


# ---------------------------------------------------------------- login
def test_login_opens_a_session(world: World) -> None:
    username, _ = world.new_account()
    status, body = login(world, username, PASSWORD)
    session = body["data"]["login"]["session"]
    assert status == 200 and body["data"]["login"]["userErrors"] == []
    assert session["account"]["username"] == username
    assert session["account"]["lastLoginAt"] is not None
    expires = datetime.fromisoformat(session["expiresAt"])
    ttl = timedelta(minutes=world.container.settings.token_ttl_minutes)
    assert abs(expires - (datetime.now(UTC) + ttl)) < timedelta(minutes=1)
    assert world.gql(ME, token=session["token"])["data"]["me"]["username"] == username


@pytest.mark.parametrize("how", ["unknown user", "wrong password", "disabled", "empty"])
def test_failed_logins_all_look_the_same(world: World, how: str) -> None:
    username, _ = world.new_account()
    password = PASSWORD
    if how == "unknown user":
        username = "no.such.user"
    elif how == "wrong password":
        password = "not-the-password"
    elif how == "disabled":
        world.container.access.disable(world.admin, account_id_for(username), None)
    else:
        username, password = "", ""
    status, body = login(world, username, password)
    assert status == 200
    assert body == {
        "data": {
            "login": {
                "session": None,
                "userErrors": [
                    {
                        "code": "INVALID_CREDENTIALS",
                        "message": "invalid username or password",
                        "field": None,
                    }
                ],
            }
        }
    }


def test_unknown_usernames_store_nothing(world: World) -> None:
    before = world.head()
    login(world, "ghost", "whatever-password")
    assert world.head() == before


# ---------------------------------------------------------------- sessions follow the account
@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "Bearer",
        JwtTokenService(TEST_SECRET, timedelta(seconds=-5)).issue(account_id_for("admin"), 0)[0],
        JwtTokenService("another-secret-0123456789abcdefghijklmnop", timedelta(hours=1)).issue(
            account_id_for("admin"), 0
        )[0],
    ],
    ids=["garbage", "empty", "expired", "foreign signature"],
)
def test_bad_tokens_are_unauthenticated(world: World, token: str) -> None:
    assert error_codes(world.gql(ME, token=token)) == ["UNAUTHENTICATED"]


def test_disabling_takes_effect_on_the_next_request(world: World) -> None:
    username, account_id = world.new_account()
    token = world.gql.login(username)
    assert world.gql(ME, token=token)["data"]["me"]["enabled"] is True
    world.gql(
        "mutation($id: ID!) { disableAccount(id: $id) { position } }",
        {"id": account_id},
        as_user="admin",
    )
    assert error_codes(world.gql(ME, token=token)) == ["UNAUTHENTICATED"]
    # Enabling again does not bring the old session back: the holder logs in anew.
    world.gql(
        "mutation($id: ID!) { enableAccount(id: $id) { position } }",
        {"id": account_id},
        as_user="admin",
    )
    assert error_codes(world.gql(ME, token=token)) == ["UNAUTHENTICATED"]
    assert world.gql(ME, token=world.gql.login(username))["data"]["me"]["username"] == username


@pytest.mark.parametrize(
    ("before", "after", "can_list_after"),
    [("AUDITOR", "VIEWER", False), ("VIEWER", "AUDITOR", True)],
)
def test_a_role_change_takes_effect_on_the_next_request(
    world: World, before: str, after: str, can_list_after: bool
) -> None:
    from domain.access.permissions import Role

    username, account_id = world.new_account("role", Role(before))
    token = world.gql.login(username)
    assert ("errors" in world.gql(ACCOUNTS, token=token)) is (before != "AUDITOR")
    result = world.gql(
        f"mutation($id: ID!) {{ changeAccountRole(id: $id, role: {after}) {{ {PAYLOAD} }} }}",
        {"id": account_id},
        as_user="admin",
    )
    assert result["data"]["changeAccountRole"]["account"]["role"] == after
    # The old token no longer carries the old role: it is refused outright.
    old = world.gql(ACCOUNTS, token=token)
    assert error_codes(old) in (["UNAUTHENTICATED"], ["FORBIDDEN"])
    fresh = world.gql.login(username)
    assert world.gql(ME, token=fresh)["data"]["me"]["role"] == after
    assert ("errors" not in world.gql(ACCOUNTS, token=fresh)) is can_list_after


def test_change_my_password_revokes_every_old_session(world: World) -> None:
    username, _ = world.new_account()
    first, second = world.gql.login(username), world.gql.login(username)
    result = world.gql(
        "mutation($c: String!, $n: String!) { changeMyPassword(currentPassword: $c,"
        f" newPassword: $n) {{ {PAYLOAD} }} }}",
        {"c": PASSWORD, "n": "my-new-password-9"},
        token=first,
    )
    assert result["data"]["changeMyPassword"]["userErrors"] == []
    assert result["data"]["changeMyPassword"]["position"] > 0
    for old in (first, second):
        assert error_codes(world.gql(ME, token=old)) == ["UNAUTHENTICATED"]
    # The new password first: a failure would hold the next try back a second.
    assert login(world, username, "my-new-password-9")[1]["data"]["login"]["session"]
    assert login(world, username, PASSWORD)[1]["data"]["login"]["session"] is None


def test_stale_expected_version_is_a_version_conflict(world: World) -> None:
    _, account_id = world.new_account()
    document = (
        "mutation($id: ID!, $v: Int) { changeAccountRole(id: $id, role: AUDITOR,"
        f" expectedVersion: $v) {{ {PAYLOAD} }} }}"
    )
    before = world.head()
    stale = world.gql(document, {"id": account_id, "v": 7}, as_user="admin")
    payload = stale["data"]["changeAccountRole"]
    assert payload["userErrors"] == [{"code": "VERSION_CONFLICT", "field": ["expectedVersion"]}]
    assert payload["account"] is None and payload["position"] is None
    assert world.head() == before
    fresh = world.gql(document, {"id": account_id, "v": 1}, as_user="admin")
    assert fresh["data"]["changeAccountRole"]["account"]["version"] == 2
    assert fresh["data"]["changeAccountRole"]["position"] == world.head()


# ---------------------------------------------------------------- the last super admin
def admin_mutation(
    gql: GraphQL, container: Container, as_user: str, document: str, username: str
) -> dict[str, Any]:
    result = gql(document, {"id": str(account_id_for(username))}, as_user=as_user)
    assert "errors" not in result, result
    payload: dict[str, Any] = next(iter(result["data"].values()))
    return payload


DISABLE = f"mutation($id: ID!) {{ disableAccount(id: $id) {{ {PAYLOAD} }} }}"
ENABLE = f"mutation($id: ID!) {{ enableAccount(id: $id) {{ {PAYLOAD} }} }}"
DEMOTE = f"mutation($id: ID!) {{ changeAccountRole(id: $id, role: VIEWER) {{ {PAYLOAD} }} }}"
CREATE_ADMIN = (
    'mutation { createAccount(input: {username: "admin2", displayName: "Admin Two",'
    f' role: SUPER_ADMIN, initialPassword: "{PASSWORD}"}}) {{ {PAYLOAD} }} }}'
)


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def test_the_last_super_admin_can_be_neither_disabled_nor_demoted(
    gql: GraphQL, container: Container
) -> None:
    gql.login("admin")
    before = container.core_log.head()
    for document in (DISABLE, DEMOTE):
        payload = admin_mutation(gql, container, "admin", document, "admin")
        assert codes(payload) == ["LAST_SUPER_ADMIN"]
    assert container.core_log.head() == before
    assert gql(ME, as_user="admin")["data"]["me"] == {
        "username": "admin",
        "role": "SUPER_ADMIN",
        "enabled": True,
    }

    # With a second admin, either may go, but then the other one is the last.
    assert codes(gql(CREATE_ADMIN, as_user="admin")["data"]["createAccount"]) == []
    assert codes(admin_mutation(gql, container, "admin2", DEMOTE, "admin")) == []
    assert codes(admin_mutation(gql, container, "admin2", DISABLE, "admin2")) == [
        "LAST_SUPER_ADMIN"
    ]
    assert codes(admin_mutation(gql, container, "admin2", DEMOTE, "admin2")) == ["LAST_SUPER_ADMIN"]


def test_a_disabled_admin_enabled_again_counts_again(gql: GraphQL, container: Container) -> None:
    assert codes(gql(CREATE_ADMIN, as_user="admin")["data"]["createAccount"]) == []
    assert codes(admin_mutation(gql, container, "admin", DISABLE, "admin2")) == []
    assert codes(admin_mutation(gql, container, "admin", DISABLE, "admin")) == ["LAST_SUPER_ADMIN"]
    assert codes(admin_mutation(gql, container, "admin", ENABLE, "admin2")) == []
    assert codes(admin_mutation(gql, container, "admin", DEMOTE, "admin")) == []
    assert gql(ME, as_user="admin2")["data"]["me"]["role"] == "SUPER_ADMIN"
