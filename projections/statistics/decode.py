"""Decoding just what the statistics read, straight from the stored JSON.

A rebuild replays the whole core store, and decoding every event through eventsourcing's
mapper (its JSON transcoder calls a Python hook for every object in the document, then builds
the event object) costs more than everything the statistics then do with it. The statistics
need a handful of fields, so this reads them from the stored JSON directly, into a small
object with the same attribute names and values as the domain event (the stored `meta` object
becomes the ChangeMeta the mapper makes), which the folds use unchanged.

It reads exactly what eventsourcing's JSONTranscoder wrote (datetimes as
{"_type_": "datetime_iso", "_data_": ...}, the rest as plain JSON) and falls back to the
mapper whenever the stored event is anything else: not JSON (a cipher or compressor), a class
with `class_version` > 1 (the mapper upcasts), or a field in an unexpected shape.
tests/unit/test_statistics_decode.py holds it equal to the mapper on every event kind.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import resolve_topic

from domain.shared import Actor, ChangeMeta
from projections.runtime.codec import EventMapper
from projections.statistics.proxy import PROXY_TOPICS
from projections.statistics.tickets import TICKET_TOPICS

_ACTORS_KEPT = 10_000  # actors a decoder remembers: one per account and role or province held
# The C scanner without json.loads' whitespace handling around it (a stored state is compact).
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def default_mapper() -> Mapper[Any]:
    """The mapper the stores use (eventsourcing's default JSON transcodings; no cipher and no
    compressor, see infra/stores.py)."""
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())
    return EventMapper(transcoder=transcoder)


class Fact:
    """The fields of one subscriber or ticket event that the statistics read."""

    __slots__ = (
        "TOPIC",
        "at",
        "category",
        "due_at",
        "meta",
        "originator_id",
        "originator_version",
        "province",
        "sla_used_seconds",
        "timestamp",
    )

    def __init__(self, topic: str, originator_id: Any, originator_version: int) -> None:
        self.TOPIC = topic
        self.originator_id = originator_id
        self.originator_version = originator_version
        self.at: datetime | None = None
        self.category: str | None = None
        self.due_at: datetime | None = None
        self.meta: ChangeMeta | None = None
        self.province: str | None = None
        self.sla_used_seconds: int | None = None
        self.timestamp: datetime | None = None


class _ShapeError(Exception):
    """The stored JSON is not in the shape this decoder reads: use the mapper."""


def _datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if type(value) is dict and value.get("_type_") == "datetime_iso":
        return datetime.fromisoformat(value["_data_"])
    raise _ShapeError


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _ShapeError


class StatisticsDecoder:
    """StoredEvent -> Fact (or, when in doubt, the mapper's domain event)."""

    def __init__(self, mapper: Mapper[Any] | None = None) -> None:
        self.mapper = mapper or default_mapper()
        self._fast: dict[str, bool] = {}
        self._actors: dict[Any, Actor] = {}

    def _fast_topic(self, topic: str) -> bool:
        fast = self._fast.get(topic)
        if fast is None:
            cls = resolve_topic(topic)
            fast = getattr(cls, "class_version", 1) == 1 and topic in PROXY_TOPICS | TICKET_TOPICS
            self._fast[topic] = fast
        return fast

    def _meta(self, meta: dict[str, Any]) -> ChangeMeta:
        """ChangeMeta.from_dict, with each actor made once (a few people make most changes)."""
        stored = meta.get("actor")
        key = tuple(stored.items()) if type(stored) is dict else stored
        actor = self._actors.get(key)
        if actor is None:
            if len(self._actors) >= _ACTORS_KEPT:
                self._actors.clear()
            actor = self._actors[key] = ChangeMeta.from_dict(meta).actor
        return ChangeMeta(
            actor, meta.get("correlation_id"), meta.get("reason"), meta.get("ticket_id")
        )

    def __call__(self, stored: StoredEvent) -> Any:
        topic = stored.topic
        state = stored.state
        if state[:1] != b"{" or not self._fast_topic(topic):
            return self.mapper.to_domain_event(stored)
        try:
            data, _ = _scan(state.decode("utf-8"), 0)
            if "class_version" in data:
                raise _ShapeError
            fact = Fact(topic, stored.originator_id, stored.originator_version)
            fact.province = _text(data.get("province"))
            if topic in TICKET_TOPICS:
                fact.at = _datetime(data["at"])
                fact.category = _text(data.get("category"))
                fact.due_at = _datetime(data.get("due_at"))
                used = data.get("sla_used_seconds")
                if used is not None and type(used) is not int:
                    raise _ShapeError
                fact.sla_used_seconds = used
            else:
                fact.timestamp = _datetime(data["timestamp"])
                meta = data.get("meta")
                if meta is not None:
                    if type(meta) is not dict:
                        raise _ShapeError
                    fact.meta = self._meta(meta)
            return fact
        except (_ShapeError, KeyError, ValueError, TypeError, UnicodeDecodeError):
            return self.mapper.to_domain_event(stored)
