"""Audit queries straight from the event stores (the source of truth), with secrets redacted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.authz import Principal
from application.ports import EventLog, RecordedEvent
from domain.access.account import account_id_for
from domain.access.permissions import Permission
from domain.catalogue import (
    NATURAL_KEYS,
    STREAM_TYPES,
    event_type_of_topic,
    stream_type_of_topic,
    topics_for_types,
)
from domain.shared import ValidationError
from domain.subscribers.alias_claim import alias_claim_id_for
from domain.subscribers.subscriber import subscriber_id_for

REDACTED = "[REDACTED]"
SECRET_KEYS = frozenset({"password_hash", "secret", "token"})
_ENVELOPE_KEYS = frozenset({"originator_id", "originator_version", "timestamp", "meta"})


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
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if hasattr(value, "value") and hasattr(value, "name"):  # enums
        return value.value
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
    meta = state.get("meta") or {}
    actor = meta.get("actor") or {}
    data = {k: v for k, v in state.items() if k not in _ENVELOPE_KEYS}
    return AuditEntry(
        position=recorded.position,
        stream_type=stream_type_of_topic(recorded.topic),
        stream_id=stream_id,
        version=event.originator_version,
        type=event_type_of_topic(recorded.topic),
        occurred_at=event.timestamp,
        actor_id=actor.get("account_id") or None,
        actor_username=actor.get("username"),
        reason=meta.get("reason"),
        ticket_id=meta.get("ticket_id"),
        correlation_id=meta.get("correlation_id"),
        data=jsonable(redact(data)),
    )


class AuditService:
    def __init__(self, core: EventLog) -> None:
        self.core = core
        # Natural keys never change once created, so they are safe to remember.
        self._keys: dict[UUID, str] = {}

    def events(
        self,
        principal: Principal,
        after_position: int,
        limit: int,
        types: Sequence[str] | None = None,
    ) -> list[AuditEntry]:
        principal.require(Permission.AUDIT_READ)
        topics: list[str] = []
        if types:
            topics = topics_for_types(list(types))
            if not topics:
                return []
        recorded = self.core.feed(after_position, limit, topics)
        return [self._entry(r) for r in recorded]

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
        recorded = self.core.stream(originator_id, after_version, limit)
        return [to_entry(r, stream_id) for r in recorded]

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
            first = self.core.stream(originator_id, 0, 1)
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
