"""Audit over HTTP: the global event feed and per-stream trails show who did what, and never
a password hash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.access_world import World, open_world
from tests.helpers import PASSWORD

NODE = (
    "position streamType streamId version type occurredAt reason ticketId data"
    " actor { username role }"
)


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


@pytest.fixture(scope="module")
def history(world: World) -> dict[str, Any]:
    """One account taken through every kind of change by the admin and by itself."""
    start = world.head()
    gql = world.gql
    created = gql(
        'mutation { createAccount(input: {username: "audited", displayName: "Audited",'
        f' role: VIEWER, initialPassword: "{PASSWORD}"}}) {{ account {{ id }} }} }}',
        as_user="admin",
    )
    account_id = created["data"]["createAccount"]["account"]["id"]
    for document in [
        'mutation($id: ID!) { changeAccountRole(id: $id, role: PROVINCE_AGENT, province: "GD")'
        " { position } }",
        'mutation($id: ID!) { resetAccountPassword(id: $id, newPassword: "reset-password-1")'
        " { position } }",
        'mutation($id: ID!) { disableAccount(id: $id, reason: "on leave") { position } }',
        "mutation($id: ID!) { enableAccount(id: $id) { position } }",
    ]:
        assert "errors" not in gql(document, {"id": account_id}, as_user="admin")
    token = gql.login("audited", "reset-password-1")
    gql(
        'mutation { changeMyPassword(currentPassword: "reset-password-1",'
        ' newPassword: "my-own-password-1") { position } }',
        token=token,
    )
    hashes = {world.account("audited").password_hash}
    return {"start": start, "id": account_id, "hashes": hashes}


def test_the_trail_tells_the_whole_story_with_actors(world: World, history: dict[str, Any]) -> None:
    result = world.gql(
        f'{{ auditTrail(streamType: "Account", streamId: "audited") {{ nodes {{ {NODE} }} }} }}',
        as_user="auditor",
    )
    nodes = result["data"]["auditTrail"]["nodes"]
    assert [(n["version"], n["type"], (n["actor"] or {}).get("username")) for n in nodes] == [
        (1, "AccountCreated", "admin"),
        (2, "RoleChanged", "admin"),
        (3, "PasswordReset", "admin"),
        (4, "AccountDisabled", "admin"),
        (5, "AccountEnabled", "admin"),
        (6, "LoginSucceeded", "audited"),
        (7, "PasswordChanged", "audited"),
    ]
    assert {(n["streamType"], n["streamId"]) for n in nodes} == {("Account", "audited")}
    assert nodes[0]["actor"]["role"] == "SUPER_ADMIN"
    assert nodes[3]["reason"] == "on leave"
    assert nodes[1]["data"]["role"] == "PROVINCE_AGENT"
    assert nodes[1]["data"]["previous_role"] == "VIEWER"
    positions = [n["position"] for n in nodes]
    assert positions == sorted(positions) and positions[0] > history["start"]


def test_the_trail_can_be_asked_by_id_too(world: World, history: dict[str, Any]) -> None:
    by_id = world.gql(
        'query($id: ID!) { auditTrail(streamType: "Account", streamId: $id) {'
        " nodes { version } } }",
        {"id": history["id"]},
        as_user="admin",
    )
    assert len(by_id["data"]["auditTrail"]["nodes"]) == 7


@pytest.mark.parametrize("as_user", ["admin", "auditor"])
def test_no_password_hash_ever_leaves_the_server(
    world: World, history: dict[str, Any], as_user: str
) -> None:
    responses = [
        world.client.post(
            "/graphql",
            json={"query": f"{{ events(first: 500) {{ nodes {{ {NODE} }} }} }}"},
            headers={"Authorization": f"Bearer {world.gql.tokens[as_user]}"},
        ),
        world.client.post(
            "/graphql",
            json={
                "query": f'{{ auditTrail(streamType: "Account", streamId: "audited")'
                f" {{ nodes {{ {NODE} }} }} }}"
            },
            headers={"Authorization": f"Bearer {world.gql.tokens[as_user]}"},
        ),
    ]
    for response in responses:
        assert response.status_code == 200
        text = response.text
        assert "$argon2" not in text
        for secret in history["hashes"]:
            assert secret not in text
    nodes = responses[1].json()["data"]["auditTrail"]["nodes"]
    by_type = {n["type"]: n["data"] for n in nodes}
    for kind in ("AccountCreated", "PasswordReset", "PasswordChanged"):
        assert by_type[kind]["password_hash"] == "[REDACTED]"


def test_the_feed_is_in_store_order_and_pages_by_position(
    world: World, history: dict[str, Any]
) -> None:
    seen: list[int] = []
    after = history["start"]
    while True:
        result = world.gql(
            "query($after: Int) { events(afterPosition: $after, first: 4) {"
            " nodes { position type streamType streamId } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
            as_user="auditor",
        )
        page = result["data"]["events"]
        seen += [n["position"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = int(page["pageInfo"]["endCursor"])
    assert seen == list(range(history["start"] + 1, seen[-1] + 1))


def test_the_feed_names_account_streams_by_username(world: World, history: dict[str, Any]) -> None:
    result = world.gql(
        "query($after: Int) { events(afterPosition: $after, first: 1) {"
        " nodes { type streamType streamId actor { username } } } }",
        {"after": history["start"]},
        as_user="auditor",
    )
    (node,) = result["data"]["events"]["nodes"]
    assert node == {
        "type": "AccountCreated",
        "streamType": "Account",
        "streamId": "audited",
        "actor": {"username": "admin"},
    }


def test_the_feed_filters_by_event_type(world: World, history: dict[str, Any]) -> None:
    result = world.gql(
        '{ events(first: 500, types: ["AccountDisabled", "AccountEnabled"]) {'
        " nodes { type streamId reason } } }",
        as_user="auditor",
    )
    nodes = result["data"]["events"]["nodes"]
    assert {n["type"] for n in nodes} <= {"AccountDisabled", "AccountEnabled"}
    assert {"type": "AccountDisabled", "streamId": "audited", "reason": "on leave"} in nodes
    unknown = world.gql('{ events(types: ["NoSuchEvent"]) { nodes { type } } }', as_user="auditor")
    assert unknown["data"]["events"]["nodes"] == []


def test_operator_changes_have_no_account_as_actor(world: World) -> None:
    # The seeded accounts were made by the operator CLI, not by an account.
    result = world.gql(
        "{ events(first: 1) { nodes { type actor { username } data } } }", as_user="auditor"
    )
    (node,) = result["data"]["events"]["nodes"]
    assert node["type"] == "AccountCreated" and node["actor"] is None


def test_trail_pages_with_opaque_cursors(world: World, history: dict[str, Any]) -> None:
    versions: list[int] = []
    after = None
    while True:
        result = world.gql(
            'query($after: String) { auditTrail(streamType: "Account", streamId: "audited",'
            " first: 3, after: $after) { nodes { version } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
            as_user="auditor",
        )
        page = result["data"]["auditTrail"]
        versions += [n["version"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert versions == list(range(1, 8))


def test_an_unknown_stream_has_an_empty_trail(world: World) -> None:
    result = world.gql(
        '{ auditTrail(streamType: "Account", streamId: "never.existed") { nodes { type } } }',
        as_user="auditor",
    )
    assert result["data"]["auditTrail"]["nodes"] == []


def test_projection_status_shows_position_and_lag(world: World, history: dict[str, Any]) -> None:
    world.catch_up()
    result = world.gql("{ projections { name position lag updatedAt } }", as_user="auditor")
    status = {p["name"]: p for p in result["data"]["projections"]}["accounts"]
    assert status["position"] == world.head() - status["lag"]
    assert status["lag"] == 0
    assert status["updatedAt"] is not None
