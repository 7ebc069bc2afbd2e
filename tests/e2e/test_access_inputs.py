"""Bad input gets the documented error and changes nothing (the event count does not move).

Malformed documents and values are GraphQL errors with extensions.code BAD_USER_INPUT;
broken business rules come back as userErrors with a stable code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from domain.access.account import ROSTER_ID
from tests.e2e.access_world import World, open_world
from tests.helpers import PASSWORD, error_codes


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


PAYLOAD = "position userErrors { code message field }"
CREATE = (
    "mutation($in: CreateAccountInput!) { createAccount(input: $in) {"
    " account { username } position userErrors { code message field } } }"
)


def new_account_input(**changes: Any) -> dict[str, Any]:
    values = {
        "username": "fresh.user",
        "displayName": "Fresh User",
        "role": "VIEWER",
        "province": None,
        "initialPassword": "initial-password-1",
    }
    values.update(changes)
    return {"in": values}


@dataclass(frozen=True)
class Bad:
    """A request that must be refused: as a GraphQL error code, or as one userError."""

    id: str
    document: str
    variables: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # extensions.code of a GraphQL error
    user_error: str | None = None  # userErrors[0].code
    field: list[str] | None = None
    as_user: str = "admin"


# `{target}` is replaced by the id of a fresh VIEWER account.
CASES = [
    Bad("syntax error", "{ me { username }", error="BAD_USER_INPUT"),
    Bad("unknown field", "{ me { password_hash } }", error="BAD_USER_INPUT"),
    Bad("unknown operation", "{ dropAllTables }", error="BAD_USER_INPUT"),
    Bad("missing argument", "mutation { createAccount { position } }", error="BAD_USER_INPUT"),
    Bad(
        "wrong variable type",
        "query($id: ID!) { account(id: $id) { username } }",
        {"id": {"nested": True}},
        error="BAD_USER_INPUT",
    ),
    Bad(
        "missing variable",
        "query($id: ID!) { account(id: $id) { username } }",
        {},
        "BAD_USER_INPUT",
    ),
    Bad(
        "unknown role",
        CREATE,
        new_account_input(role="OVERLORD"),
        error="BAD_USER_INPUT",
    ),
    Bad(
        "unknown province (variable)",
        CREATE,
        new_account_input(role="PROVINCE_AGENT", province="XX"),
        error="BAD_USER_INPUT",
    ),
    Bad(
        "province with CN- prefix",
        CREATE,
        new_account_input(role="PROVINCE_AGENT", province="CN-GD"),
        error="BAD_USER_INPUT",
    ),
    Bad(
        "unknown province (literal)",
        'mutation { createAccount(input: {username: "lit.user", displayName: "L",'
        ' role: PROVINCE_AGENT, province: "ZZ", initialPassword: "initial-password-1"})'
        " { position } }",
        error="BAD_USER_INPUT",
    ),
    Bad(
        "unknown province in a role change",
        'mutation($id: ID!) { changeAccountRole(id: $id, role: PROVINCE_AGENT, province: "TW")'
        " { position } }",
        {"id": "{target}"},
        error="BAD_USER_INPUT",
    ),
    Bad(
        "unknown province in a filter",
        '{ accounts(province: "XX") { totalCount } }',
        error="BAD_USER_INPUT",
    ),
    Bad("invalid id (query)", '{ account(id: "not-an-id") { username } }', error="BAD_USER_INPUT"),
    Bad(
        "invalid id (mutation)",
        'mutation { disableAccount(id: "42; DROP TABLE core_events") { position } }',
        error="BAD_USER_INPUT",
    ),
    Bad("invalid cursor", '{ accounts(after: "forged") { totalCount } }', error="BAD_USER_INPUT"),
    Bad("negative first", "{ accounts(first: -1) { totalCount } }", error="BAD_USER_INPUT"),
    Bad(
        "negative afterPosition",
        "{ events(afterPosition: -5) { nodes { position } } }",
        error="BAD_USER_INPUT",
    ),
    Bad(
        "unknown audit stream type",
        '{ auditTrail(streamType: "Nope", streamId: "x") { nodes { type } } }',
        error="BAD_USER_INPUT",
    ),
    Bad(
        "duplicate username",
        CREATE,
        new_account_input(username="viewer"),
        user_error="USERNAME_TAKEN",
        field=["username"],
    ),
    Bad(
        "malformed username",
        CREATE,
        new_account_input(username="Has Space"),
        user_error="INVALID_USERNAME",
        field=["username"],
    ),
    Bad(
        "too short username",
        CREATE,
        new_account_input(username="ab"),
        user_error="INVALID_USERNAME",
        field=["username"],
    ),
    Bad(
        "short password",
        CREATE,
        new_account_input(initialPassword="short"),
        user_error="WEAK_PASSWORD",
        field=["initialPassword"],
    ),
    Bad(
        "password equal to the username",
        CREATE,
        new_account_input(username="long.username", initialPassword="Long.Username"),
        user_error="WEAK_PASSWORD",
        field=["initialPassword"],
    ),
    Bad(
        "province agent without province",
        CREATE,
        new_account_input(role="PROVINCE_AGENT"),
        user_error="PROVINCE_REQUIRED",
        field=["province"],
    ),
    Bad(
        "empty display name",
        CREATE,
        new_account_input(displayName="  "),
        user_error="INVALID_DISPLAY_NAME",
        field=["displayName"],
    ),
    Bad(
        "weak reset password",
        'mutation($id: ID!) { resetAccountPassword(id: $id, newPassword: "123")'
        " { position userErrors { code message field } } }",
        {"id": "{target}"},
        user_error="WEAK_PASSWORD",
        field=["newPassword"],
    ),
    Bad(
        "weak new own password",
        'mutation { changeMyPassword(currentPassword: "' + PASSWORD + '", newPassword: "short")'
        " { position userErrors { code message field } } }",
        user_error="WEAK_PASSWORD",
        field=["newPassword"],
        as_user="viewer",
    ),
    Bad(
        "same own password again",
        'mutation { changeMyPassword(currentPassword: "'
        + PASSWORD
        + '", newPassword: "'
        + PASSWORD
        + '") { position userErrors { code message field } } }',
        user_error="WEAK_PASSWORD",
        as_user="viewer",
        field=["newPassword"],
    ),
    Bad(
        "wrong current password",
        'mutation { changeMyPassword(currentPassword: "not-my-password", newPassword:'
        ' "a-brand-new-password") { position userErrors { code message field } } }',
        user_error="INVALID_CREDENTIALS",
        field=["currentPassword"],
        as_user="viewer",
    ),
    Bad(
        "unknown account",
        "mutation($id: ID!) { disableAccount(id: $id) { " + PAYLOAD + " } }",
        {"id": str(uuid.uuid4())},
        user_error="NOT_FOUND",
    ),
    # Every kind of record shares the event store: an id of another kind (here the roster of
    # super admins) is no account, not a crash (the GraphQL fuzz found these).
    *(
        Bad(
            f"an id of another kind of record ({name})",
            "mutation($id: ID!) { " + call + " { " + PAYLOAD + " } }",
            {"id": str(ROSTER_ID)},
            user_error="NOT_FOUND",
        )
        for name, call in [
            ("disable", "disableAccount(id: $id)"),
            ("enable", "enableAccount(id: $id)"),
            ("role", "changeAccountRole(id: $id, role: VIEWER)"),
            ("reset", 'resetAccountPassword(id: $id, newPassword: "a-new-password-2")'),
        ]
    ),
    Bad(
        "enable an enabled account",
        "mutation($id: ID!) { enableAccount(id: $id) { " + PAYLOAD + " } }",
        {"id": "{target}"},
        user_error="NO_CHANGE",
    ),
    Bad(
        "role change to the same role",
        "mutation($id: ID!) { changeAccountRole(id: $id, role: VIEWER)"
        " { position userErrors { code message field } } }",
        {"id": "{target}"},
        user_error="NO_CHANGE",
    ),
]


def resolve(world: World, variables: dict[str, Any]) -> dict[str, Any]:
    if "{target}" not in variables.values():
        return variables
    _, target = world.new_account()
    return {k: (target if v == "{target}" else v) for k, v in variables.items()}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_refused_and_changes_nothing(world: World, case: Bad) -> None:
    variables = resolve(world, case.variables)
    world.gql.tokens.get(case.as_user) or world.gql.login(case.as_user)
    before = world.head()
    result = world.gql(case.document, variables, as_user=case.as_user)
    assert world.head() == before, "a refused request stored events"
    if case.error is not None:
        assert result.get("errors"), result
        assert set(error_codes(result)) == {case.error}, result
        for error in result["errors"]:
            assert "Traceback" not in error["message"]
        return
    assert "errors" not in result, result
    (payload,) = result["data"].values()
    assert payload["position"] is None
    assert [e["code"] for e in payload["userErrors"]] == [case.user_error], payload
    if case.field is not None:
        assert payload["userErrors"][0]["field"] == case.field
    assert payload["userErrors"][0]["message"]


def test_an_id_of_another_kind_of_record_reads_as_no_account(world: World) -> None:
    result = world.gql(
        "query($id: ID!) { account(id: $id) { username } }", {"id": str(ROSTER_ID)}, "admin"
    )
    assert result == {"data": {"account": None}}


def test_oversize_body_is_refused_before_parsing(world: World) -> None:
    limit = world.container.settings.graphql_max_body_bytes
    before = world.head()
    padding = "x" * (limit + 1)
    response = world.client.post(
        "/graphql",
        json={"query": CREATE, "variables": new_account_input(displayName=padding)},
        headers={"Authorization": f"Bearer {world.gql.tokens['admin']}"},
    )
    assert response.status_code == 413
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    assert world.head() == before


def test_a_body_that_is_not_json_is_refused(world: World) -> None:
    before = world.head()
    response = world.client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert world.head() == before


def test_get_requests_cannot_run_mutations(world: World) -> None:
    before = world.head()
    response = world.client.get(
        "/graphql",
        params={
            "query": 'mutation { login(username: "admin", password: "x") { userErrors { code } } }'
        },
    )
    assert response.status_code in (400, 404, 405)
    assert world.head() == before


def test_a_refused_create_did_not_create_the_account(world: World) -> None:
    world.catch_up()
    result = world.gql("{ accounts(first: 500) { nodes { username } } }", as_user="admin")
    names = {n["username"] for n in result["data"]["accounts"]["nodes"]}
    assert not names & {"fresh.user", "lit.user", "long.username", "Has Space", "ab"}
