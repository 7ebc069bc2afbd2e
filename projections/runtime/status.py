"""Read-only queries of where the projections stand: positions, lag, versions, failures, store
heads.

They serve the CLI, the metrics, the operations service and the waits for a position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from psycopg import Connection, Cursor, sql

from projections.runtime.base import Projection, StoreSource


class EngineView(Protocol):
    """What status queries need of an engine: its projections, stores and connections."""

    projections: dict[str, Projection]
    sources: dict[str, StoreSource]

    def connect(self) -> Connection[Any]: ...


@dataclass(frozen=True)
class ProjectionState:
    name: str
    store: str
    generation: int
    position: int
    lag: int
    updated_at: datetime | None
    building_generation: int | None = None
    building_position: int | None = None
    #: the projection version the serving tables were built by, and this code's version
    version: int = 1
    code_version: int = 1
    #: since when its live runner's steps fail, and the last error (`failures`)
    failing_since: datetime | None = None
    last_error: str | None = None

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    @property
    def rebuild_needed(self) -> bool:
        """The serving tables are older than the code (the runner's leader rebuilds them)."""
        return self.version < self.code_version


class ProjectionStatus:
    """Status queries for one engine's projections and stores."""

    def __init__(self, engine: EngineView) -> None:
        self.engine = engine

    def status(self) -> list[ProjectionState]:
        states = []
        with self.engine.connect() as conn, conn.cursor() as cur:
            for name, projection in self.engine.projections.items():
                cur.execute(
                    "SELECT r.active_generation, t.position, t.updated_at, r.version,"
                    " r.failing_since, r.last_error"
                    " FROM projection_registry r JOIN projection_tracking t"
                    " ON t.name = r.name AND t.generation = r.active_generation"
                    " WHERE r.name = %s",
                    (name,),
                )
                row = cur.fetchone()
                if row is None:
                    continue
                generation, position, updated_at, version, failing_since, last_error = row
                cur.execute(
                    sql.SQL("SELECT count(*) FROM {} WHERE notification_id > %s").format(
                        sql.Identifier(self.engine.sources[projection.store].table)
                    ),
                    (position,),
                )
                lag_row = cur.fetchone()
                cur.execute(
                    "SELECT generation, position FROM projection_tracking"
                    " WHERE name = %s AND generation > %s ORDER BY generation DESC LIMIT 1",
                    (name, generation),
                )
                building = cur.fetchone()
                states.append(
                    ProjectionState(
                        name=name,
                        store=projection.store,
                        generation=generation,
                        position=position,
                        lag=lag_row[0] if lag_row else 0,
                        updated_at=updated_at,
                        building_generation=building[0] if building else None,
                        building_position=building[1] if building else None,
                        version=version,
                        code_version=projection.version,
                        failing_since=failing_since,
                        last_error=last_error,
                    )
                )
        return states

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        with self.engine.connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT r.name, t.position FROM projection_registry r JOIN projection_tracking t"
                " ON t.name = r.name AND t.generation = r.active_generation"
                " WHERE r.name = ANY(%s)",
                (list(names),),
            )
            return {row[0]: row[1] for row in cur.fetchall()}

    def store_head(self, store: str) -> int:
        with self.engine.connect() as conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(
                    sql.Identifier(self.engine.sources[store].table)
                )
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0

    def store_heads(self) -> dict[str, int]:
        """The head of every store the projections follow."""
        return {store: self.store_head(store) for store in self.engine.sources}

    def registered_versions(self) -> dict[str, int]:
        """The version each registered projection's serving tables were built by."""
        with self.engine.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT name, version FROM projection_registry")
            return {row[0]: int(row[1]) for row in cur.fetchall()}


def failing_longer_than(cur: Cursor[Any], seconds: float) -> list[str]:
    """The projections whose live runner has been failing for more than `seconds`."""
    cur.execute(
        "SELECT name FROM projection_registry"
        " WHERE failing_since < now() - make_interval(secs => %s) ORDER BY name",
        (seconds,),
    )
    return [row[0] for row in cur.fetchall()]
