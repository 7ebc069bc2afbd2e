"""Projection engine: batched, tracked, exactly-once pages of events, and blue/green rebuilds.

Each page of events is applied and its tracking position recorded in one transaction, so a
crash mid-page leaves nothing half-applied. A rebuild builds a new generation in its own schema
while the active one keeps serving, then swaps the `rm` views in one transaction. Live runners
(`runner`) drive it; rebuilds (`rebuild.Rebuilds`) and status queries (`status.ProjectionStatus`)
take an engine and are held by their callers; the registry's tables are in `registry`.

A live step notifies `POSITIONS_CHANNEL` with the position it committed, which wakes the
`consistentWith` waits of every serving process (`infra.consistency`).

A step refuses tables newer than its code (`ProjectionVersionError`), and records the version
it saw, so the runner's leader knows to rebuild tables older than the code (`needs_rebuild`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import Connection, Cursor, sql

from projections.runtime.base import Projection, RecordedEvent, StoreSource
from projections.runtime.generations import generation_schema
from projections.runtime.registry import ProjectionVersionError

ProgressCallback = Callable[[int, int], None]
RECENT_EVENTS = 10_000  # decoded events kept for the other runners reading the same pages
#: the channel a live step notifies at commit, payload `<projection>:<position>`
POSITIONS_CHANNEL = "spoa_projection"


class ProjectionEngine:
    """Applies pages of events to projections; used by live runners and by rebuilds."""

    def __init__(
        self,
        conninfo: str,
        projections: Sequence[Projection],
        sources: dict[str, StoreSource],
        page_size: int = 2000,
    ) -> None:
        self.conninfo = conninfo
        self.projections = {p.name: p for p in projections}
        self.sources = sources
        self.page_size = page_size
        self._step_reads: dict[str, sql.Composed] = {}
        self._recent: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._recent_lock = threading.Lock()
        # the registered version each projection's last step saw (see needs_rebuild)
        self._served_versions: dict[str, int] = {}

    def connect(self, autocommit: bool = True) -> Connection[Any]:
        return psycopg.connect(self.conninfo, autocommit=autocommit)

    def needs_rebuild(self, name: str) -> bool:
        """Whether the last step of `name` in this process applied to tables older than the
        code (no query: the step reads the registered version under its registry lock)."""
        served = self._served_versions.get(name)
        return served is not None and served < self.projections[name].version

    # ----------------------------------------------------------------- applying
    def _read_page(
        self, cur: Cursor[Any], projection: Projection, after: int, limit: int
    ) -> tuple[int | None, list[RecordedEvent]]:
        source = self.sources[projection.store]
        cur.execute(
            sql.SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                " FROM {} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
            ).format(sql.Identifier(source.table)),
            (after, limit),
            prepare=True,
        )
        rows = cur.fetchall()
        if not rows:
            return None, []
        return rows[-1][0], self._recorded(projection, rows)

    def _recorded(
        self, projection: Projection, rows: Sequence[Sequence[Any]]
    ) -> list[RecordedEvent]:
        """The page rows (notification_id, originator_id, originator_version, topic, state)
        that the projection subscribes to, as recorded events."""
        source = self.sources[projection.store]
        topics = projection.topics
        if projection.raw:
            return [
                RecordedEvent(
                    position=row[0],
                    event=None,
                    stored=StoredEvent(
                        originator_id=row[1],
                        originator_version=row[2],
                        topic=row[3],
                        state=bytes(row[4]),
                    ),
                    plain_state=source.plain_state,
                )
                for row in rows
                if not topics or row[3] in topics
            ]
        return [
            RecordedEvent(position=row[0], event=self._decoded(projection.store, source, row))
            for row in rows
            if not topics or row[3] in topics
        ]

    def _decoded(self, store: str, source: StoreSource, row: Sequence[Any]) -> Any:
        """The domain event of a page row, decoded once for all the projections that read it
        (events are immutable values; the runners read the same pages at about the same time).
        """
        key = (store, row[0])
        with self._recent_lock:
            event = self._recent.get(key)
        if event is None:
            event = source.mapper.to_domain_event(
                StoredEvent(
                    originator_id=row[1],
                    originator_version=row[2],
                    topic=row[3],
                    state=bytes(row[4]),
                )
            )
            with self._recent_lock:
                self._recent[key] = event
                if len(self._recent) > RECENT_EVENTS:
                    self._recent.popitem(last=False)
        return event

    def apply_page(
        self, cur: Cursor[Any], projection: Projection, generation: int, limit: int
    ) -> int:
        """Apply the next page to one generation inside the caller's transaction.

        Returns the number of events read (0 when caught up).
        """
        cur.execute(
            "SELECT position FROM projection_tracking WHERE name = %s AND generation = %s"
            " FOR UPDATE",
            (projection.name, generation),
        )
        row = cur.fetchone()
        if row is None:
            raise LookupError(f"no tracking for {projection.name} generation {generation}")
        last, envelopes = self._read_page(cur, projection, row[0], limit)
        if last is None:
            return 0
        if envelopes:
            projection.apply(cur, generation_schema(projection.name, generation), envelopes)
        cur.execute(
            "UPDATE projection_tracking SET position = %s, updated_at = now()"
            " WHERE name = %s AND generation = %s",
            (last, projection.name, generation),
        )
        return last - row[0]

    def step(self, conn: Connection[Any], name: str) -> int:
        """Apply one page to the active generation. Returns how far the position moved.

        The live runners step every projection every few events, so a step is lean: the
        tracking row and the page come in one statement. (Not a libpq pipeline: it costs more
        CPU than the round trips it saves on a local server, and projections may COPY.)
        """
        projection = self.projections[name]
        limit = projection.page_size or self.page_size
        with conn.transaction(), conn.cursor() as cur:
            # Locking the registry row serialises us with a rebuild's swap. The read is the next
            # statement: it starts, and takes its snapshot, only once the lock is ours, so it
            # sees the active generation and tracking position as a swap committed them.
            cur.execute(
                "SELECT version FROM projection_registry WHERE name = %s FOR UPDATE",
                (name,),
                prepare=True,
            )
            registered = cur.fetchone()
            if registered is None:
                raise LookupError(f"projection {name} is not installed (run `spoa db upgrade`)")
            version = int(registered[0])
            self._served_versions[name] = version
            if version > projection.version:
                raise ProjectionVersionError(
                    f"projection {name}: the serving tables are version {version}, newer than"
                    f" this code's {projection.version}; not applying to them"
                )
            cur.execute(self._step_read_sql(projection.store), (name, name, limit), prepare=True)
            rows = cur.fetchall()
            if not rows:
                raise LookupError(f"projection {name} is not installed (run `spoa db upgrade`)")
            generation, position = rows[0][0], rows[0][1]
            if rows[0][2] is None:
                return 0  # caught up
            page = [row[2:] for row in rows]
            last = page[-1][0]
            envelopes = self._recorded(projection, page)
            if envelopes:
                projection.apply(cur, generation_schema(name, generation), envelopes)
            # Tells every serving process's waiter (`consistentWith`) the new position. NOTIFY is
            # delivered at commit, so no waiter is woken for a page that rolls back; in the
            # RETURNING, it costs no round trip of its own.
            cur.execute(
                "UPDATE projection_tracking SET position = %s, updated_at = now()"
                " WHERE name = %s AND generation = %s"
                " RETURNING pg_notify(%s, name || ':' || position)",
                (last, name, generation, POSITIONS_CHANNEL),
                prepare=True,
            )
            return int(last - position)

    def _step_read_sql(self, store: str) -> sql.Composed:
        """The active generation's tracking row (locked) and the page after its position."""
        composed = self._step_reads.get(store)
        if composed is None:
            composed = sql.SQL(
                "SELECT t.generation, t.position, e.notification_id, e.originator_id,"
                " e.originator_version, e.topic, e.state"
                " FROM (SELECT generation, position FROM projection_tracking"
                "   WHERE name = %s AND generation ="
                "     (SELECT active_generation FROM projection_registry WHERE name = %s)"
                "   FOR UPDATE) t"
                " LEFT JOIN LATERAL (SELECT notification_id, originator_id, originator_version,"
                "   topic, state FROM {} WHERE notification_id > t.position"
                "   ORDER BY notification_id LIMIT %s) e ON true"
                " ORDER BY e.notification_id"
            ).format(sql.Identifier(self.sources[store].table))
            self._step_reads[store] = composed
        return composed

    def catch_up(self, name: str) -> None:
        """Apply pages until the projection has seen every stored event (tests, CLI)."""
        with self.connect() as conn:
            while self.step(conn, name):
                pass

    def catch_up_all(self) -> None:
        for name in self.projections:
            self.catch_up(name)
