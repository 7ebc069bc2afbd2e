"""The audit services with fakes: who may read what (permissions.md), which store a trail
comes from, state as of a time through the timeline, redaction of whole states."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.audit.as_of import AsOfService, aggregate_state
from application.audit.service import AuditService
from application.ports import RecordedEvent
from domain.access.account import Account, account_id_for
from domain.access.permissions import Role
from domain.audit.redaction import redact
from domain.audit.replay import event_time
from domain.shared import SYSTEM_ACTOR, ChangeMeta, PermissionDeniedError, ValidationError
from tests.permissions_doc import allowed
from tests.subscriber_helpers import MEMORY_ENV, PRINCIPALS, MemoryCore

ROLE_OF = {
    "SUPER_ADMIN": "admin",
    "SECOND_LINE_AGENT": "second",
    "PROVINCE_AGENT": "gd.agent",
    "VIEWER": "viewer",
    "AUDITOR": "auditor",
    "INTEGRATION": "platform",
}


class FakeLog:
    """An EventLog over a list of recorded events."""

    def __init__(self, recorded: Sequence[RecordedEvent] = ()) -> None:
        self.recorded = list(recorded)
        self.asked: list[str] = []

    def feed(self, after: int, limit: int, topics: Sequence[str] = ()) -> list[RecordedEvent]:
        self.asked.append("feed")
        found = [r for r in self.recorded if r.position > after]
        return [r for r in found if not topics or r.topic in topics][:limit]

    def stream(
        self, originator_id: Any, after_version: int, limit: int, descending: bool = False
    ) -> list[RecordedEvent]:
        self.asked.append("stream")
        found = [
            r
            for r in self.recorded
            if r.event.originator_id == originator_id and r.event.originator_version > after_version
        ]
        return found[:limit]

    def head(self) -> int:
        return len(self.recorded)

    def first_position(self, originator_id: Any) -> int | None:
        return None


class FakeCheckpoints:
    def checkpoints(self, before_position: int | None, limit: int) -> list[Any]:
        return []


def account_history() -> tuple[MemoryCore, list[RecordedEvent], list[datetime]]:
    store = MemoryCore(env=MEMORY_ENV)
    account = Account.register(
        username="alice",
        display_name="Alice",
        role=Role.VIEWER,
        province=None,
        password_hash="$argon2id$secret",
        meta=ChangeMeta(SYSTEM_ACTOR),
    )
    account.change_role(Role.AUDITOR, None, ChangeMeta(SYSTEM_ACTOR, reason="promoted"))
    store.save(account)
    events = list(store.events.get(account.id))
    recorded = [RecordedEvent(i + 1, type(e).TOPIC, e) for i, e in enumerate(events)]
    return store, recorded, [e.timestamp for e in events]


@pytest.mark.parametrize("role", list(ROLE_OF))
def test_the_feed_trails_and_checkpoints_follow_permissions_md(role: str) -> None:
    _, recorded, _ = account_history()
    service = AuditService(FakeLog(recorded), FakeLog(), FakeCheckpoints())
    who = PRINCIPALS[ROLE_OF[role]]
    calls = {
        "events": lambda: service.events(who, 0, 10),
        "auditTrail": lambda: service.trail(who, "Account", "alice", 0, 10),
        "auditCheckpoints": lambda: service.checkpoints(who, None, 10),
    }
    for operation, call in calls.items():
        if allowed(operation, role):
            call()
        else:
            with pytest.raises(PermissionDeniedError):
                call()


def test_a_trail_comes_from_the_store_that_keeps_its_type() -> None:
    core, feed = FakeLog(), FakeLog()
    service = AuditService(core, feed)
    auditor = PRINCIPALS["auditor"]
    service.trail(auditor, "PlatformBatch", str(uuid.uuid4()), 0, 10)
    service.trail(auditor, "Ticket", str(uuid.uuid4()), 0, 10)
    assert (core.asked, feed.asked) == (["stream"], ["stream"])
    service.events(auditor, 0, 10, store="feed")
    assert feed.asked[-1] == "feed"
    with pytest.raises(ValidationError):
        service.events(auditor, 0, 10, store="elsewhere")
    with pytest.raises(ValidationError):
        service.trail(auditor, "Nonsense", "x", 0, 10)


def test_a_trail_of_an_id_of_another_type_is_empty_and_hashes_are_redacted() -> None:
    _, recorded, _ = account_history()
    service = AuditService(FakeLog(recorded))
    auditor = PRINCIPALS["auditor"]
    assert service.trail(auditor, "Ticket", str(account_id_for("alice")), 0, 10) == []
    entries = service.trail(auditor, "Account", "alice", 0, 10)
    assert [e.type for e in entries] == ["AccountCreated", "RoleChanged"]
    assert entries[0].data["password_hash"] == "[REDACTED]"
    assert entries[1].reason == "promoted"


class FakeTimeline:
    def __init__(self, times: list[datetime]) -> None:
        self.times = times

    def version_at(self, originator_id: Any, at: datetime) -> int | None:
        versions = [v for v, t in enumerate(self.times, 1) if t <= at]
        return versions[-1] if versions else None


def test_state_as_of_rebuilds_the_version_the_timeline_names() -> None:
    store, _, times = account_history()
    service = AsOfService(store, store, FakeTimeline(times), FakeTimeline([]))
    auditor = PRINCIPALS["auditor"]
    first = service.account_as_of(auditor, account_id_for("alice"), times[0])
    assert first is not None and (first.version, first.role) == (1, Role.VIEWER)
    now = service.account_as_of(auditor, account_id_for("alice"), times[1] + timedelta(days=1))
    assert now is not None and now.role is Role.AUDITOR
    assert service.account_as_of(auditor, account_id_for("alice"), times[0] - timedelta(1)) is None
    state = service.state_as_of(auditor, "Account", "alice", None)
    assert state is not None and state["password_hash"] == "[REDACTED]"
    assert state["version"] == 2 and state["type"] == "Account"
    assert service.state_as_of(auditor, "Faq", str(account_id_for("alice")), None) is None
    with pytest.raises(PermissionDeniedError):
        service.account_as_of(PRINCIPALS["second"], account_id_for("alice"), times[0])
    with pytest.raises(PermissionDeniedError):
        service.state_as_of(PRINCIPALS["viewer"], "Account", "alice", None)


def test_redaction_reaches_every_depth_and_whole_states() -> None:
    nested = {"a": [{"password_hash": "x", "ok": 1}], "token": "t", "key_hash": "k"}
    assert redact(nested) == {
        "a": [{"password_hash": "[REDACTED]", "ok": 1}],
        "token": "[REDACTED]",
        "key_hash": "[REDACTED]",
    }
    store, _, _ = account_history()
    state = aggregate_state(store.repository.get(account_id_for("alice")))
    assert "$argon2" not in str(state)


def test_an_events_time_is_its_commands_at_where_it_has_one() -> None:
    class Event:
        timestamp = datetime(2026, 1, 2, tzinfo=UTC)

    event = Event()
    assert event_time(event) == Event.timestamp
    event.at = datetime(2026, 1, 1, tzinfo=UTC)  # type: ignore[attr-defined]
    assert event_time(event) == datetime(2026, 1, 1, tzinfo=UTC)
