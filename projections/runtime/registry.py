"""Projection registry: the runtime tables, each projection's generations and versions.

Versions: the registry records the `Projection.version` of the generation that serves (and the
tracking table that of every generation, so an interrupted rebuild is resumed only by the code
that started it). `ensure_projections` (the schema step at every start) never rebuilds: it
creates a new projection's first generation and only reports a projection whose tables are
older than its code. The rebuild is `rebuild_if_outdated`, which the runner's leader starts in
the background (`runner`) and which, under the per-projection rebuild lock, builds the new
version blue/green once however many processes ask (`rebuild`). A step (`engine`) refuses
tables newer than its code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from psycopg import Cursor, sql

from projections.runtime.base import Projection
from projections.runtime.generations import (
    create_generation,
    define_guarded_functions,
    generation_schema,
)

log = logging.getLogger(__name__)


RUNTIME_DDL = """
CREATE SCHEMA IF NOT EXISTS rm;
CREATE TABLE IF NOT EXISTS projection_registry (
    name text PRIMARY KEY,
    store text NOT NULL,
    active_generation int NOT NULL,
    version int NOT NULL DEFAULT 1,
    failing_since timestamptz,
    last_error text
);
CREATE TABLE IF NOT EXISTS projection_tracking (
    name text NOT NULL,
    generation int NOT NULL,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz,
    version int NOT NULL DEFAULT 1,
    PRIMARY KEY (name, generation)
);
"""
# Columns added since the first release, as (table, column, DDL). Databases created before
# projection versions: every generation in them was built by version 1 of its projection, which
# is what the default records. The failure record (`failures`) starts empty.
ADDED_COLUMNS_DDL = (
    (
        "projection_registry",
        "version",
        "ALTER TABLE projection_registry ADD COLUMN IF NOT EXISTS version int NOT NULL DEFAULT 1",
    ),
    (
        "projection_tracking",
        "version",
        "ALTER TABLE projection_tracking ADD COLUMN IF NOT EXISTS version int NOT NULL DEFAULT 1",
    ),
    (
        "projection_registry",
        "failing_since",
        "ALTER TABLE projection_registry ADD COLUMN IF NOT EXISTS failing_since timestamptz",
    ),
    (
        "projection_registry",
        "last_error",
        "ALTER TABLE projection_registry ADD COLUMN IF NOT EXISTS last_error text",
    ),
)


class ProjectionVersionError(RuntimeError):
    """The serving tables were built by a newer version of the projection than this code's."""


def _add_columns(cur: Cursor[Any]) -> None:
    """Checked first, so a start-up takes no table lock (ALTER TABLE takes an exclusive one, even
    when the column exists) once the columns are there."""
    for table, column, ddl in ADDED_COLUMNS_DDL:
        cur.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s"
            " AND NOT attisdropped",
            (table, column),
        )
        if cur.fetchone() is None:
            cur.execute(ddl)


def ensure_projections(
    cur: Cursor[Any], projections: Iterable[Projection], runtime_role: str | None = None
) -> None:
    """Create the runtime tables and every projection's first generation (idempotent).

    Runs inside the caller's transaction, which holds the schema advisory lock. A registered
    projection whose tables are of another version than its code is only reported, never
    rebuilt here: this runs at every start, under a lock every starting process waits for,
    and a rebuild can take minutes. The registry's older version is the record that a
    rebuild is needed; `rebuild_if_outdated` (the runner's leader) performs it.
    `runtime_role`: the application's role when it is not the one running this (`generations`).
    """
    projections = list(projections)
    cur.execute(RUNTIME_DDL)
    _add_columns(cur)
    define_guarded_functions(cur, projections, runtime_role)
    for projection in projections:
        cur.execute("SELECT version FROM projection_registry WHERE name = %s", (projection.name,))
        row = cur.fetchone()
        if row is not None:
            _report_version(projection, int(row[0]))
            continue
        schema = generation_schema(projection.name, 1)
        create_generation(cur, projection, 1)
        cur.execute(
            "INSERT INTO projection_tracking (name, generation, position, version)"
            " VALUES (%s, 1, 0, %s) ON CONFLICT DO NOTHING",
            (projection.name, projection.version),
        )
        cur.execute(
            "INSERT INTO projection_registry (name, store, active_generation, version)"
            " VALUES (%s, %s, 1, %s)",
            (projection.name, projection.store, projection.version),
        )
        point_views(cur, projection, schema)


def _report_version(projection: Projection, registered: int) -> None:
    if registered < projection.version:
        log.warning(
            "projection %s: its tables are version %d, the code's is %d: a rebuild is"
            " needed (the projection runner's leader rebuilds it blue/green while the old"
            " tables serve, or run `spoa projections rebuild %s`)",
            projection.name,
            registered,
            projection.version,
            projection.name,
        )
    elif registered > projection.version:
        log.error(
            "projection %s: its tables are version %d, newer than this code's %d: this"
            " process will not apply events to them (`spoa projections rebuild %s` run by"
            " this code would rebuild them as version %d)",
            projection.name,
            registered,
            projection.version,
            projection.name,
            projection.version,
        )


def point_views(cur: Cursor[Any], projection: Projection, schema: str) -> None:
    for table in projection.tables:
        cur.execute(sql.SQL("DROP VIEW IF EXISTS rm.{}").format(sql.Identifier(table)))
        cur.execute(
            sql.SQL("CREATE VIEW rm.{} AS SELECT * FROM {}.{}").format(
                sql.Identifier(table), sql.Identifier(schema), sql.Identifier(table)
            )
        )
