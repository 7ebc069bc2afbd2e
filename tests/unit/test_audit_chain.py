"""The hash chain, event times, the export line format and anchors: pure functions, no I/O."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from domain.access.account import Account
from domain.access.permissions import Role
from infra.audit_export import export_line, readable
from infra.audit_verify import load_anchors
from infra.bootstrap import offline_mapper
from projections.audit.chain import EPOCH, GENESIS, chain_link, event_times, load_state

ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
ROW = (1, ID.bytes, 1, "spoa.access:Account.AccountCreated", b'{"a":1}')


def test_a_link_is_sha256_of_the_previous_link_and_the_row() -> None:
    first = chain_link(GENESIS, *ROW)
    assert len(first) == 32
    assert chain_link(GENESIS, *ROW) == first  # deterministic
    assert chain_link(first, *ROW) != first  # depends on the previous link


@given(
    field=st.sampled_from(["position", "originator", "version", "topic", "state"]),
    salt=st.integers(1, 1000),
)
def test_changing_any_part_of_a_row_changes_its_link(field: str, salt: int) -> None:
    position, originator, version, topic, state = ROW
    changed = {
        "position": (position + salt, originator, version, topic, state),
        "originator": (position, uuid.uuid4().bytes, version, topic, state),
        "version": (position, originator, version + salt, topic, state),
        "topic": (position, originator, version, topic + str(salt), state),
        "state": (position, originator, version, topic, state + str(salt).encode()),
    }[field]
    assert chain_link(GENESIS, *changed) != chain_link(GENESIS, *ROW)


def test_topic_and_state_boundaries_cannot_be_shifted() -> None:
    # Length prefixes: moving bytes from the topic into the state gives another link.
    a = chain_link(GENESIS, 1, ID.bytes, 1, "ab", b"c")
    b = chain_link(GENESIS, 1, ID.bytes, 1, "a", b"bc")
    assert a != b


def test_event_time_is_the_commands_at_where_there_is_one() -> None:
    stamp = {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05+00:00"}
    at = {"_type_": "datetime_iso", "_data_": "2025-12-31T23:00:00+08:00"}
    assert event_times({"timestamp": stamp}) == (
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    occurred, recorded = event_times({"timestamp": stamp, "at": at})
    assert occurred == datetime(2025, 12, 31, 15, 0, tzinfo=UTC)
    assert recorded == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    naive = {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05"}
    assert event_times({"timestamp": naive})[0].tzinfo is not None
    assert event_times(load_state(b"not json")) == (EPOCH, EPOCH)
    assert event_times({"at": "yesterday"}) == (EPOCH, EPOCH)


def test_readable_unwraps_transcoder_markers() -> None:
    stored = {
        "when": {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05+00:00"},
        "who": {"_type_": "uuid_hex", "_data_": ID.hex},
        "list": [{"_type_": "decimal_str", "_data_": "1.50"}],
        "plain": {"_type_": "not a marker", "other": 1, "_data_": 2},
    }
    assert readable(stored) == {
        "when": "2026-01-02T03:04:05+00:00",
        "who": str(ID),
        "list": ["1.50"],
        "plain": {"_type_": "not a marker", "other": 1, "_data_": 2},
    }


def _created_account_line() -> dict[str, object]:
    account = Account.register(
        username="alice",
        display_name="Alice",
        role=Role.VIEWER,
        province=None,
        password_hash="$argon2id$v=19$secret",
        meta={
            "actor": {"account_id": "a1", "username": "admin", "role": "SUPER_ADMIN"},
            "reason": "new hire",
            "ticket_id": "T-1",
            "correlation_id": "cid",
        },
    )
    stored = offline_mapper().to_stored_event(account.collect_events()[0])
    state = load_state(stored.state)
    assert state is not None
    return export_line(7, stored.originator_id, 1, stored.topic, state, "alice")


def test_an_export_line_names_the_stream_type_actor_and_why_and_hides_the_hash() -> None:
    line = _created_account_line()
    assert line["stream"] == "Account/alice"
    assert (line["position"], line["version"], line["type"]) == (7, 1, "AccountCreated")
    assert line["actor"] == {"account_id": "a1", "username": "admin", "role": "SUPER_ADMIN"}
    assert (line["reason"], line["ticket_id"], line["correlation_id"]) == ("new hire", "T-1", "cid")
    assert line["data"]["password_hash"] == "[REDACTED]"  # type: ignore[index]
    assert line["stored"]["password_hash"] == "[REDACTED]"  # type: ignore[index]
    assert "argon2" not in json.dumps(line)
    assert line["time"] == line["recorded_at"]


def test_anchors_load_from_a_graphql_response_a_list_or_ndjson() -> None:
    response = {
        "data": {
            "auditCheckpoints": {
                "nodes": [{"position": 9, "chainHash": "AB"}, {"position": 3, "chainHash": "cd"}]
            }
        }
    }
    assert load_anchors(json.dumps(response)) == {9: "ab", 3: "cd"}
    assert load_anchors(json.dumps([{"position": 1, "chain_hash": "ef"}])) == {1: "ef"}
    assert load_anchors('{"position": 1, "chainHash": "a"}\n{"position": 2, "chainHash": "b"}') == {
        1: "a",
        2: "b",
    }
