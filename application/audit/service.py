"""Audit queries straight from the event stores (the source of truth), with secrets redacted.

Every aggregate type has a trail: core streams from the core store, platform batches from the
feed store. An event's time is when it happened: the command's `at` where the event carries one
(tickets, announcements, some subscriber changes), else the time the store recorded it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from application.audit.ports import CheckpointLog, SealedCheckpoint
from application.authz import Principal
from application.consistency import wait_until_applied
from application.ports import EventLog, ReadModelWaiter, RecordedEvent
from domain.access.permissions import Permission
from domain.audit.catalogue import (
    FEED_STREAM_TYPES,
    NATURAL_KEYS,
    event_type_of_topic,
    resolve_stream,
    stream_type_of_topic,
    topics_for_types,
)
from domain.audit.redaction import redact
from domain.audit.replay import event_time
from domain.shared import ChangeMeta, ValidationError

_ENVELOPE_KEYS = frozenset({"originator_id", "originator_version", "timestamp", "meta"})
# What an event stored without metadata reads as: no actor, no reason, no ticket.
_NO_META = ChangeMeta.from_dict({})


def jsonable(value: Any) -> Any:
    """Plain JSON values for events and aggregate state (value objects become objects)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if hasattr(value, "value") and hasattr(value, "name"):  # enums
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@dataclass(frozen=True)
class AuditEntry:
    position: int
    stream_type: str
    stream_id: str
    version: int
    type: str
    occurred_at: datetime
    actor_id: str | None
    actor_username: str | None
    reason: str | None
    ticket_id: str | None
    correlation_id: str | None
    data: dict[str, Any]


def to_entry(recorded: RecordedEvent, stream_id: str) -> AuditEntry:
    event = recorded.event
    state = dict(vars(event))
    meta = state.get("meta")
    if not isinstance(meta, ChangeMeta):
        meta = _NO_META
    data = {k: v for k, v in state.items() if k not in _ENVELOPE_KEYS}
    return AuditEntry(
        position=recorded.position,
        stream_type=stream_type_of_topic(recorded.topic),
        stream_id=stream_id,
        version=event.originator_version,
        type=event_type_of_topic(recorded.topic),
        occurred_at=event_time(event),
        actor_id=meta.actor.account_id or None,
        actor_username=meta.actor.username or None,
        reason=meta.reason,
        ticket_id=meta.ticket_id,
        correlation_id=meta.correlation_id,
        data=jsonable(redact(data)),
    )


#: The read model of the hash chain's checkpoints (projections/audit/chain.py).
AUDIT_CHAIN_PROJECTION = "audit"


class AuditService:
    def __init__(
        self,
        core: EventLog,
        feed: EventLog | None = None,
        checkpoint_log: CheckpointLog | None = None,
        waiter: ReadModelWaiter | None = None,
    ) -> None:
        self.core = core
        self.feed = feed
        self.checkpoint_log = checkpoint_log
        self.waiter = waiter
        # Natural keys never change once created, so they are safe to remember.
        self._keys: dict[UUID, str] = {}

    def log_of(self, store: str) -> EventLog:
        if store == "feed" and self.feed is not None:
            return self.feed
        if store == "core":
            return self.core
        raise ValidationError(f"unknown store {store!r}; one of core, feed", field=["store"])

    def events(
        self,
        principal: Principal,
        after_position: int,
        limit: int,
        types: Sequence[str] | None = None,
        store: str = "core",
    ) -> list[AuditEntry]:
        principal.require(Permission.AUDIT_READ)
        log = self.log_of(store)
        topics: list[str] = []
        if types:
            topics = topics_for_types(list(types))
            if not topics:
                return []
        recorded = log.feed(after_position, limit, topics)
        return [self.entry(r) for r in recorded]

    async def wait_for_checkpoints(self, principal: Principal, consistent_with: int | None) -> None:
        """Before `checkpoints`: until the hash chain has applied `consistent_with` (a
        service without the checkpoint read model has nothing to wait for)."""
        principal.require(Permission.AUDIT_READ)
        if self.waiter is not None and self.checkpoint_log is not None:
            await wait_until_applied(self.waiter, [AUDIT_CHAIN_PROJECTION], consistent_with)

    def checkpoints(
        self, principal: Principal, before_position: int | None, limit: int
    ) -> list[SealedCheckpoint]:
        """Hash-chain checkpoints over the core store, newest first."""
        principal.require(Permission.AUDIT_READ)
        if self.checkpoint_log is None:
            return []
        return list(self.checkpoint_log.checkpoints(before_position, limit))

    def trail(
        self,
        principal: Principal,
        stream_type: str,
        stream_id: str,
        after_version: int,
        limit: int,
    ) -> list[AuditEntry]:
        principal.require(Permission.AUDIT_READ)
        originator_id = resolve_stream(stream_type, stream_id)
        log = self.log_of("feed" if stream_type in FEED_STREAM_TYPES else "core")
        recorded = log.stream(originator_id, after_version, limit)
        if recorded and stream_type_of_topic(recorded[0].topic) != stream_type:
            return []  # an id of another aggregate type: this type has no such stream
        # Asked by id or by natural key, the trail names the stream by its natural key.
        key = self._natural_key(stream_type, originator_id) if recorded else None
        return [to_entry(r, key or stream_id) for r in recorded]

    def entry(self, recorded: RecordedEvent) -> AuditEntry:
        """An event of either store as the feeds show it, its stream named by natural key."""
        stream_type = stream_type_of_topic(recorded.topic)
        originator_id = recorded.event.originator_id
        key = self._natural_key(stream_type, originator_id)
        return to_entry(recorded, key or str(originator_id))

    def _natural_key(self, stream_type: str, originator_id: UUID) -> str | None:
        attribute = NATURAL_KEYS.get(stream_type)
        if attribute is None:
            return None
        if originator_id not in self._keys:
            log = self.log_of("feed" if stream_type in FEED_STREAM_TYPES else "core")
            first = log.stream(originator_id, 0, 1)
            value = getattr(first[0].event, attribute, None) if first else None
            if value is None:
                return None
            if len(self._keys) > 100_000:
                self._keys.clear()
            self._keys[originator_id] = str(value)
        return self._keys[originator_id]
