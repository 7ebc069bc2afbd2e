"""Tamper evidence and the version timeline, kept by one projection over the core store.

The hash chain runs over the stored rows exactly as written, in position order:

    link(n) = sha256(link(n-1) || position || version || originator id || topic || state)

with every field length-prefixed or fixed-width, so no two different rows hash alike. Every link
is kept (`audit_chain`), so `spoa audit verify` can name the first position where the events
and the chain disagree; every `seal_every`-th link is also sealed as a checkpoint
(`audit_checkpoints`) for anchoring outside the system. The checkpoint's time is the sealed
event's recorded time, so the handler stays a pure function of the events and a rebuild seals
exactly the same checkpoints (anchors taken before a rebuild stay valid).

The same pass records, per stream version, when it happened (`audit_versions`): the index on
(originator_id, effective_at) answers "which version was current at T" with one index probe.
`effective_at` is the running maximum of event times along the stream, so it never decreases
and "version current at T" means every event up to it happened at or before T (the same rule
as replaying until the first later event).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql

from projections.runtime.base import Projection, RecordedEvent

GENESIS = hashlib.sha256(b"SPOA audit chain v1").digest()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIXED = struct.Struct(">qq16sI")  # position, version, originator id, topic length


def chain_link(
    previous: bytes, position: int, originator_id: bytes, version: int, topic: str, state: bytes
) -> bytes:
    """The next link of the chain: sha256 of the previous link and the stored row
    (`originator_id` as its 16 bytes)."""
    encoded_topic = topic.encode()
    return hashlib.sha256(
        b"".join(
            (
                previous,
                _FIXED.pack(position, version, originator_id, len(encoded_topic)),
                encoded_topic,
                len(state).to_bytes(8, "big"),
                state,
            )
        )
    ).digest()


def load_state(state: bytes) -> dict[str, Any] | None:
    """The stored event state as JSON (our stores neither compress nor encrypt it)."""
    try:
        value = json.loads(state)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def stored_time(value: Any) -> datetime | None:
    """A datetime as eventsourcing's JSON transcoder stores it, or None."""
    if isinstance(value, dict) and value.get("_type_") == "datetime_iso":
        try:
            moment = datetime.fromisoformat(value["_data_"])
        except (TypeError, ValueError):
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return None


def event_times(state: dict[str, Any] | None) -> tuple[datetime, datetime]:
    """(occurred, recorded): when it happened (the command's `at` where the event has one,
    else its timestamp) and when the store recorded it (its timestamp)."""
    if state is None:
        return EPOCH, EPOCH
    recorded = stored_time(state.get("timestamp")) or EPOCH
    return stored_time(state.get("at")) or recorded, recorded


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


class AuditChainProjection(Projection):
    name = "audit"
    store = "core"
    raw = True
    tables = ("audit_chain", "audit_chain_head", "audit_checkpoints", "audit_versions")
    # The application's database role appends to these and cannot rewrite them; the head
    # (the last link, a cache that verify never trusts) is updated in place.
    append_only = ("audit_chain", "audit_checkpoints", "audit_versions")

    def __init__(self, seal_every: int = 1000) -> None:
        if seal_every < 1:
            raise ValueError("seal_every must be at least 1")
        self.seal_every = seal_every

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        s = sql.Identifier(schema)
        for statement in (
            "CREATE TABLE {}.audit_chain (position bigint PRIMARY KEY, link bytea NOT NULL)",
            "CREATE TABLE {}.audit_chain_head ("
            " id boolean PRIMARY KEY DEFAULT true CHECK (id),"
            " position bigint NOT NULL, link bytea NOT NULL, events bigint NOT NULL)",
            "CREATE TABLE {}.audit_checkpoints ("
            " position bigint PRIMARY KEY, chain_hash text NOT NULL,"
            " sealed_at timestamptz NOT NULL, events bigint NOT NULL)",
            "CREATE TABLE {}.audit_versions ("
            " originator_id uuid NOT NULL, version int NOT NULL, position bigint NOT NULL,"
            " occurred_at timestamptz NOT NULL, effective_at timestamptz NOT NULL,"
            " PRIMARY KEY (originator_id, version))",
            "CREATE INDEX ON {}.audit_versions (originator_id, effective_at, version)",
        ):
            cur.execute(sql.SQL(statement).format(s))
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.audit_chain_head (position, link, events) VALUES (0, %s, 0)"
            ).format(s),
            (GENESIS,),
        )

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        s = sql.Identifier(schema)
        cur.execute(sql.SQL("SELECT link, events FROM {}.audit_chain_head").format(s))
        head = cur.fetchone()
        assert head is not None, "audit_chain_head has its one row from create_tables"
        link, count = bytes(head[0]), int(head[1])
        effective = self._latest_effective(cur, s, events)
        chain_rows: list[tuple[int, bytes]] = []
        version_rows: list[tuple[UUID, int, int, datetime, datetime]] = []
        sealed: list[tuple[int, str, datetime, int]] = []
        for envelope in events:
            row = envelope.stored
            assert row is not None, "a raw projection gets stored rows"
            originator_id = _uuid(row.originator_id)
            version = int(row.originator_version)
            link = chain_link(
                link, envelope.position, originator_id.bytes, version, row.topic, row.state
            )
            count += 1
            occurred, recorded = event_times(load_state(row.state))
            running = max(effective.get(originator_id, occurred), occurred)
            effective[originator_id] = running
            chain_rows.append((envelope.position, link))
            version_rows.append((originator_id, version, envelope.position, occurred, running))
            if count % self.seal_every == 0:
                sealed.append((envelope.position, link.hex(), recorded, count))
        # One statement per table whatever the page size (the runtime may pipeline the page,
        # where COPY is not available).
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.audit_chain (position, link)"
                " SELECT * FROM unnest(%b::bigint[], %b::bytea[])"
            ).format(s),
            ([r[0] for r in chain_rows], [r[1] for r in chain_rows]),
        )
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.audit_versions"
                " (originator_id, version, position, occurred_at, effective_at)"
                " SELECT * FROM unnest(%b::uuid[], %b::int[], %b::bigint[],"
                " %b::timestamptz[], %b::timestamptz[])"
            ).format(s),
            tuple(list(column) for column in zip(*version_rows, strict=True)),
        )
        if sealed:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {}.audit_checkpoints (position, chain_hash, sealed_at, events)"
                    " VALUES (%s, %s, %s, %s)"
                ).format(s),
                sealed,
            )
        cur.execute(
            sql.SQL("UPDATE {}.audit_chain_head SET position = %s, link = %s, events = %s").format(
                s
            ),
            (events[-1].position, link, count),
        )

    @staticmethod
    def _latest_effective(
        cur: Cursor[Any], s: sql.Identifier, events: Sequence[RecordedEvent]
    ) -> dict[UUID, datetime]:
        """Each stream's effective time so far (its last version's), for the running maximum."""
        ids = list({_uuid(e.stored.originator_id) for e in events if e.stored is not None})
        cur.execute(
            sql.SQL(
                "SELECT DISTINCT ON (originator_id) originator_id, effective_at"
                " FROM {}.audit_versions WHERE originator_id = ANY(%s)"
                " ORDER BY originator_id, version DESC"
            ).format(s),
            (ids,),
        )
        return {row[0]: row[1] for row in cur.fetchall()}
