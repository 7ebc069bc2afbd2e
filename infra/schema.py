"""The one explicit, idempotent schema step (`spoa db upgrade`, and at start-up).

It runs under a database-wide advisory lock, so worker processes never race to create tables.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.errors import DuplicateObject

from infra.blobs import DOCUMENT_BLOBS_DDL
from infra.privileges import grant_runtime
from projections.runtime.engine import ProjectionEngine
from projections.runtime.registry import ensure_projections

log = logging.getLogger(__name__)

SCHEMA_LOCK_KEY = 0x5350_4F41  # "SPOA"

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION spoa_reject_event_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events table % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

SUPPORT_DDL = """
CREATE TABLE IF NOT EXISTS sso_used_jti (
    jti text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
"""


def append_only_statements(table: str) -> list[sql.Composed]:
    t = sql.Identifier(table)
    return [
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR DELETE ON {}"
            " FOR EACH ROW EXECUTE FUNCTION spoa_reject_event_mutation()"
        ).format(sql.Identifier(f"{table}_append_only"), t),
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {} BEFORE TRUNCATE ON {}"
            " FOR EACH STATEMENT EXECUTE FUNCTION spoa_reject_event_mutation()"
        ).format(sql.Identifier(f"{table}_no_truncate"), t),
    ]


def store_states_as_given(cur: psycopg.Cursor[Any], table: str) -> None:
    """STORAGE EXTERNAL for a table whose event states the client compresses
    (infra/feed_codec.py): PostgreSQL would otherwise try pglz on every state again. Checked
    first, so a start-up takes no table lock once it is set."""
    cur.execute(
        "SELECT a.attstorage FROM pg_attribute a WHERE a.attrelid = %s::regclass"
        " AND a.attname = 'state'",
        (table,),
    )
    row = cur.fetchone()
    if row is not None and row[0] != "e":
        cur.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN state SET STORAGE EXTERNAL").format(
                sql.Identifier(table)
            )
        )


def create_recorder_tables(conn: psycopg.Connection[Any], recorder: Any) -> None:
    """What eventsourcing's `recorder.create_table()` does, on our (the schema owner's)
    connection instead of the recorder's own (the application's role's)."""
    statements = recorder.sql_create_statements
    for statement in statements:
        if "CREATE TYPE" in statement.as_string(conn):
            try:  # no IF NOT EXISTS for types
                with conn.transaction():
                    conn.execute(statement, prepare=False)
            except DuplicateObject:
                pass
    with conn.transaction():
        for statement in statements:
            if "CREATE TYPE" not in statement.as_string(conn):
                conn.execute(statement, prepare=False)


def _other_role(owner_conninfo: str, runtime_conninfo: str | None) -> str | None:
    """The role the service runs as, when it is not the schema owner."""
    if runtime_conninfo is None or runtime_conninfo == owner_conninfo:
        return None
    roles = []
    for conninfo in (owner_conninfo, runtime_conninfo):
        with psycopg.connect(conninfo) as conn:
            row = conn.execute("SELECT current_user").fetchone()
            roles.append(str(row[0]) if row else "")
    return roles[1] if roles[1] != roles[0] else None


def upgrade(
    conninfo: str,
    recorders: Sequence[Any],
    events_tables: Sequence[str],
    engine: ProjectionEngine,
    compressed_tables: Sequence[str] = (),
    runtime_conninfo: str | None = None,
) -> None:
    """Create or update every table, trigger and read model. Safe to run any number of times.

    `conninfo` is the schema owner's; the role of `runtime_conninfo`, when another role serves,
    is granted what it needs (infra/privileges.py).
    """
    runtime_role = _other_role(conninfo, runtime_conninfo)
    with psycopg.connect(conninfo, autocommit=True) as lock_conn:
        lock_conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            for recorder in recorders:
                create_recorder_tables(lock_conn, recorder)
            with psycopg.connect(conninfo) as conn, conn.transaction(), conn.cursor() as cur:
                cur.execute(APPEND_ONLY_FUNCTION)
                for table in events_tables:
                    for statement in append_only_statements(table):
                        cur.execute(statement)
                for table in compressed_tables:
                    store_states_as_given(cur, table)
                cur.execute(SUPPORT_DDL)
                cur.execute(DOCUMENT_BLOBS_DDL)
                ensure_projections(cur, engine.projections.values(), runtime_role)
                if runtime_role is not None:
                    snapshots = [r.events_table_name for r in recorders]
                    snapshots = [t for t in snapshots if t not in events_tables]
                    grant_runtime(
                        cur, runtime_role, events_tables, snapshots, engine.projections.values()
                    )
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
    for recorder in recorders:
        recorder.datastore.register_type_adapters()  # the types exist now
        complete = getattr(recorder, "complete_upgrade", None)
        if complete is not None:
            complete()  # a recorder's own data step, as the role it serves with
    log.info("database schema is up to date")
