"""History read models: one table per record kind, daily usage counters, latest points.

A chunk of up to 2,000 records goes from its stored JSON into its table in one statement that
PostgreSQL parses (jsonb), so the projection builds no row in Python; keyset pagination runs
on (msisdn, occurred_at DESC, batch_pos DESC, idx DESC).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

import orjson
from psycopg import Cursor, sql

from domain.history.batch import PlatformBatch
from domain.history.records import (
    MAIL_ARRIVAL_NOTICE,
    SELF_WRITTEN,
    RecordKind,
    columns_of,
)
from projections.runtime.base import Projection, RecordedEvent

TABLES: dict[RecordKind, str] = {
    RecordKind.SMS: "sms_records",
    RecordKind.MMS: "mms_records",
    RecordKind.WAP_PUSH: "wap_push_records",
    RecordKind.CAMPAIGN: "campaign_entries",
    RecordKind.CHARGE: "charges",
    RecordKind.LOGIN: "login_records",
    RecordKind.USAGE: "usage_records",
    RecordKind.SYNC: "sync_records",
    RecordKind.POINTS: "points_records",
}

SQL_TYPES = {
    "msisdn": "text",
    "source_record_id": "text",
    "occurred_at": "timestamptz",
    "fee_fen": "bigint",
    "size_bytes": "bigint",
    "rank": "integer",
    "won": "boolean",
    "amount_fen": "bigint",
    "success": "boolean",
    "delta": "bigint",
    "balance": "bigint",
    "level": "integer",
}

# Asia/Shanghai has had no daylight saving since 1991: a calendar day is UTC+8 (the usage
# statement uses the fixed offset, INTERVAL '+08:00').
USAGE_KINDS = frozenset({RecordKind.SMS, RecordKind.MMS})

Statements = dict[tuple[str, RecordKind, tuple[str, ...]], sql.Composed]


class HistoryProjection(Projection):
    """One table per record kind, and each subscriber's latest points standing.

    Each chunk's rows go from its stored JSON into the kind's table in one statement that
    PostgreSQL parses (jsonb): the projection builds no row in Python.
    """

    name = "history"
    # 2: msisdn COLLATE "C"; the usage counters moved to their own projection, history_usage
    version = 2
    store = "feed"
    topics = frozenset({PlatformBatch.RecordsAdded.TOPIC})
    raw = True  # the stored JSON goes to PostgreSQL as it is
    tables = (*TABLES.values(), "points_latest")
    page_size = 50  # a feed event carries up to 2,000 records

    def __init__(self) -> None:
        self._statements: Statements = {}

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        s = sql.Identifier(schema)
        for kind, table in TABLES.items():
            columns = [c.column for c in columns_of(kind)]
            definitions = ", ".join(
                f"{column} {SQL_TYPES.get(column, 'text')}"
                + (' COLLATE "C"' if column == "msisdn" else "")
                + (" NOT NULL" if column in ("msisdn", "occurred_at") else "")
                for column in columns
            )
            cur.execute(
                sql.SQL(
                    "CREATE TABLE {}.{} (batch_pos bigint NOT NULL, idx integer NOT NULL, "
                    + definitions
                    + ")"
                ).format(s, sql.Identifier(table))
            )
            cur.execute(
                sql.SQL(
                    "CREATE INDEX ON {}.{} (msisdn, occurred_at DESC, batch_pos DESC, idx DESC)"
                ).format(s, sql.Identifier(table))
            )
        cur.execute(
            sql.SQL(
                'CREATE TABLE {}.points_latest (msisdn text COLLATE "C" PRIMARY KEY,'
                " occurred_at timestamptz NOT NULL, batch_pos bigint NOT NULL,"
                " idx integer NOT NULL, balance bigint NOT NULL, level integer NOT NULL)"
            ).format(s)
        )

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        for envelope in events:
            document = envelope.document()
            kind, columns, offset = chunk_header(document)
            statement = cached(self._statements, chunk_statement, schema, kind, columns)
            cur.execute(
                statement,
                {"position": envelope.position, "offset": offset, "document": document.decode()},
                prepare=True,
            )


class HistoryUsageProjection(Projection):
    """Daily usage counters per msisdn and Asia/Shanghai day (seed §2): self-written SMS,
    self-written MMS and mail-arrival notifications, behind usageCounts(from, to).

    Keyed (day, msisdn): a batch touches a few days, so its upserts stay in a few hot parts of
    the index however many subscribers there are (a third cheaper than (msisdn, day) in
    bench/history_ingest.py), and a query probes once per day of its range.

    A read model of its own beside `history`: records are queryable as soon as they are in
    their tables, while the counters (an upsert per msisdn and day, as much work as the records
    themselves when a batch spans many subscribers) follow on a connection of their own.
    usageCounts(consistentWith:) waits for this projection.
    """

    name = "history_usage"
    store = "feed"
    topics = frozenset({PlatformBatch.RecordsAdded.TOPIC})
    raw = True
    tables = ("usage_daily",)
    page_size = 50

    def __init__(self) -> None:
        self._statements: Statements = {}

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        cur.execute(
            sql.SQL(
                'CREATE TABLE {}.usage_daily (msisdn text COLLATE "C" NOT NULL,'
                " day date NOT NULL,"
                " self_written_sms bigint NOT NULL DEFAULT 0,"
                " self_written_mms bigint NOT NULL DEFAULT 0,"
                " arrival_notifications bigint NOT NULL DEFAULT 0,"
                " PRIMARY KEY (day, msisdn))"
            ).format(sql.Identifier(schema))
        )

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        for envelope in events:
            document = envelope.document()
            kind, columns, _ = chunk_header(document)
            if kind in USAGE_KINDS:
                statement = cached(self._statements, usage_statement, schema, kind, columns)
                cur.execute(statement, {"document": document.decode()}, prepare=True)


def stored_document(envelope: RecordedEvent) -> bytes:
    return envelope.document()


def cached(
    statements: Statements,
    build: Callable[[str, RecordKind, Sequence[str]], sql.Composed],
    schema: str,
    kind: RecordKind,
    columns: Sequence[str],
) -> sql.Composed:
    key = (schema, kind, tuple(columns))
    statement = statements.get(key)
    if statement is None:
        statement = statements[key] = build(schema, kind, columns)
    return statement


def chunk_header(document: bytes) -> tuple[RecordKind, list[str], int]:
    """kind, columns and offset of a RecordsAdded state, read from the JSON before its rows
    (eventsourcing writes the event's fields in order, `records` last); the whole document
    is parsed only if that ever stops being so."""
    cut = document.find(b',"records":')
    head: Any = None
    if cut > 0:
        try:
            head = orjson.loads(document[:cut] + b"}")
        except orjson.JSONDecodeError:
            head = None
    if not isinstance(head, dict) or not {"kind", "columns", "offset"} <= head.keys():
        head = orjson.loads(document)
    return RecordKind(head["kind"]), list(head["columns"]), int(head["offset"])


def rows_cte(columns: Sequence[str], wanted: Sequence[str] | None = None) -> sql.Composed:
    """`WITH rows AS (...)`: a chunk's records as typed rows, from the `document` parameter,
    with batch_pos and idx (from the `position` and `offset` parameters) unless `wanted`
    names the only columns needed. `columns` are the chunk's own, as stored with it."""
    values = sql.SQL(", ").join(
        sql.SQL("r->>{} AS {}").format(sql.Literal(i), sql.Identifier(c))
        if SQL_TYPES.get(c, "text") == "text"
        else sql.SQL("(r->>{})::{} AS {}").format(
            sql.Literal(i), sql.SQL(SQL_TYPES[c]), sql.Identifier(c)
        )
        for i, c in enumerate(columns)
        if wanted is None or c in wanted
    )
    source = sql.SQL(
        " FROM jsonb_array_elements((%(document)s::jsonb)->'records') WITH ORDINALITY AS e(r, n))"
    )
    if wanted is not None:
        return sql.SQL("WITH rows AS (SELECT {}").format(values) + source
    head = sql.SQL(
        "WITH rows AS (SELECT %(position)s::bigint AS batch_pos,"
        " (%(offset)s::int + e.n::int - 1) AS idx, {}"
    ).format(values)
    return head + source


def chunk_statement(schema: str, kind: RecordKind, columns: Sequence[str]) -> sql.Composed:
    """INSERT one chunk's rows (parameters: position, offset, document) into the kind's table;
    for POINTS also the latest standing per msisdn."""
    s = sql.Identifier(schema)
    insert = sql.SQL("INSERT INTO {}.{} (batch_pos, idx, {}) SELECT * FROM rows").format(
        s,
        sql.Identifier(TABLES[kind]),
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
    )
    if kind is not RecordKind.POINTS:
        return rows_cte(columns) + sql.SQL(" ") + insert
    return rows_cte(columns) + sql.SQL(
        ", ins AS ({insert})"
        " INSERT INTO {s}.points_latest AS p (msisdn, occurred_at, batch_pos, idx,"
        " balance, level)"
        " SELECT DISTINCT ON (msisdn) msisdn, occurred_at, batch_pos, idx, balance, level"
        " FROM rows ORDER BY msisdn, occurred_at DESC, idx DESC"
        " ON CONFLICT (msisdn) DO UPDATE SET occurred_at = excluded.occurred_at,"
        " batch_pos = excluded.batch_pos, idx = excluded.idx,"
        " balance = excluded.balance, level = excluded.level"
        " WHERE (excluded.occurred_at, excluded.batch_pos, excluded.idx)"
        " > (p.occurred_at, p.batch_pos, p.idx)"
    ).format(insert=insert, s=s)


def usage_statement(schema: str, kind: RecordKind, columns: Sequence[str]) -> sql.Composed:
    """Upsert one SMS or MMS chunk's counts per msisdn and Shanghai day (parameter: document)."""
    self_written = sql.SQL("(category = {} AND direction = 'SENT')").format(
        sql.Literal(SELF_WRITTEN)
    )
    arrival = sql.SQL("category = {}").format(sql.Literal(MAIL_ARRIVAL_NOTICE))
    written = sql.SQL("count(*) FILTER (WHERE {})").format(self_written)
    none = sql.SQL("0")
    sms, mms = (written, none) if kind is RecordKind.SMS else (none, written)
    return rows_cte(columns, ("msisdn", "occurred_at", "category", "direction")) + sql.SQL(
        " INSERT INTO {s}.usage_daily AS u (msisdn, day, self_written_sms, self_written_mms,"
        " arrival_notifications)"
        " SELECT msisdn, (occurred_at AT TIME ZONE INTERVAL '+08:00')::date, {sms}, {mms},"
        " count(*) FILTER (WHERE {arrival})"
        " FROM rows WHERE {self_written} OR {arrival} GROUP BY 1, 2"
        " ON CONFLICT (msisdn, day) DO UPDATE SET"
        " self_written_sms = u.self_written_sms + excluded.self_written_sms,"
        " self_written_mms = u.self_written_mms + excluded.self_written_mms,"
        " arrival_notifications = u.arrival_notifications + excluded.arrival_notifications"
    ).format(s=sql.Identifier(schema), sms=sms, mms=mms, arrival=arrival, self_written=self_written)


__all__ = ["UTC", "HistoryProjection", "HistoryUsageProjection"]
