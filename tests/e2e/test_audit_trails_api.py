"""Audit over HTTP for issue 8: a trail for every aggregate type (by natural key where there is
one), the feed store's events, hash-chain checkpoints newest first, accountAsOf and any stream's
state at a time; secrets redacted everywhere; who may ask, per permissions.md."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.history.records import RecordKind
from tests.audit_world import History
from tests.e2e.access_world import ROLE_USERS, World, open_world
from tests.helpers import error_codes
from tests.history_helpers import record
from tests.permissions_doc import allowed

TRAIL = (
    "query($t: String!, $id: ID!) { auditTrail(streamType: $t, streamId: $id, first: 500) {"
    " nodes { position streamType streamId version type occurredAt reason ticketId data"
    " actor { username } } } }"
)


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        w.container.engine.projections["audit"].seal_every = 3  # type: ignore[attr-defined]
        yield w


@pytest.fixture(scope="module")
def story(world: World) -> dict[str, Any]:
    """One stream of every core type, a platform batch, and the times in between."""
    history = History(world.container, world.admin)
    before = datetime.now(UTC)
    history.play(
        [
            ("account.create", 0, 0),
            ("subscriber.register", 0, 0),
            ("subscriber.password", 0, 1),
            ("subscriber.alias", 0, 2),
            ("ticket.draft", 0, 0),
            ("ticket.submit", 0, 0),
            ("announcement.publish", 0, 0),
            ("faq.create", 0, 0),
            ("contact.add", 0, 0),
            ("account.role", 0, 1),
        ]
    )
    batch = world.container.history.ingest_records(
        world.admin,
        source="gw",
        batch_id="audit-e2e",
        kind=RecordKind.SMS,
        records=[record(RecordKind.SMS)],
    )
    world.container.engine.catch_up("audit")
    return {"history": history, "before": before, "batch_position": batch.position}


def trail(world: World, stream_type: str, stream_id: str, user: str = "auditor") -> list[Any]:
    result = world.gql(TRAIL, {"t": stream_type, "id": stream_id}, as_user=user)
    assert "errors" not in result, result
    nodes: list[Any] = result["data"]["auditTrail"]["nodes"]
    return nodes


def test_every_core_aggregate_type_has_a_trail(world: World, story: dict[str, Any]) -> None:
    streams = story["history"].streams
    expected = {
        "Account": (streams["account"][0][0], "AccountCreated"),
        "Subscriber": (streams["subscriber"][0][0], "MailboxRegistered"),
        "Ticket": (streams["ticket"][0][0], "TicketDrafted"),
        "Announcement": (streams["announcement"][0][0], "AnnouncementPublished"),
        "Faq": (streams["faq"][0][0], "FaqCreated"),
        "SupportContact": (streams["contact"][0][0], "SupportContactAdded"),
        "AliasClaim": (f"al{story['history'].run}v2", "AliasClaimed"),
    }
    for stream_type, (stream_id, first_type) in expected.items():
        nodes = trail(world, stream_type, stream_id)
        assert nodes, stream_type
        assert nodes[0]["type"] == first_type and nodes[0]["version"] == 1
        assert {(n["streamType"], n["streamId"]) for n in nodes} == {(stream_type, stream_id)}
        assert nodes[0]["actor"] == {"username": "admin"}
    # The streams with no natural key of their own, found through the feed.
    feed = world.gql(
        '{ events(first: 500, types: ["RosterStarted", "TicketNumberIssued"]) {'
        " nodes { streamType streamId } } }",
        as_user="auditor",
    )["data"]["events"]["nodes"]
    for node in feed:
        assert trail(world, node["streamType"], node["streamId"])


def test_a_subscriber_trail_uses_the_msisdn_and_hides_the_password_hash(
    world: World, story: dict[str, Any]
) -> None:
    msisdn = story["history"].streams["subscriber"][0][0]
    nodes = trail(world, "Subscriber", msisdn)
    assert [n["type"] for n in nodes] == ["MailboxRegistered", "PasswordChanged", "AliasChanged"]
    assert nodes[1]["data"]["password_hash"] == "[REDACTED]"
    subscriber_id = str(story["history"].streams["subscriber"][0][1])
    by_id = trail(world, "Subscriber", subscriber_id)
    assert [n["version"] for n in by_id] == [1, 2, 3]
    assert {n["streamId"] for n in by_id} == {msisdn}  # named by its natural key all the same


def test_an_id_of_another_type_has_no_trail(world: World, story: dict[str, Any]) -> None:
    ticket_id = story["history"].streams["ticket"][0][0]
    assert trail(world, "Faq", ticket_id) == []
    bad = world.gql(TRAIL, {"t": "Nonsense", "id": ticket_id}, as_user="auditor")
    assert error_codes(bad) == ["BAD_USER_INPUT"]


def test_platform_batches_have_trails_and_a_feed_of_their_own(
    world: World, story: dict[str, Any]
) -> None:
    result = world.gql(
        "{ events(store: FEED, first: 500) { nodes { position streamType streamId type } } }",
        as_user="auditor",
    )
    nodes = result["data"]["events"]["nodes"]
    assert nodes and {n["streamType"] for n in nodes} == {"PlatformBatch"}
    assert nodes[-1]["position"] == story["batch_position"]
    batch = trail(world, "PlatformBatch", nodes[-1]["streamId"])
    assert batch[0]["type"] == "BatchReceived"


def test_checkpoints_are_listed_newest_first_and_page(world: World, story: dict[str, Any]) -> None:
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        result = world.gql(
            "query($after: String) { auditCheckpoints(first: 2, after: $after) {"
            " nodes { position chainHash sealedAt } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
            as_user="auditor",
        )
        page = result["data"]["auditCheckpoints"]
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    positions = [c["position"] for c in seen]
    assert len(positions) >= 3 and positions == sorted(positions, reverse=True)
    assert all(len(c["chainHash"]) == 64 for c in seen)
    report = world.container.audit_verifier.verify({c["position"]: c["chainHash"] for c in seen})
    assert report.intact and report.anchors_checked == len(seen)


def test_account_as_of_shows_the_account_as_it_was(world: World, story: dict[str, Any]) -> None:
    history = story["history"]
    username, account_id = history.streams["account"][0]
    query = (
        "query($id: ID!, $at: DateTime!) { accountAsOf(id: $id, at: $at) {"
        " username role province version } }"
    )
    created, changed = [r for r in history.recorded if r.stream_id == username]
    for seen in (created, changed):
        result = world.gql(
            query, {"id": str(account_id), "at": seen.at.isoformat()}, as_user="admin"
        )
        account = result["data"]["accountAsOf"]
        assert (account["role"], account["version"]) == (
            seen.state["role_value"],
            seen.state["version"],
        )
    assert created.state["role_value"] != changed.state["role_value"]
    before = world.gql(
        query, {"id": str(account_id), "at": story["before"].isoformat()}, as_user="auditor"
    )
    assert before["data"]["accountAsOf"] is None


def test_stream_state_as_of_is_the_whole_redacted_state(
    world: World, story: dict[str, Any]
) -> None:
    for seen in story["history"].recorded:
        result = world.gql(
            "query($t: String!, $id: ID!, $at: DateTime) {"
            " streamStateAsOf(streamType: $t, streamId: $id, at: $at) }",
            {"t": seen.stream_type, "id": seen.stream_id, "at": seen.at.isoformat()},
            as_user="auditor",
        )
        assert result["data"]["streamStateAsOf"] == seen.state
    assert "$argon2" not in str(story["history"].recorded)


def _calls(world: World) -> dict[str, tuple[str, dict[str, Any]]]:
    account_id = str(world.principals["viewer"].account_id)
    now = datetime.now(UTC).isoformat()
    return {
        "events": ("{ events(first: 1) { nodes { position } } }", {}),
        "auditTrail": (TRAIL, {"t": "Account", "id": "viewer"}),
        "auditCheckpoints": ("{ auditCheckpoints { nodes { position } } }", {}),
        "accountAsOf": (
            "query($id: ID!, $at: DateTime!) { accountAsOf(id: $id, at: $at) { username } }",
            {"id": account_id, "at": now},
        ),
        "streamStateAsOf": (
            'query($at: DateTime) { streamStateAsOf(streamType: "Account", streamId: "viewer",'
            " at: $at) }",
            {"at": now},
        ),
    }


@pytest.mark.parametrize("role", list(ROLE_USERS))
@pytest.mark.parametrize(
    "operation", ["events", "auditTrail", "auditCheckpoints", "accountAsOf", "streamStateAsOf"]
)
def test_who_may_read_the_audit(
    world: World, story: dict[str, Any], operation: str, role: str
) -> None:
    document, variables = _calls(world)[operation]
    before = world.head()
    result = world.gql(document, variables, as_user=ROLE_USERS[role])
    if allowed(operation, role):
        assert "errors" not in result, result
        assert result["data"][operation] is not None
    else:
        assert error_codes(result) == ["FORBIDDEN"], result
    assert world.head() == before
    anonymous = world.gql(document, variables)
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


def test_the_audit_projection_keeps_up_live(world: World, story: dict[str, Any]) -> None:
    """The live runner, not only catch_up, chains new events."""
    world.new_account("live")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        report = world.container.audit_verifier.verify()
        if report.unchained == 0:
            break
        time.sleep(0.1)
    assert report.intact and report.unchained == 0
