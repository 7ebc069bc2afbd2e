"""Offline audit: stream an event store out as NDJSON, and rebuild a stream from such a file.

One line per stored event, in position order:

    {"position", "stream": "Subscriber/13800138000", "stream_type", "stream_id",
     "originator_id", "version", "type", "topic", "time", "recorded_at", "actor", "reason",
     "ticket_id", "correlation_id", "data", "stored"}

`data` is the event's fields for people to read; `stored` is the stored event state as written
(eventsourcing's JSON with its type markers; feed states, stored compressed, go out inflated),
so `replay` can decode it with the domain's own event classes away from the system. Secrets are
redacted in both. Reading goes in keyset pages of the events table's primary key, so memory
stays constant whatever the size of the store.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO
from uuid import UUID

import psycopg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent
from psycopg import sql

from domain.audit.catalogue import (
    FEED_STREAM_TYPES,
    NATURAL_KEYS,
    STREAM_TYPES,
    event_type_of_topic,
    resolve_stream,
    stream_type_of_topic,
)
from domain.audit.redaction import SECRET_KEYS, redact
from domain.audit.replay import replay
from domain.shared import ValidationError
from infra.feed_codec import plain_state
from projections.audit.chain import event_times, load_state

Progress = Callable[[int, int | None], None]
_ENVELOPE = frozenset({"timestamp", "meta"})
# Natural keys of the most recently seen streams (least recently used go first): about 250
# bytes each, so the cache stays under ~50 MB whatever the size of the export.
_KEY_CACHE_SIZE = 200_000
_COMPACT: dict[str, Any] = {"ensure_ascii": False, "separators": (",", ":")}
# A key `redact` hides ends a JSON string with one of these (keys are ASCII, never escaped).
_SECRET_KEY_END = re.compile(
    b"(" + b"|".join(re.escape(k.encode()) for k in sorted({*SECRET_KEYS, "_hash"})) + b')"'
)


def readable(value: Any) -> Any:
    """Stored JSON for people: transcoder markers ({"_type_", "_data_"}) become plain values."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            if value["_type_"] == "uuid_hex":
                return str(UUID(value["_data_"]))
            return readable(value["_data_"])
        return {k: readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v) for v in value]
    return value


def export_line(
    position: int,
    originator_id: UUID,
    version: int,
    topic: str,
    state: dict[str, Any],
    stream_id: str | None = None,
    secrets: bool = True,
) -> dict[str, Any]:
    """One NDJSON line for a stored event (its state already parsed); `secrets=False` says the
    stored bytes hold no secret-looking key, so there is nothing to redact."""
    if secrets:
        state = redact(state)
    stream_type = stream_type_of_topic(topic)
    key = stream_id or str(originator_id)
    meta = state.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    occurred, recorded = event_times(state)
    return {
        "position": position,
        "stream": f"{stream_type}/{key}",
        "stream_type": stream_type,
        "stream_id": key,
        "originator_id": str(originator_id),
        "version": version,
        "type": event_type_of_topic(topic),
        "topic": topic,
        "time": occurred.isoformat(),
        "recorded_at": recorded.isoformat(),
        "actor": meta.get("actor"),
        "reason": meta.get("reason"),
        "ticket_id": meta.get("ticket_id"),
        "correlation_id": meta.get("correlation_id"),
        "data": readable({k: v for k, v in state.items() if k not in _ENVELOPE}),
        "stored": state,
    }


def export_text(
    position: int,
    originator_id: UUID,
    version: int,
    topic: str,
    raw: bytes,
    state: dict[str, Any] | None,
    stream_id: str | None = None,
) -> str:
    """One NDJSON line, newline included. Where there is nothing to redact and the stored bytes
    are one line of JSON, they go out as written instead of being encoded a second time."""
    secrets = _secrets(raw)
    line = export_line(position, originator_id, version, topic, state or {}, stream_id, secrets)
    if not secrets and state is not None and b"\n" not in raw and b"\r" not in raw:
        try:
            stored = raw.decode()
        except UnicodeDecodeError:
            pass
        else:
            del line["stored"]
            return json.dumps(line, **_COMPACT)[:-1] + ',"stored":' + stored + "}\n"
    return json.dumps(line, **_COMPACT) + "\n"


def _secrets(stored: bytes) -> bool:
    """Whether stored JSON may hold a key `redact` hides."""
    return _SECRET_KEY_END.search(stored) is not None


def parse_stream(spec: str) -> tuple[str, str, UUID]:
    """'TYPE/ID' -> (type, id, originator id); ID is the natural key or the aggregate id."""
    stream_type, sep, stream_id = spec.partition("/")
    if not sep or not stream_id:
        raise ValidationError(f"stream must be TYPE/ID, got {spec!r}", field=["stream"])
    return stream_type, stream_id, resolve_stream(stream_type, stream_id)


@dataclass(frozen=True)
class ExportSummary:
    events: int
    first_position: int | None
    last_position: int | None


class AuditExporter:
    """Streams an events table out as NDJSON lines (see the module docstring)."""

    def __init__(self, conninfo: str, tables: dict[str, str], page_size: int = 5000) -> None:
        self._conninfo = conninfo
        self._tables = tables
        # A feed event carries up to 2,000 history records: smaller pages keep memory bounded.
        self._pages_of = {"core": page_size, "feed": max(page_size // 100, 1)}
        self._keys: OrderedDict[UUID, str] = OrderedDict()

    def export(
        self,
        out: TextIO,
        *,
        store: str | None = None,
        from_position: int | None = None,
        to_position: int | None = None,
        stream: str | None = None,
        progress: Progress | None = None,
    ) -> ExportSummary:
        """Write every event with from_position <= position <= to_position (both optional)."""
        originator: UUID | None = None
        if stream is not None:
            stream_type, _, originator = parse_stream(stream)
            stream_store = "feed" if stream_type in FEED_STREAM_TYPES else "core"
            if store is not None and store != stream_store:
                raise ValidationError(f"{stream_type} streams are in the {stream_store} store")
            store = stream_store
        store = store or "core"
        if store not in self._tables:
            raise ValidationError(f"unknown store {store!r}; one of core, feed", field=["store"])
        table = sql.Identifier(self._tables[store])
        low = max((from_position or 1) - 1, 0)
        count, first, last = 0, None, None
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            high = to_position if to_position is not None else self._head(conn, table)
            total = None if originator is not None else max(high - low, 0)
            if progress:
                progress(0, total)
            pages = self._pages(conn, table, low, high, originator, self._pages_of[store])
            for page in pages:
                out.write("".join(self._lines(conn, table, page)))
                count += len(page)
                first = first if first is not None else page[0][0]
                last = page[-1][0]
                if progress:
                    progress(count if total is None else last - low, total)
        out.flush()
        return ExportSummary(count, first, last)

    @staticmethod
    def _head(conn: psycopg.Connection[Any], table: sql.Identifier) -> int:
        row = conn.execute(
            sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(table)
        ).fetchone()
        return int(row[0]) if row else 0

    def _pages(
        self,
        conn: psycopg.Connection[Any],
        table: sql.Identifier,
        low: int,
        high: int,
        originator: UUID | None,
        size: int,
    ) -> Iterator[list[tuple[Any, ...]]]:
        columns = "notification_id, originator_id, originator_version, topic, state"
        if originator is None:
            query = sql.SQL(
                "SELECT " + columns + " FROM {} WHERE notification_id > %s"
                " AND notification_id <= %s ORDER BY notification_id LIMIT %s"
            ).format(table)
        else:
            query = sql.SQL(
                "SELECT " + columns + " FROM {} WHERE originator_id = %s"
                " AND originator_version > %s AND notification_id > %s"
                " AND notification_id <= %s ORDER BY originator_version LIMIT %s"
            ).format(table)
        after = 0  # version, for one stream
        with conn.cursor(binary=True) as cur:
            while True:
                if originator is None:
                    cur.execute(query, (low, high, size))
                else:
                    cur.execute(query, (originator, after, low, high, size))
                rows = cur.fetchall()
                if not rows:
                    return
                yield rows
                if originator is None:
                    low = rows[-1][0]
                else:
                    after = rows[-1][2]

    def _lines(
        self, conn: psycopg.Connection[Any], table: sql.Identifier, rows: list[tuple[Any, ...]]
    ) -> list[str]:
        raws = [(row, plain_state(bytes(row[4]))) for row in rows]
        parsed = [(row, raw, load_state(raw)) for row, raw in raws]
        self._learn_keys(conn, table, [(row, state or {}) for row, _, state in parsed])
        return [
            export_text(row[0], row[1], row[2], row[3], raw, state, self._keys.get(row[1]))
            for row, raw, state in parsed
        ]

    def _learn_keys(
        self,
        conn: psycopg.Connection[Any],
        table: sql.Identifier,
        parsed: list[tuple[tuple[Any, ...], dict[str, Any]]],
    ) -> None:
        """Natural keys (msisdn, username, alias) from each stream's first event, looked up
        once per page for the streams not yet known (a bounded cache keeps memory constant)."""
        wanted: dict[UUID, str] = {}
        for row, state in parsed:
            attribute = NATURAL_KEYS.get(stream_type_of_topic(row[3]))
            if attribute is None:
                continue
            if row[1] in self._keys:
                self._keys.move_to_end(row[1])
                continue
            if row[2] == 1 and isinstance(state.get(attribute), str):
                self._remember(row[1], state[attribute])
            else:
                wanted[row[1]] = attribute
        if not wanted:
            return
        with conn.cursor(binary=True) as cur:
            cur.execute(
                sql.SQL(
                    "SELECT originator_id, state FROM {}"
                    " WHERE originator_id = ANY(%s) AND originator_version = 1"
                ).format(table),
                (list(wanted),),
            )
            for originator_id, state in cur.fetchall():
                value = (load_state(plain_state(bytes(state))) or {}).get(wanted[originator_id])
                if isinstance(value, str):
                    self._remember(originator_id, value)

    def _remember(self, originator_id: UUID, key: str) -> None:
        self._keys[originator_id] = key
        if len(self._keys) > _KEY_CACHE_SIZE:
            self._keys.popitem(last=False)


def offline_mapper() -> Mapper[Any]:
    """The stores' event mapper with no database behind it (replay away from the system)."""
    from infra.stores import CoreStore

    return CoreStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper


@dataclass(frozen=True)
class ReplayResult:
    aggregate: Aggregate | None
    version: int | None


def replay_export(
    lines: Iterable[str], stream: str, at: datetime | None, mapper: Mapper[Any]
) -> ReplayResult:
    """Rebuild one stream from export lines alone (the domain's event classes, no database).

    The export must hold the stream from its first version on, without gaps, in order.
    """
    stream_type, _, originator = parse_stream(stream)
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    wanted = str(originator)

    def events() -> Iterator[Any]:
        expected = 1
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except ValueError:
                raise ValidationError(f"line {number} is not JSON") from None
            if line.get("originator_id") != wanted:
                continue
            if line.get("stream_type") != stream_type or line.get("version") != expected:
                raise ValidationError(
                    f"line {number}: expected {stream_type} version {expected} of {stream},"
                    f" found {line.get('stream_type')} version {line.get('version')}"
                    " (export the stream from its first event: --stream or no --from-position)"
                )
            expected += 1
            yield mapper.to_domain_event(
                StoredEvent(
                    originator_id=originator,
                    originator_version=line["version"],
                    topic=line["topic"],
                    state=json.dumps(line["stored"]).encode(),
                )
            )

    aggregate = replay(events(), at)
    if aggregate is not None and not isinstance(aggregate, STREAM_TYPES[stream_type]):
        raise ValidationError(f"{stream} is not a {stream_type} stream")
    return ReplayResult(aggregate, aggregate.version if aggregate else None)
