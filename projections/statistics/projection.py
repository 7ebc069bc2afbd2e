"""Statistics read model: proxy-operation counts, complaint tickets, answer times.

One projection named `statistics` over the core store, so one pass over the events feeds every
table, one tracking position says how far they all are, and `spoa projections rebuild
statistics` rebuilds them together (blue/green, by the engine). Rebuild speed is the product
here, so per page the handler decodes only the fields it reads (statistics_decode.py), reads
the little state it needs (subscriber provinces, per-ticket state) in one query each, folds
the events in memory (statistics_proxy.py, statistics_tickets.py) and writes every change with
one set-based statement per table (rows sent as one JSON document), pipelined.

Tables (generation schema; the last three exposed as rm.<table>):
  stat_subscriber_provinces  subscriber id -> province (internal)
  stat_proxy_ops             (day, province, operation, operator) -> count
  stat_tickets               one row per submitted ticket: day first submitted, province,
                             category, current status (complaint tickets are counted from it
                             at query time: no count table to keep in step with every status
                             change), and the due time while an answer is awaited (overdue is
                             decided at query time)
  stat_answer_times          one row per answer: business seconds waited
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql

from domain.support.lifecycle import CLOCK_RUNS_IN
from projections.runtime.base import Projection, RecordedEvent
from projections.statistics.decode import StatisticsDecoder
from projections.statistics.proxy import PROXY_TOPICS, ProxyKey, fold_proxy, provinces_needed
from projections.statistics.tickets import (
    SUBMITTED_TOPIC,
    TICKET_TOPICS,
    AnswerTime,
    TicketStat,
    fold_tickets,
)

STATISTICS_PROJECTION = "statistics"
WAITING = sorted(s.value for s in CLOCK_RUNS_IN)

# {t}: text compared byte-wise (COLLATE "C"): keys are codes and usernames, byte-wise index
# probes are cheaper than locale-aware ones, and the order is the same on every server.
_TEXT = 'text COLLATE "C" NOT NULL'
_DDL = (
    "CREATE TABLE {s}.stat_subscriber_provinces (id uuid PRIMARY KEY, province {t})",
    "CREATE TABLE {s}.stat_proxy_ops (day date NOT NULL, province {t}, operation {t},"
    " operator {t}, count bigint NOT NULL, PRIMARY KEY (day, province, operation, operator))",
    # A ticket row changes with nearly every ticket event. Its only b-tree is the key, and
    # `day` never changes, so updates are HOT (no index touched; fillfactor leaves room on
    # the page); date ranges are found through a BRIN index (rows arrive in about day order).
    "CREATE TABLE {s}.stat_tickets (id uuid PRIMARY KEY, day date NOT NULL, province {t},"
    " category {t}, status {t}, used_seconds bigint NOT NULL, answers int NOT NULL,"
    " due_at timestamptz) WITH (fillfactor = 80)",
    "CREATE INDEX ON {s}.stat_tickets USING brin (day)",
    # Append-only; exactly-once application is the engine's, so no unique key to maintain.
    "CREATE TABLE {s}.stat_answer_times (ticket_id uuid NOT NULL, seq int NOT NULL,"
    " day date NOT NULL, province {t}, seconds bigint NOT NULL,"
    " answered_at timestamptz NOT NULL)",
    "CREATE INDEX ON {s}.stat_answer_times USING brin (day)",
)


class StatisticsProjection(Projection):
    name = STATISTICS_PROJECTION
    store = "core"
    topics = PROXY_TOPICS | TICKET_TOPICS
    tables = ("stat_proxy_ops", "stat_tickets", "stat_answer_times")
    page_size = 10_000
    raw = True  # stored events, decoded by statistics_decode (falls back to the mapper)

    def __init__(self, decoder: StatisticsDecoder | None = None) -> None:
        self.decode = decoder or StatisticsDecoder()

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        s = sql.Identifier(schema)
        for statement in _DDL:
            cur.execute(sql.SQL(statement).format(s=s, t=sql.SQL(_TEXT)))

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        # A page allocates tens of thousands of small acyclic objects (decoded JSON, keys,
        # rows), all freed by reference counting; cyclic collections triggered by them only
        # cost time (a fifth of a rebuild), so the collector waits until the page is done.
        with gc_paused():
            self._apply(cur, schema, events)

    def _apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        subscriber_events: list[Any] = []
        ticket_events: list[Any] = []
        decode = self.decode
        for envelope in events:
            e = envelope.event if envelope.stored is None else decode(envelope.stored)
            (ticket_events if e.TOPIC in TICKET_TOPICS else subscriber_events).append(e)
        s = sql.Identifier(schema)
        # Pipelined: both look-ups go out together, and the server writes the proxy counts
        # while the tickets are folded here. Nothing is waited for until a result is needed.
        conn = cur.connection
        with conn.pipeline(), conn.cursor() as provinces_cur, conn.cursor() as tickets_cur:
            # Tables and tracking commit together, so a page lost in a crash is simply
            # applied again: no need to wait for the WAL flush (a rebuild commits every page).
            cur.execute("SET LOCAL synchronous_commit = off")
            provinces_wanted = provinces_needed(subscriber_events)
            if provinces_wanted:
                provinces_cur.execute(
                    sql.SQL(
                        "SELECT id, province FROM {}.stat_subscriber_provinces"
                        " WHERE id = ANY(%s::uuid[])"
                    ).format(s),
                    (uuid_array(provinces_wanted),),
                )
            # A ticket counts from its submission on: one submitted in this page has no
            # earlier state to load.
            tickets_wanted = {e.originator_id for e in ticket_events if e.TOPIC != SUBMITTED_TOPIC}
            if tickets_wanted:
                tickets_cur.execute(
                    sql.SQL(
                        "SELECT id, day, province, category, status, used_seconds, answers,"
                        " due_at FROM {}.stat_tickets WHERE id = ANY(%s::uuid[])"
                    ).format(s),
                    (uuid_array(tickets_wanted),),
                )
            if subscriber_events:
                provinces: dict[UUID, str] = {}
                if provinces_wanted:
                    provinces.update(provinces_cur.fetchall())
                self._write_proxy(cur, s, subscriber_events, provinces)
            if ticket_events:
                tickets: dict[UUID, TicketStat] = {}
                if tickets_wanted:
                    tickets.update((r[0], TicketStat(*r[1:])) for r in tickets_cur.fetchall())
                self._write_tickets(cur, s, ticket_events, tickets)

    # ------------------------------------------------------------------ proxy operations
    @staticmethod
    def _write_proxy(
        cur: Cursor[Any], s: sql.Identifier, events: list[Any], provinces: dict[UUID, str]
    ) -> None:
        counts: Counter[ProxyKey] = Counter()
        registered = fold_proxy(events, provinces, counts)
        if registered:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.stat_subscriber_provinces (id, province)"
                    " SELECT (r->>0)::uuid, r->>1 FROM jsonb_array_elements(%s::jsonb) r"
                    " ON CONFLICT (id) DO UPDATE SET province = EXCLUDED.province"
                ).format(s),
                (json_rows([i.hex, p] for i, p in registered.items()),),
            )
        if counts:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.stat_proxy_ops AS t (day, province, operation, operator, count)"
                    " SELECT (r->>0)::date, r->>1, r->>2, r->>3, (r->>4)::bigint"
                    " FROM jsonb_array_elements(%s::jsonb) r"
                    " ON CONFLICT (day, province, operation, operator)"
                    " DO UPDATE SET count = t.count + EXCLUDED.count"
                ).format(s),
                (json_rows([d.isoformat(), p, o, u, n] for (d, p, o, u), n in counts.items()),),
            )

    # ------------------------------------------------------------------ tickets
    @staticmethod
    def _write_tickets(
        cur: Cursor[Any], s: sql.Identifier, events: list[Any], tickets: dict[UUID, TicketStat]
    ) -> None:
        answers: list[AnswerTime] = []
        changed = fold_tickets(events, tickets, Counter(), answers)
        if changed:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.stat_tickets"
                    " (id, day, province, category, status, used_seconds, answers, due_at)"
                    " SELECT (r->>0)::uuid, (r->>1)::date, r->>2, r->>3, r->>4,"
                    " (r->>5)::bigint, (r->>6)::int, (r->>7)::timestamptz"
                    " FROM jsonb_array_elements(%s::jsonb) r"
                    " ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,"
                    " used_seconds = EXCLUDED.used_seconds, answers = EXCLUDED.answers,"
                    " due_at = EXCLUDED.due_at"
                ).format(s),
                (
                    json_rows(
                        [
                            tid.hex,
                            t.day.isoformat(),
                            t.province,
                            t.category,
                            t.status,
                            t.used_seconds,
                            t.answers,
                            t.due_at.isoformat() if t.due_at is not None else None,
                        ]
                        for tid in changed
                        for t in (tickets[tid],)
                    ),
                ),
            )
        if answers:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.stat_answer_times"
                    " (ticket_id, seq, day, province, seconds, answered_at)"
                    " SELECT (r->>0)::uuid, (r->>1)::int, (r->>2)::date, r->>3,"
                    " (r->>4)::bigint, (r->>5)::timestamptz"
                    " FROM jsonb_array_elements(%s::jsonb) r"
                ).format(s),
                (
                    json_rows(
                        [
                            a.ticket_id.hex,
                            a.seq,
                            a.day.isoformat(),
                            a.province,
                            a.seconds,
                            a.answered_at.isoformat(),
                        ]
                        for a in answers
                    ),
                ),
            )


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (reference counting still frees everything).

    Process-wide, so overlapping uses in other threads only ever delay a collection: the
    collector is re-enabled by whoever found it enabled.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def uuid_array(ids: Iterable[UUID]) -> str:
    """A uuid[] literal: much cheaper to send than a list adapted value by value."""
    return "{" + ",".join(u.hex for u in ids) + "}"


def json_rows(rows: Iterable[list[Any]]) -> str:
    """Rows as one JSON array, expanded server-side with jsonb_array_elements: one C-speed
    json.dumps instead of adapting every value of every column in Python."""
    return json.dumps(list(rows), ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------- queries
_PROXY_COLUMNS = {"DAY": "day", "PROVINCE": "province", "OPERATION": "operation",
                  "OPERATOR": "operator"}  # fmt: skip
_TICKET_COLUMNS = {"DAY": "day", "PROVINCE": "province", "CATEGORY": "category",
                   "STATUS": "status"}  # fmt: skip


class StatisticsQueries:
    """Reads the rm.stat_* views: grouped counts and answer-time figures."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect

    def _grouped(
        self,
        table: str,
        columns: dict[str, str],
        total: str,
        first: date,
        last: date,
        province: str | None,
        dimensions: Sequence[str],
        limit: int | None = None,
        categories: Sequence[str] | None = None,
    ) -> list[tuple[tuple[Any, ...], int]]:
        cols = [sql.Identifier(columns[d]) for d in dimensions]
        where: sql.Composable = sql.SQL("day BETWEEN %s AND %s")
        params: list[Any] = [first, last]
        if province is not None:
            where = sql.SQL("{} AND province = %s").format(where)
            params.append(province)
        if categories is not None:
            where = sql.SQL("{} AND category = ANY(%s)").format(where)
            params.append(list(categories))
        if cols:
            query = sql.SQL(
                "SELECT {cols}, {total} FROM rm.{t} WHERE {w} GROUP BY {cols} HAVING {total} > 0"
            ).format(
                cols=sql.SQL(", ").join(cols),
                total=sql.SQL(total),
                t=sql.Identifier(table),
                w=where,
            )
            if limit is not None:
                query = sql.SQL("{} LIMIT %s").format(query)
                params.append(limit)
        else:
            query = sql.SQL("SELECT coalesce({total}, 0) FROM rm.{t} WHERE {w}").format(
                total=sql.SQL(total), t=sql.Identifier(table), w=where
            )
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return [(tuple(row[:-1]), int(row[-1])) for row in cur.fetchall()]

    def proxy_operations(
        self,
        first: date,
        last: date,
        province: str | None,
        dimensions: Sequence[str],
        limit: int | None = None,
    ) -> list[tuple[tuple[Any, ...], int]]:
        return self._grouped(
            "stat_proxy_ops",
            _PROXY_COLUMNS,
            "sum(count)",
            first,
            last,
            province,
            dimensions,
            limit,
        )

    def complaint_tickets(
        self,
        first: date,
        last: date,
        province: str | None,
        dimensions: Sequence[str],
        limit: int | None = None,
        categories: Sequence[str] | None = None,
    ) -> list[tuple[tuple[Any, ...], int]]:
        """Submitted tickets of `categories` (None: every category), grouped."""
        return self._grouped(
            "stat_tickets",
            _TICKET_COLUMNS,
            "count(*)",
            first,
            last,
            province,
            dimensions,
            limit,
            categories,
        )

    def ticket_times(
        self, first: date, last: date, province: str | None, now: datetime
    ) -> tuple[float | None, float | None, int, int]:
        """(median minutes, p90 minutes, answers measured, tickets overdue at `now`)."""
        where = "day BETWEEN %s AND %s" + (" AND province = %s" if province is not None else "")
        params: list[Any] = [first, last] if province is None else [first, last, province]
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds),"
                " percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds), count(*)"
                f" FROM rm.stat_answer_times WHERE {where}",
                params,
            )
            median, p90, answered = cur.fetchone() or (None, None, 0)
            cur.execute(
                "SELECT count(*) FROM rm.stat_tickets"
                f" WHERE {where} AND due_at IS NOT NULL AND status = ANY(%s) AND due_at < %s",
                [*params, WAITING, now],
            )
            overdue_row = cur.fetchone()
        return (
            None if median is None else float(median) / 60.0,
            None if p90 is None else float(p90) / 60.0,
            int(answered),
            int(overdue_row[0]) if overdue_row else 0,
        )
