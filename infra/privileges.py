"""Least privilege (design decision 12): what the application's database role may do.

The schema owner (`SPOA_DATABASE_OWNER_URL`) runs the schema step and owns the events tables;
the application's role (`SPOA_DATABASE_URL`) is granted by it exactly what serving needs:

- the events tables: SELECT, INSERT and UPDATE. UPDATE only because PostgreSQL demands it for
  the `LOCK TABLE ... IN EXCLUSIVE MODE` every save takes (infra/recorders.py); the append-only
  trigger refuses every UPDATE, and a role that owns neither the table nor the trigger's
  function cannot disable or replace them. Never DELETE, TRUNCATE, REFERENCES or TRIGGER;
- the snapshots table SELECT and INSERT; the sequences the inserts draw from USAGE (not
  UPDATE: no setval);
- its own bookkeeping tables what it does with them (`TABLE_PRIVILEGES`), any other table of
  the schema SELECT, INSERT, UPDATE and DELETE;
- CREATE on the database, for the projections' blue/green rebuilds; the `rm` schema of views
  and every generation of the projections without append-only tables are handed over to it,
  so that it builds, swaps and drops them. Generations with append-only tables stay the
  owner's (projections/runtime/generations.py): SELECT and INSERT on them, UPDATE only where a
  table is not append-only.

Every step looks first and changes only what differs, so a start-up where nothing changed
writes no catalog row and takes no table lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Cursor, sql

from projections.runtime.base import Projection

log = logging.getLogger(__name__)

EVENTS = frozenset({"SELECT", "INSERT", "UPDATE"})
SNAPSHOTS = frozenset({"SELECT", "INSERT"})
APPEND = frozenset({"SELECT", "INSERT"})
APPEND_UPDATE = frozenset({"SELECT", "INSERT", "UPDATE"})
READ_WRITE = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
SEQUENCE = frozenset({"USAGE"})
TABLE_PRIVILEGES = {
    "projection_registry": frozenset({"SELECT", "UPDATE"}),
    "sso_used_jti": frozenset({"SELECT", "INSERT", "DELETE"}),
    "document_chunks": frozenset({"SELECT", "INSERT", "DELETE"}),
}
# What ALTER ... OWNER TO names each kind of relation.
_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}

_RELATIONS = """
SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner),
       ARRAY(SELECT a.privilege_type FROM aclexplode(c.relacl) a
             WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)),
       EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0),
       EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
               AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND (n.nspname = %(home)s OR n.nspname = 'rm' OR n.nspname LIKE 'proj\\_%%')
"""

LEAST_PRIVILEGE = """
SELECT NOT r.rolsuper
   AND NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE c.oid = ANY(%s::text[]::regclass[])
                   AND (pg_has_role(c.relowner, 'MEMBER') OR pg_has_role(n.nspowner, 'MEMBER')))
   AND NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.proname = 'spoa_reject_event_mutation'
                   AND pg_has_role(p.proowner, 'MEMBER'))
FROM pg_roles r WHERE r.rolname = current_user
"""


def least_privilege(cur: Cursor[Any], events_tables: Sequence[str]) -> bool:
    """Whether the connected role cannot rewrite history: no superuser, and a member of the
    owner of neither the events tables, their schema, nor the append-only trigger's function
    (ownership, or membership of the owner, lets one disable or replace the trigger)."""
    cur.execute(LEAST_PRIVILEGE, (list(events_tables),))
    row = cur.fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class _Relation:
    schema: str
    name: str
    kind: str
    owner: str
    granted: frozenset[str]  # to the application's role, directly
    public: bool  # PUBLIC holds some privilege on it
    linked: bool  # a sequence that belongs to a column (its owner follows the table's)

    @property
    def ident(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name))


def grant_runtime(
    cur: Cursor[Any],
    runtime_role: str,
    events_tables: Sequence[str],
    snapshot_tables: Sequence[str],
    projections: Iterable[Projection],
) -> None:
    """(Schema owner, under the schema lock.) Give the application's role what it needs."""
    role = sql.Identifier(runtime_role)
    cur.execute(
        "SELECT current_user, current_database(), n.nspname FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s::regclass",
        (events_tables[0],),
    )
    row = cur.fetchone()
    assert row is not None, "the events tables are created first"
    owner, database, home = row
    _database_and_schema(cur, role, runtime_role, database, home)
    projections = list(projections)
    guarded = {p.name: p for p in projections if p.append_only}
    plain = {p.name for p in projections if not p.append_only}
    cur.execute(_RELATIONS, {"role": runtime_role, "home": home})
    relations = [_Relation(r[0], r[1], r[2], r[3], frozenset(r[4]), r[5], r[6]) for r in cur]
    for schema, schema_owner in _schemas(cur):
        name = _projection_of(schema)
        if schema == "rm" or name in plain:
            _own(
                cur, sql.SQL("SCHEMA {}").format(sql.Identifier(schema)), schema_owner, runtime_role
            )
        elif name in guarded:
            _own(cur, sql.SQL("SCHEMA {}").format(sql.Identifier(schema)), schema_owner, owner)
            if not _has(cur, runtime_role, "has_schema_privilege", schema, "USAGE"):
                cur.execute(
                    sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role)
                )
    for relation in relations:
        name = _projection_of(relation.schema)
        movable = not (relation.kind == "S" and relation.linked)  # else it follows its table
        if relation.schema == "rm" or name in plain:
            if movable:
                _own(cur, _relation_kind(relation), relation.owner, runtime_role)
        elif name in guarded:
            if movable:
                _own(cur, _relation_kind(relation), relation.owner, owner)
            append_only = relation.name in guarded[name].append_only
            _privileges(cur, relation, role, APPEND if append_only else APPEND_UPDATE)
        elif relation.schema == home:
            wanted = _home_privileges(relation, events_tables, snapshot_tables)
            if relation.name in events_tables and relation.public:
                cur.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC").format(relation.ident))
            _privileges(cur, relation, role, wanted)


def _home_privileges(
    relation: _Relation, events_tables: Sequence[str], snapshot_tables: Sequence[str]
) -> frozenset[str]:
    if relation.kind == "S":
        return SEQUENCE
    if relation.name in events_tables:
        return EVENTS
    if relation.name in snapshot_tables:
        return SNAPSHOTS
    return TABLE_PRIVILEGES.get(relation.name, READ_WRITE)


def _database_and_schema(
    cur: Cursor[Any], role: sql.Identifier, runtime_role: str, database: str, home: str
) -> None:
    for privilege in ("CONNECT", "CREATE"):
        if not _has(cur, runtime_role, "has_database_privilege", database, privilege):
            cur.execute(
                sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                    sql.SQL(privilege), sql.Identifier(database), role
                )
            )
    if not _has(cur, runtime_role, "has_schema_privilege", home, "USAGE"):
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(home), role))


def _has(cur: Cursor[Any], role: str, check: str, target: str, privilege: str) -> bool:
    cur.execute(
        sql.SQL("SELECT {}(%s, %s, %s)").format(sql.Identifier(check)), (role, target, privilege)
    )
    row = cur.fetchone()
    return bool(row and row[0])


def _schemas(cur: Cursor[Any]) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace"
        " WHERE nspname = 'rm' OR nspname LIKE 'proj\\_%'"
    )
    return [(r[0], r[1]) for r in cur.fetchall()]


def _projection_of(schema: str) -> str | None:
    """`audit` for proj_audit_g3."""
    if not schema.startswith("proj_"):
        return None
    name, _, generation = schema[len("proj_") :].rpartition("_g")
    return name if name and generation.isdigit() else None


def _relation_kind(relation: _Relation) -> sql.Composed:
    return sql.SQL("{} {}").format(sql.SQL(_KINDS[relation.kind]), relation.ident)


def _own(cur: Cursor[Any], target: sql.Composed, current: str, wanted: str) -> None:
    # ALTER ... OWNER takes an exclusive lock: only where the owner is not yet the right one.
    if current != wanted:
        cur.execute(sql.SQL("ALTER {} OWNER TO {}").format(target, sql.Identifier(wanted)))


def _privileges(
    cur: Cursor[Any], relation: _Relation, role: sql.Identifier, wanted: frozenset[str]
) -> None:
    if relation.granted == wanted:
        return
    target = sql.SQL("{} {}").format(
        sql.SQL("SEQUENCE" if relation.kind == "S" else "TABLE"), relation.ident
    )
    cur.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(target, role))
    cur.execute(
        sql.SQL("GRANT {} ON {} TO {}").format(
            sql.SQL(", ").join(sql.SQL(p) for p in sorted(wanted)), target, role
        )
    )
