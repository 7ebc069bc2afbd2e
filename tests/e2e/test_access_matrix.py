"""Every account and audit operation × every role, over HTTP, driven by permissions.md.

Allowed: the operation answers with data. Forbidden: a GraphQL error with extensions.code
FORBIDDEN, no data, and not a single event stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from domain.access.permissions import Role
from tests.e2e.access_world import ROLE_USERS, World, open_world
from tests.helpers import PASSWORD, error_codes
from tests.permissions_doc import allowed, permission_rows


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


@dataclass(frozen=True)
class Call:
    """A request as some user, and how to recognise that it did its job."""

    document: str
    variables: dict[str, Any]
    as_user: str | None = None
    token: str | None = None
    succeeded: Callable[[Any], bool] = lambda data: data is not None
    writes: bool = False


Operation = Callable[[World, str], Call]


def me(w: World, user: str) -> Call:
    return Call(
        "{ me { username role } }",
        {},
        as_user=user,
        succeeded=lambda d: d["me"]["username"] == user,
    )


def login(w: World, user: str) -> Call:
    return Call(
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) {"
        " session { token expiresAt account { username } } userErrors { code } } }",
        {"u": user, "p": PASSWORD},
        succeeded=lambda d: (
            d["login"]["session"]["account"]["username"] == user and d["login"]["userErrors"] == []
        ),
        writes=True,
    )


def change_my_password(w: World, user: str) -> Call:
    # A fresh account of the same role: changing the password voids the seeded user's token.
    role, province = w.account(user).role, w.account(user).province
    username, _ = w.new_account("self", role, province)
    return Call(
        "mutation($c: String!, $n: String!) { changeMyPassword(currentPassword: $c,"
        " newPassword: $n) { account { username } position userErrors { code } } }",
        {"c": PASSWORD, "n": "another-good-password"},
        token=w.gql.login(username),
        succeeded=lambda d: (
            d["changeMyPassword"]["account"]["username"] == username
            and d["changeMyPassword"]["position"] > 0
        ),
        writes=True,
    )


def accounts(w: World, user: str) -> Call:
    w.catch_up()  # the list is a read model: make it current rather than race the runner
    return Call(
        "{ accounts(first: 100) { totalCount nodes { username role } pageInfo { hasNextPage } } }",
        {},
        as_user=user,
        succeeded=lambda d: d["accounts"]["totalCount"] >= len(ROLE_USERS),
    )


def account(w: World, user: str) -> Call:
    # Someone else's account: one's own is readable through `me` anyway.
    other = "auditor" if user != "auditor" else "admin"
    account_id = str(w.account(other).id)
    return Call(
        "query($id: ID!) { account(id: $id) { username role } }",
        {"id": account_id},
        as_user=user,
        succeeded=lambda d: d["account"]["username"] == other,
    )


def create_account(w: World, user: str) -> Call:
    username = f"created.by.{user}"
    return Call(
        "mutation($in: CreateAccountInput!) { createAccount(input: $in) {"
        " account { username role province enabled } position userErrors { code } } }",
        {
            "in": {
                "username": username,
                "displayName": "Created",
                "role": "PROVINCE_AGENT",
                "province": "SC",
                "initialPassword": "initial-password-1",
            }
        },
        as_user=user,
        succeeded=lambda d: (
            d["createAccount"]["account"]
            == {"username": username, "role": "PROVINCE_AGENT", "province": "SC", "enabled": True}
        ),
        writes=True,
    )


def change_account_role(w: World, user: str) -> Call:
    _, target = w.new_account()
    return Call(
        "mutation($id: ID!) { changeAccountRole(id: $id, role: AUDITOR, expectedVersion: 1) {"
        " account { role version } position userErrors { code } } }",
        {"id": target},
        as_user=user,
        succeeded=lambda d: d["changeAccountRole"]["account"] == {"role": "AUDITOR", "version": 2},
        writes=True,
    )


def disable_account(w: World, user: str) -> Call:
    _, target = w.new_account()
    return Call(
        'mutation($id: ID!) { disableAccount(id: $id, reason: "left") {'
        " account { enabled } userErrors { code } } }",
        {"id": target},
        as_user=user,
        succeeded=lambda d: d["disableAccount"]["account"] == {"enabled": False},
        writes=True,
    )


def enable_account(w: World, user: str) -> Call:
    username, target = w.new_account()
    w.container.access.disable(w.admin, w.account(username).id, None)
    return Call(
        "mutation($id: ID!) { enableAccount(id: $id) { account { enabled } userErrors { code } } }",
        {"id": target},
        as_user=user,
        succeeded=lambda d: d["enableAccount"]["account"] == {"enabled": True},
        writes=True,
    )


def reset_account_password(w: World, user: str) -> Call:
    _, target = w.new_account()
    return Call(
        "mutation($id: ID!) { resetAccountPassword(id: $id, newPassword: $p) {"
        " account { version } userErrors { code } } }".replace("$id: ID!", "$id: ID!, $p: String!"),
        {"id": target, "p": "reset-password-1"},
        as_user=user,
        succeeded=lambda d: d["resetAccountPassword"]["account"] == {"version": 2},
        writes=True,
    )


def events(w: World, user: str) -> Call:
    return Call(
        "{ events(first: 3) { nodes { position type actor { username } } pageInfo {"
        " hasNextPage endCursor } } }",
        {},
        as_user=user,
        succeeded=lambda d: [n["position"] for n in d["events"]["nodes"]] == [1, 2, 3],
    )


def audit_trail(w: World, user: str) -> Call:
    return Call(
        '{ auditTrail(streamType: "Account", streamId: "viewer") { nodes { type version } } }',
        {},
        as_user=user,
        succeeded=lambda d: d["auditTrail"]["nodes"][0] == {"type": "AccountCreated", "version": 1},
    )


def projections(w: World, user: str) -> Call:
    return Call(
        "{ projections { name position lag } }",
        {},
        as_user=user,
        succeeded=lambda d: "accounts" in {p["name"] for p in d["projections"]},
    )


OPERATIONS: dict[str, Operation] = {
    "me": me,
    "login": login,
    "changeMyPassword": change_my_password,
    "accounts": accounts,
    "account": account,
    "createAccount": create_account,
    "changeAccountRole": change_account_role,
    "disableAccount": disable_account,
    "enableAccount": enable_account,
    "resetAccountPassword": reset_account_password,
    "events": events,
    "auditTrail": audit_trail,
    "projections": projections,
}


def test_the_matrix_covers_every_role_of_the_document() -> None:
    roles, _ = permission_rows()
    assert set(roles) == set(ROLE_USERS) == {r.value for r in Role}


@pytest.mark.parametrize("role", list(ROLE_USERS))
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_operation_by_role(world: World, operation: str, role: str) -> None:
    user = ROLE_USERS[role]
    call = OPERATIONS[operation](world, user)
    before = world.head()
    result = world.gql(call.document, call.variables, as_user=call.as_user, token=call.token)
    if allowed(operation, role):
        assert "errors" not in result, result
        assert call.succeeded(result["data"]), result
        if call.writes:
            assert world.head() > before
        return
    assert error_codes(result) == ["FORBIDDEN"], result
    assert result["data"] is None or set(result["data"].values()) == {None}, result
    assert world.head() == before, "a forbidden request stored events"


def test_forbidden_create_left_no_account(world: World) -> None:
    world.catch_up()
    result = world.gql(
        "{ accounts(first: 500) { nodes { username } } }", as_user=ROLE_USERS["SUPER_ADMIN"]
    )
    created = {n["username"] for n in result["data"]["accounts"]["nodes"]} & {
        f"created.by.{u}" for u in ROLE_USERS.values()
    }
    assert created <= {"created.by.admin"}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_every_operation_needs_a_session_except_login(world: World, operation: str) -> None:
    call = OPERATIONS[operation](world, ROLE_USERS["SUPER_ADMIN"])
    if operation == "login":
        return
    before = world.head()
    result = world.gql(call.document, call.variables, token=None)
    assert error_codes(result) == ["UNAUTHENTICATED"], result
    assert world.head() == before
