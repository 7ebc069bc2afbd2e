"""History read models: one table per record kind, daily usage counters, latest points.

Rows are copied in with COPY (batches hold up to 100,000 records); keyset pagination runs on
(msisdn, occurred_at DESC, batch_pos DESC, idx DESC).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import Cursor, sql

from domain.history.batch import PlatformBatch
from domain.history.records import (
    MAIL_ARRIVAL_NOTICE,
    SELF_WRITTEN,
    RecordKind,
    columns_of,
)
from projections.base import Envelope, Projection

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

# Asia/Shanghai has had no daylight saving since 1991: a calendar day is UTC+8.
SHANGHAI_OFFSET = timedelta(hours=8)


def shanghai_day(utc_iso: str) -> date:
    return (datetime.fromisoformat(utc_iso) + SHANGHAI_OFFSET).date()


class HistoryProjection(Projection):
    name = "history"
    store = "feed"
    topics = frozenset({PlatformBatch.RecordsAdded.TOPIC})
    tables = (*TABLES.values(), "usage_daily", "points_latest")
    page_size = 50  # a feed event carries up to 2,000 records

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        s = sql.Identifier(schema)
        for kind, table in TABLES.items():
            columns = [c.column for c in columns_of(kind)]
            definitions = ", ".join(
                f"{column} {SQL_TYPES.get(column, 'text')}"
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
                "CREATE TABLE {}.usage_daily (msisdn text NOT NULL, day date NOT NULL,"
                " self_written_sms bigint NOT NULL DEFAULT 0,"
                " self_written_mms bigint NOT NULL DEFAULT 0,"
                " arrival_notifications bigint NOT NULL DEFAULT 0,"
                " PRIMARY KEY (msisdn, day))"
            ).format(s)
        )
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.points_latest (msisdn text PRIMARY KEY,"
                " occurred_at timestamptz NOT NULL, batch_pos bigint NOT NULL,"
                " idx integer NOT NULL, balance bigint NOT NULL, level integer NOT NULL)"
            ).format(s)
        )

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[Envelope]) -> None:
        usage: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0])
        latest_points: dict[str, tuple[datetime, int, int, int, int]] = {}
        for envelope in events:
            chunk = envelope.event
            kind = RecordKind(chunk.kind)
            position = envelope.position
            rows = chunk.records
            self._copy_rows(cur, schema, kind, chunk.columns, position, chunk.offset, rows)
            if kind in (RecordKind.SMS, RecordKind.MMS):
                self._count_usage(kind, chunk.columns, rows, usage)
            elif kind is RecordKind.POINTS:
                self._track_points(chunk.columns, position, chunk.offset, rows, latest_points)
        if usage:
            self._merge_usage(cur, schema, usage)
        if latest_points:
            self._merge_points(cur, schema, latest_points)

    @staticmethod
    def _copy_rows(
        cur: Cursor[Any],
        schema: str,
        kind: RecordKind,
        columns: list[str],
        position: int,
        offset: int,
        rows: list[list[Any]],
    ) -> None:
        statement = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
            sql.Identifier(schema),
            sql.Identifier(TABLES[kind]),
            sql.SQL(", ").join(sql.Identifier(c) for c in ["batch_pos", "idx", *columns]),
        )
        with cur.copy(statement) as copy:
            write = copy.write_row
            for index, row in enumerate(rows, offset):
                write((position, index, *row))

    @staticmethod
    def _count_usage(
        kind: RecordKind,
        columns: list[str],
        rows: list[list[Any]],
        usage: dict[tuple[str, date], list[int]],
    ) -> None:
        at = columns.index("occurred_at")
        category = columns.index("category")
        direction = columns.index("direction")
        self_written_slot = 0 if kind is RecordKind.SMS else 1
        for row in rows:
            cat = row[category]
            if cat == SELF_WRITTEN and row[direction] == "SENT":
                usage[(row[0], shanghai_day(row[at]))][self_written_slot] += 1
            elif cat == MAIL_ARRIVAL_NOTICE:
                usage[(row[0], shanghai_day(row[at]))][2] += 1

    @staticmethod
    def _track_points(
        columns: list[str],
        position: int,
        offset: int,
        rows: list[list[Any]],
        latest: dict[str, tuple[datetime, int, int, int, int]],
    ) -> None:
        at, balance, level = (columns.index(c) for c in ("occurred_at", "balance", "level"))
        for index, row in enumerate(rows, offset):
            candidate = (datetime.fromisoformat(row[at]), position, index, row[balance], row[level])
            current = latest.get(row[0])
            if current is None or candidate[:3] > current[:3]:
                latest[row[0]] = candidate

    @staticmethod
    def _merge_usage(
        cur: Cursor[Any], schema: str, usage: dict[tuple[str, date], list[int]]
    ) -> None:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS usage_delta (msisdn text, day date, sms bigint,"
            " mms bigint, arrivals bigint) ON COMMIT DELETE ROWS"
        )
        with cur.copy("COPY usage_delta FROM STDIN") as copy:
            for (msisdn, day), (sms, mms, arrivals) in usage.items():
                copy.write_row((msisdn, day, sms, mms, arrivals))
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.usage_daily AS u (msisdn, day, self_written_sms,"
                " self_written_mms, arrival_notifications)"
                " SELECT msisdn, day, sms, mms, arrivals FROM usage_delta"
                " ON CONFLICT (msisdn, day) DO UPDATE SET"
                " self_written_sms = u.self_written_sms + excluded.self_written_sms,"
                " self_written_mms = u.self_written_mms + excluded.self_written_mms,"
                " arrival_notifications = u.arrival_notifications"
                " + excluded.arrival_notifications"
            ).format(sql.Identifier(schema))
        )

    @staticmethod
    def _merge_points(
        cur: Cursor[Any], schema: str, latest: dict[str, tuple[datetime, int, int, int, int]]
    ) -> None:
        cur.executemany(
            sql.SQL(
                "INSERT INTO {}.points_latest AS p (msisdn, occurred_at, batch_pos, idx,"
                " balance, level) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (msisdn) DO UPDATE SET occurred_at = excluded.occurred_at,"
                " batch_pos = excluded.batch_pos, idx = excluded.idx,"
                " balance = excluded.balance, level = excluded.level"
                " WHERE (excluded.occurred_at, excluded.batch_pos, excluded.idx)"
                " > (p.occurred_at, p.batch_pos, p.idx)"
            ).format(sql.Identifier(schema)),
            [(m, *values) for m, values in latest.items()],
        )


class HistoryQueries:
    """Reads the rm.* history views (keyset pagination, newest first)."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._selects = {
            kind: sql.SQL("SELECT batch_pos, idx, {} FROM rm.{} WHERE msisdn = %s").format(
                sql.SQL(", ").join(
                    sql.Identifier(c.column) for c in columns_of(kind) if c.column != "msisdn"
                ),
                sql.Identifier(table),
            )
            for kind, table in TABLES.items()
        }

    def page(
        self,
        kind: RecordKind,
        msisdn: str,
        start: datetime | None,
        end: datetime | None,
        after: tuple[str, int, int] | None,
        limit: int,
        channel: str | None = None,
    ) -> list[dict[str, Any]]:
        query = self._selects[kind]
        params: list[Any] = [msisdn]
        if start is not None:
            query += sql.SQL(" AND occurred_at >= %s")
            params.append(start)
        if end is not None:
            query += sql.SQL(" AND occurred_at < %s")
            params.append(end)
        if channel is not None:
            query += sql.SQL(" AND channel = %s")
            params.append(channel)
        if after is not None:
            query += sql.SQL(" AND (occurred_at, batch_pos, idx) < (%s::timestamptz, %s, %s)")
            params.extend(after)
        query += sql.SQL(" ORDER BY occurred_at DESC, batch_pos DESC, idx DESC LIMIT %s")
        params.append(limit)
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(query, params, prepare=True)
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def usage_counts(self, msisdn: str, first_day: date, last_day: date) -> dict[str, int]:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT coalesce(sum(self_written_sms), 0), coalesce(sum(self_written_mms), 0),"
                " coalesce(sum(arrival_notifications), 0) FROM rm.usage_daily"
                " WHERE msisdn = %s AND day BETWEEN %s AND %s",
                (msisdn, first_day, last_day),
            )
            row = cur.fetchone()
        sms, mms, arrivals = row if row else (0, 0, 0)
        return {
            "self_written_sms": int(sms),
            "self_written_mms": int(mms),
            "arrival_notifications": int(arrivals),
        }

    def points(self, msisdns: Sequence[str]) -> dict[str, tuple[int, int]]:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT msisdn, balance, level FROM rm.points_latest WHERE msisdn = ANY(%s)",
                (list(msisdns),),
            )
            return {m: (int(b), int(lv)) for m, b, lv in cur.fetchall()}


__all__ = ["UTC", "HistoryProjection", "HistoryQueries", "shanghai_day"]
