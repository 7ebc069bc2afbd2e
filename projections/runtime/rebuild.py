"""Blue/green rebuilds of a projection, and rebuilds of projections whose code is newer.

A new generation is built in its own schema (`proj_<name>_g<N>`) while the old one keeps
serving, and keeps being updated by the live runner; the final catch-up and the swap of the
`rm` views happen in one transaction that holds the registry row lock. A session advisory lock
per projection makes one process the builder.
"""

from __future__ import annotations

import logging
from typing import Any

from psycopg import Connection

from projections.runtime.base import Projection
from projections.runtime.engine import ProgressCallback, ProjectionEngine
from projections.runtime.generations import (
    create_generation,
    drop_generation,
    generation_schema,
)
from projections.runtime.registry import point_views
from projections.runtime.status import ProjectionStatus

log = logging.getLogger(__name__)


class Rebuilds:
    """Rebuilds for one engine's projections (it applies the pages)."""

    def __init__(self, engine: ProjectionEngine) -> None:
        self.engine = engine
        self.status = ProjectionStatus(engine)

    def rebuild(
        self,
        name: str,
        *,
        restart: bool = False,
        progress: ProgressCallback | None = None,
        page_size: int | None = None,
    ) -> int:
        """Blue/green rebuild from position 0. Returns the new active generation.

        The new generation is built in its own schema while the old one keeps serving (and
        keeps being updated by the live runner); the final catch-up and the swap of the `rm`
        views happen in one transaction that holds the registry row lock. An interrupted
        rebuild resumes from the building generation's tracking position; `restart` drops it
        (and so does a rebuild by a different version of the projection's code). The registry
        then records this code's version, whatever it was before.
        """
        projection = self.engine.projections[name]
        with self.engine.connect() as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(hashtext('spoa-rebuild:' || %s))", (name,))
            try:
                return self._rebuild(conn, projection, restart, progress, page_size)
            finally:
                self._unlock_rebuild(conn, name)

    def rebuild_if_outdated(
        self, name: str, *, progress: ProgressCallback | None = None, page_size: int | None = None
    ) -> int | None:
        """Rebuild `name` blue/green when its serving tables are of an older version than the
        code. Returns the new active generation, or None when nothing was done: the version is
        current (or newer: never downgraded automatically), or another process holds the rebuild
        lock (it is rebuilding; ask again later). However many processes call this at once, one
        builds and the others find the version current afterwards.
        """
        projection = self.engine.projections[name]
        with self.engine.connect() as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(hashtext('spoa-rebuild:' || %s))", (name,))
                locked = cur.fetchone()
            if not (locked and locked[0]):
                return None
            try:
                # Read under the lock: a rebuild that swapped just before we took it is seen.
                with conn.cursor() as cur:
                    cur.execute("SELECT version FROM projection_registry WHERE name = %s", (name,))
                    row = cur.fetchone()
                if row is None or int(row[0]) >= projection.version:
                    return None
                log.info(
                    "projection %s: rebuilding version %d over version %d (blue/green)",
                    name,
                    projection.version,
                    row[0],
                )
                generation = self._rebuild(conn, projection, False, progress, page_size)
                log.info(
                    "projection %s: generation %d (version %d) is live",
                    name,
                    generation,
                    projection.version,
                )
                return generation
            finally:
                self._unlock_rebuild(conn, name)

    @staticmethod
    def _unlock_rebuild(conn: Connection[Any], name: str) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(hashtext('spoa-rebuild:' || %s))", (name,))

    def _rebuild(
        self,
        conn: Connection[Any],
        projection: Projection,
        restart: bool,
        progress: ProgressCallback | None,
        page_size: int | None,
    ) -> int:
        """The rebuild itself; the caller holds the projection's rebuild lock on `conn`."""
        name = projection.name
        limit = page_size or projection.page_size or max(self.engine.page_size, 5000)
        generation = self._prepare_generation(conn, projection, restart)
        head = self.status.store_head(projection.store)
        done = self._tracking_position(conn, name, generation)
        if progress:
            progress(done, head)
        while True:
            with conn.transaction(), conn.cursor() as cur:
                moved = self.engine.apply_page(cur, projection, generation, limit)
            if not moved:
                break
            done += moved
            if progress:
                progress(done, max(head, done))
        old = self._swap(conn, projection, generation, limit)
        with conn.cursor() as cur:
            drop_generation(cur, projection, old)
            cur.execute(
                "DELETE FROM projection_tracking WHERE name = %s AND generation = %s",
                (name, old),
            )
        if progress:
            final = self._tracking_position(conn, name, generation)
            progress(final, final)
        return generation

    @staticmethod
    def _tracking_position(conn: Connection[Any], name: str, generation: int) -> int:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT position FROM projection_tracking WHERE name = %s AND generation = %s",
                (name, generation),
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0

    def _prepare_generation(
        self, conn: Connection[Any], projection: Projection, restart: bool
    ) -> int:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "SELECT active_generation FROM projection_registry WHERE name = %s",
                (projection.name,),
            )
            row = cur.fetchone()
            if row is None:
                raise LookupError(f"unknown projection {projection.name}")
            active = row[0]
            cur.execute(
                "SELECT generation, version FROM projection_tracking"
                " WHERE name = %s AND generation > %s ORDER BY generation",
                (projection.name, active),
            )
            building = cur.fetchall()
            pending = [int(r[0]) for r in building]
            # Resume an interrupted rebuild only when this version of the code started it: its
            # tables and pages are the code's own.
            if building and not restart and building[-1][1] == projection.version:
                return pending[-1]
            if building and not restart:
                log.info(
                    "projection %s: starting over the interrupted rebuild of version %d"
                    " (the code is version %d)",
                    projection.name,
                    building[-1][1],
                    projection.version,
                )
            for generation in pending:
                drop_generation(cur, projection, generation)
                cur.execute(
                    "DELETE FROM projection_tracking WHERE name = %s AND generation = %s",
                    (projection.name, generation),
                )
            generation = max([active, *pending]) + 1
            create_generation(cur, projection, generation)
            cur.execute(
                "INSERT INTO projection_tracking (name, generation, position, version)"
                " VALUES (%s, %s, 0, %s)",
                (projection.name, generation, projection.version),
            )
            return generation

    def _swap(
        self, conn: Connection[Any], projection: Projection, generation: int, limit: int
    ) -> int:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "SELECT active_generation FROM projection_registry WHERE name = %s FOR UPDATE",
                (projection.name,),
            )
            row = cur.fetchone()
            assert row is not None
            old = int(row[0])
            while self.engine.apply_page(cur, projection, generation, limit):
                pass
            cur.execute(
                "UPDATE projection_registry SET active_generation = %s, version = %s"
                " WHERE name = %s",
                (generation, projection.version, projection.name),
            )
            point_views(cur, projection, generation_schema(projection.name, generation))
            return old
