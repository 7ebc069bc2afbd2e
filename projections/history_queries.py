"""Reading the history read models (the rm.* views): pages of records, usage counts, points.

Every read takes the record times it may cover (`spans`, from the subscriber's registration
periods: domain/subscribers/periods.py), or None for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg import sql

from domain.history.records import MAIL_ARRIVAL_NOTICE, SELF_WRITTEN, RecordKind, columns_of
from projections.history import TABLES

Span = tuple[datetime | None, datetime | None]

# Asia/Shanghai has had no daylight saving since 1991: a calendar day starts at 16:00 UTC.
SHANGHAI = timedelta(hours=8)

_USAGE_KEYS = ("self_written_sms", "self_written_mms", "arrival_notifications")
USAGE_ORDER = (RecordKind.SMS, RecordKind.MMS)  # the kinds of the first two counters


def spans_condition(spans: Sequence[Span]) -> tuple[sql.Composable, list[Any]]:
    """` AND (occurred_at in one of the spans)` with its parameters; spans may be empty."""
    if not spans:
        return sql.SQL(" AND false"), []
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for low, high in spans:
        bounds = []
        if low is not None:
            bounds.append(sql.SQL("occurred_at >= %s"))
            params.append(low)
        if high is not None:
            bounds.append(sql.SQL("occurred_at < %s"))
            params.append(high)
        parts.append(sql.SQL(" AND ").join(bounds) if bounds else sql.SQL("true"))
    return sql.SQL(" AND ((") + sql.SQL(") OR (").join(parts) + sql.SQL("))"), params


def split_days(
    first_day: date, last_day: date, spans: Sequence[Span]
) -> tuple[list[date], list[tuple[datetime, datetime]]]:
    """The Shanghai days of the range that the spans cover whole, and the parts of the other
    days they cover (as UTC [start, end) pairs)."""
    whole: list[date] = []
    parts: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        start = datetime.combine(day, time(), tzinfo=UTC) - SHANGHAI
        end = start + timedelta(days=1)
        for low, high in spans:
            low = start if low is None else max(low, start)
            high = end if high is None else min(high, end)
            if low >= high:
                continue
            if (low, high) == (start, end):
                whole.append(day)
                break
            parts.append((low, high))
        day += timedelta(days=1)
    return whole, parts


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
        spans: Sequence[Span] | None,
        after: tuple[str, int, int] | None,
        limit: int,
        channel: str | None = None,
    ) -> list[dict[str, Any]]:
        query: sql.Composable = self._selects[kind]
        params: list[Any] = [msisdn]
        if spans is not None:
            condition, values = spans_condition(spans)
            query += condition
            params += values
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

    def usage_counts(
        self, msisdn: str, first_day: date, last_day: date, spans: Sequence[Span] | None
    ) -> dict[str, int]:
        """Whole days from the daily counters (one index probe per day: the key is
        (day, msisdn)); the parts of days a period boundary cuts, from the records."""
        if spans is None:
            days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
            parts: list[tuple[datetime, datetime]] = []
        else:
            days, parts = split_days(first_day, last_day, spans)
        totals = dict.fromkeys(_USAGE_KEYS, 0)
        with self._connect() as conn, conn.cursor() as cur:
            if days:
                cur.execute(
                    "SELECT coalesce(sum(self_written_sms), 0), coalesce(sum(self_written_mms), 0),"
                    " coalesce(sum(arrival_notifications), 0) FROM rm.usage_daily"
                    " WHERE day = ANY(%s) AND msisdn = %s",
                    (days, msisdn),
                    prepare=True,
                )
                row = cur.fetchone()
                for key, value in zip(_USAGE_KEYS, row or (0, 0, 0), strict=True):
                    totals[key] += int(value)
            if parts:
                for kind, key in zip(USAGE_ORDER, _USAGE_KEYS, strict=False):
                    written, arrivals = self._counted(cur, kind, msisdn, parts)
                    totals[key] += written
                    totals["arrival_notifications"] += arrivals
        return totals

    @staticmethod
    def _counted(
        cur: Any, kind: RecordKind, msisdn: str, parts: Sequence[tuple[datetime, datetime]]
    ) -> tuple[int, int]:
        """(self-written sent, mail-arrival notices) among one kind's records in the parts,
        counted as the history_usage projection counts them."""
        cur.execute(
            sql.SQL(
                "SELECT count(*) FILTER (WHERE category = %s AND direction = 'SENT'),"
                " count(*) FILTER (WHERE category = %s)"
                " FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS w(low, high)"
                " JOIN rm.{} r ON r.msisdn = %s AND r.occurred_at >= w.low"
                " AND r.occurred_at < w.high"
            ).format(sql.Identifier(TABLES[kind])),
            (
                SELF_WRITTEN,
                MAIL_ARRIVAL_NOTICE,
                [low for low, _ in parts],
                [high for _, high in parts],
                msisdn,
            ),
        )
        row = cur.fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def points(self, msisdns: Sequence[str]) -> dict[str, tuple[int, int]]:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT msisdn, balance, level FROM rm.points_latest WHERE msisdn = ANY(%s)",
                (list(msisdns),),
            )
            return {m: (int(b), int(lv)) for m, b, lv in cur.fetchall()}

    def points_within(self, msisdn: str, spans: Sequence[Span]) -> tuple[int, int] | None:
        """(balance, level) of the latest points record in the spans; None when none."""
        condition, values = spans_condition(spans)
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT balance, level FROM rm.points_records WHERE msisdn = %s")
                + condition
                + sql.SQL(" ORDER BY occurred_at DESC, batch_pos DESC, idx DESC LIMIT 1"),
                [msisdn, *values],
            )
            row = cur.fetchone()
        return (int(row[0]), int(row[1])) if row else None
