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
from application.ports import EventLog, RecordedEvent
from domain.access.account import account_id_for
from domain.access.permissions import Permission
from domain.catalogue import (
    FEED_STREAM_TYPES,
    NATURAL_KEYS,
    STREAM_TYPES,
    event_type_of_topic,
    stream_type_of_topic,
    topics_for_types,
)
from domain.shared import ChangeMeta, ValidationError
from domain.subscribers.alias_claim import alias_claim_id_for
from domain.subscribers.subscriber import subscriber_id_for

REDACTED = "[REDACTED]"
SECRET_KEYS = frozenset({"password_hash", "secret", "token"})
_ENVELOPE_KEYS = frozenset({"originator_id", "originator_version", "timestamp", "meta"})
# What an event stored without metadata reads as: no actor, no reason, no ticket.
_NO_META = ChangeMeta.from_dict({})


def redact(value: Any) -> Any:
    """Replace every secret-looking field, at any depth, by a marker."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in SECRET_KEYS or k.endswith("_hash") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


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


def event_time(event: Any) -> datetime:
    """When the event happened: the command's `at` where it has one, else its timestamp."""
    at = getattr(event, "at", None)
    moment: datetime = at if isinstance(at, datetime) else event.timestamp
    return moment


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


class AuditService:
    def __init__(
        self,
        core: EventLog,
        feed: EventLog | None = None,
        checkpoint_log: CheckpointLog | None = None,
    ) -> None:
        self.core = core
        self.feed = feed
        self.checkpoint_log = checkpoint_log
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
        return [self._entry(r) for r in recorded]

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

    def _entry(self, recorded: RecordedEvent) -> AuditEntry:
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


def resolve_stream(stream_type: str, stream_id: str) -> UUID:
    """An audit stream's aggregate id from its natural key (username for Account), or its id."""
    if stream_type not in STREAM_TYPES:
        raise ValidationError(
            f"unknown stream type {stream_type!r}; one of {', '.join(sorted(STREAM_TYPES))}",
            field=["streamType"],
        )
    if stream_type == "Account" and not _looks_like_uuid(stream_id):
        return account_id_for(stream_id)
    if stream_type == "Subscriber" and not _looks_like_uuid(stream_id):
        return subscriber_id_for(stream_id)
    if stream_type == "AliasClaim" and not _looks_like_uuid(stream_id):
        return alias_claim_id_for(stream_id)
    try:
        return UUID(stream_id)
    except ValueError:
        raise ValidationError(f"unknown stream id {stream_id!r}", field=["streamId"]) from None


def _looks_like_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
