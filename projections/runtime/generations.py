"""A projection's generations: each in its own schema, created and dropped here.

With two database roles (design decision 12) the application's role owns the generations of
most projections: it builds new ones blue/green and drops old ones itself. A projection that
declares `append_only` tables (the audit chain) must not be rewritable by that role, so every
generation of it belongs to the schema owner, and the application's role creates and drops
them through two SECURITY DEFINER functions that the schema step defines from the projection's
own `create_tables`. They grant the application's role SELECT and INSERT on the new tables
(and UPDATE on those not append-only, never DELETE or TRUNCATE), and refuse to drop the
generation that serves. That role can still build and swap in a new generation, but only from
the events, which it cannot change; what it appended it cannot rewrite.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import Cursor, sql

from projections.runtime.base import Projection

CREATE_FUNCTION = "spoa_create_guarded_generation"
DROP_FUNCTION = "spoa_drop_guarded_generation"
_PLACEHOLDER = "spoa_generation_schema"  # stands for the schema in the recorded DDL


def generation_schema(name: str, generation: int) -> str:
    return f"proj_{name}_g{generation}"


def create_generation(cur: Cursor[Any], projection: Projection, generation: int) -> None:
    """A fresh generation's schema and tables (dropping any leftover of that generation)."""
    if projection.append_only:
        cur.execute(
            sql.SQL("SELECT {}(%s, %s)").format(sql.Identifier(CREATE_FUNCTION)),
            (projection.name, generation),
        )
        return
    schema = generation_schema(projection.name, generation)
    cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    projection.create_tables(cur, schema)


def drop_generation(cur: Cursor[Any], projection: Projection, generation: int) -> None:
    if projection.append_only:
        cur.execute(
            sql.SQL("SELECT {}(%s, %s)").format(sql.Identifier(DROP_FUNCTION)),
            (projection.name, generation),
        )
        return
    schema = generation_schema(projection.name, generation)
    cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


class _Statements:
    """Stands in for a cursor: keeps what `create_tables` would run, parameters bound."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._cursor = psycopg.ClientCursor(conn)
        self.statements: list[str] = []

    def execute(self, query: Any, params: Any = None) -> None:
        self.statements.append(self._cursor.mogrify(query, params))


def _format_string(conn: psycopg.Connection[Any], statement: str) -> str:
    """`statement` as a format() string whose %1$I is the generation's schema."""
    placeholder = sql.Identifier(_PLACEHOLDER).as_string(conn)
    return statement.replace("%", "%%").replace(placeholder, "%1$I")


def _guarded_ddl(
    conn: psycopg.Connection[Any], projection: Projection, runtime_role: str | None
) -> list[str]:
    recorder = _Statements(conn)
    projection.create_tables(recorder, _PLACEHOLDER)  # type: ignore[arg-type]
    statements = recorder.statements
    if runtime_role is not None:
        schema, role = sql.Identifier(_PLACEHOLDER), sql.Identifier(runtime_role)
        grants = [
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role),
            sql.SQL("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, role),
            *(
                sql.SQL("GRANT UPDATE ON {}.{} TO {}").format(schema, sql.Identifier(table), role)
                for table in projection.tables
                if table not in projection.append_only
            ),
        ]
        statements = [*statements, *(g.as_string(conn) for g in grants)]
    return [_format_string(conn, s) for s in statements]


def define_guarded_functions(
    cur: Cursor[Any], projections: Iterable[Projection], runtime_role: str | None
) -> None:
    """(Schema owner, under the schema lock.) The functions through which the application's
    role creates and drops generations of the projections with append-only tables; with
    `runtime_role` (another role than the owner) they grant it what it needs on them."""
    guarded = [p for p in projections if p.append_only]
    if not guarded:
        return
    conn = cur.connection

    def literal(value: Any) -> str:
        return sql.Literal(value).as_string(conn)

    cur.execute(
        "SELECT quote_ident(n.nspname) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = 'projection_registry'::regclass"
    )
    row = cur.fetchone()
    assert row is not None, "the registry is created before the generations"
    home = row[0]  # the functions live next to the registry (search_path is pinned in them)
    names = literal([p.name for p in guarded]) + "::text[]"
    branches = "".join(
        f" {'IF' if n == 0 else 'ELSIF'} p_name = {literal(p.name)} THEN "
        + " ".join(f"EXECUTE format({literal(s)}, s);" for s in _guarded_ddl(conn, p, runtime_role))
        for n, p in enumerate(guarded)
    )
    drop_body = (
        "DECLARE s text := format('proj_%s_g%s', p_name, p_generation); BEGIN"
        f" IF NOT p_name = ANY({names}) OR p_generation < 1 THEN"
        "  RAISE EXCEPTION 'no generation % of a guarded projection %', p_generation, p_name;"
        " END IF;"
        f" IF EXISTS (SELECT 1 FROM {home}.projection_registry"
        "  WHERE name = p_name AND active_generation = p_generation) THEN"
        "  RAISE EXCEPTION 'generation % of projection % serves: it is not dropped',"
        "   p_generation, p_name USING ERRCODE = 'insufficient_privilege';"
        " END IF;"
        " EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', s);"
        " END"
    )
    create_body = (
        "DECLARE s text := format('proj_%s_g%s', p_name, p_generation); BEGIN"
        f" PERFORM {home}.{DROP_FUNCTION}(p_name, p_generation);"
        " EXECUTE format('CREATE SCHEMA %I', s);"
        f"{branches} END IF; END"
    )
    for function, body in ((DROP_FUNCTION, drop_body), (CREATE_FUNCTION, create_body)):
        name = sql.SQL("{}.{}").format(sql.SQL(home), sql.Identifier(function))
        cur.execute(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION {}(p_name text, p_generation int) RETURNS void"
                " LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {}"
            ).format(name, sql.Literal(body))
        )
        cur.execute(sql.SQL("REVOKE ALL ON FUNCTION {}(text, int) FROM PUBLIC").format(name))
        if runtime_role is not None:
            cur.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {}(text, int) TO {}").format(
                    name, sql.Identifier(runtime_role)
                )
            )
