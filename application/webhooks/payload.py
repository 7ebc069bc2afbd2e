"""The body of a webhook: the event as the `events` feed shows it (secrets redacted), in the
Standard Webhooks envelope {type, timestamp, data}. Built from the log when sent, so every
attempt carries the same bytes."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from application.audit.service import AuditService
from application.ports import EventLog
from domain.shared import ChangeMeta

CACHED_MESSAGES = 10_000  # several endpoints usually receive the same events at about once


@dataclass(frozen=True)
class Message:
    body: bytes
    event_type: str
    occurred_at: datetime


def envelope(entry: Any, meta: ChangeMeta | None) -> dict[str, Any]:
    """{type, timestamp, data} for one audit entry (`application.audit.service.AuditEntry`)."""
    actor = None
    if meta is not None and meta.actor.username:
        actor = {
            "username": meta.actor.username,
            "role": meta.actor.role,
            "province": meta.actor.province,
        }
    event_type = f"{entry.stream_type}.{entry.type}"
    occurred_at = entry.occurred_at.isoformat()
    return {
        "type": event_type,
        "timestamp": occurred_at,
        "data": {
            "position": entry.position,
            "streamType": entry.stream_type,
            "streamId": entry.stream_id,
            "version": entry.version,
            "type": entry.type,
            "occurredAt": occurred_at,
            "actor": actor,
            "reason": entry.reason,
            "ticketId": entry.ticket_id,
            "data": entry.data,
        },
    }


class WebhookMessages:
    """Message bodies by core position, decoded once for every endpoint (a bounded cache)."""

    def __init__(self, core: EventLog, audit: AuditService) -> None:
        self.core = core
        self.audit = audit
        self._cache: OrderedDict[int, Message] = OrderedDict()
        self._lock = threading.Lock()

    def messages(self, positions: Sequence[int]) -> dict[int, Message]:
        found: dict[int, Message] = {}
        with self._lock:
            for position in positions:
                message = self._cache.get(position)
                if message is not None:
                    found[position] = message
        missing = [p for p in positions if p not in found]
        if missing:
            for recorded in self.core.at(missing):
                entry = self.audit.entry(recorded)
                meta = getattr(recorded.event, "meta", None)
                body = envelope(entry, meta if isinstance(meta, ChangeMeta) else None)
                found[recorded.position] = Message(
                    json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
                    body["type"],
                    entry.occurred_at,
                )
            with self._lock:
                for position in missing:
                    if position in found:
                        self._cache[position] = found[position]
                while len(self._cache) > CACHED_MESSAGES:
                    self._cache.popitem(last=False)
        return found
