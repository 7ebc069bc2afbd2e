"""Rebuild throughput of the statistics projection, next to the raw read-and-decode rate.

    .venv/bin/python bench/statistics_rebuild.py                 # 1,000,000 core events
    .venv/bin/python bench/statistics_rebuild.py --events 200000 --keep

A fresh database `spoa_bench_<random>` is created on SPOA_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end (unless --keep).

The core store is filled with a year of realistic history made by the real aggregates (every
rule holds): staff accounts and their logins, subscribers registered and changed by province
agents, second line, admins and the platform (INTEGRATION, not counted), alias claims, tickets
drafted, submitted, answered, resubmitted, rated and archived. Events are encoded with the core
store's eventsourcing mapper and written in bulk with COPY (no per-save round trips), in one
global time order across aggregates, as the live system would have stored them.

Then, on the same database and in this one process:
  raw   read every event in pages (the projection runtime's own query) and decode each through
        eventsourcing's mapper (`Mapper.to_domain_event`), doing nothing else;
  raw*  the same, decoding only the topics the statistics read (what the runtime decodes);
  es    eventsourcing's own reader: `recorder.select_notifications` + the mapper;
  rebuild  `Rebuilds.rebuild("statistics")`: blue/green from position 0, every page
        applied and tracked in its own transaction, then the swap.
Figures are events per second over the whole store. Target: rebuild >= 50,000 events/s and
>= 0.5 x raw. The machine's cores are shared with PostgreSQL (and anything else running), so
figures vary from run to run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from statistics_history import History
from subscribers_generate import bench_container, drop_database, fresh_database

from infra.bootstrap import Container
from infra.stores import CORE_EVENTS_TABLE
from projections.statistics.projection import StatisticsProjection


def generate(container: Container, total: int, seed: int) -> float:
    """Fill the core store with `total` events. Returns the seconds it took."""
    started = time.perf_counter()
    history = History(seed, datetime.now(UTC) - timedelta(days=365), timedelta(days=364), total)
    mapper = container.core.mapper
    written = 0
    chunk: list[StoredEvent] = []
    with container.engine.connect(autocommit=False) as conn:

        def flush() -> None:
            with (
                conn.cursor() as cur,
                cur.copy(
                    f"COPY {CORE_EVENTS_TABLE} (originator_id, originator_version, topic, state)"
                    " FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for se in chunk:
                    copy.write_row((se.originator_id, se.originator_version, se.topic, se.state))
            conn.commit()
            chunk.clear()

        chunk.extend(mapper.to_stored_event(e) for e in history.drain())
        while written + len(chunk) < total:
            history.step((written + len(chunk)) / total)
            chunk.extend(mapper.to_stored_event(e) for e in history.drain())
            if len(chunk) >= 50_000:
                written += len(chunk)
                flush()
                print(f"  generated {written:,} events", flush=True)
        written += len(chunk)
        flush()
        conn.execute(f"ANALYZE {CORE_EVENTS_TABLE}")
        conn.commit()
    return time.perf_counter() - started


def raw_read_decode(container: Container, only_statistics: bool, page: int = 5000) -> float:
    """Events/s reading every event in pages and decoding through the mapper."""
    mapper = container.core.mapper
    topics = StatisticsProjection.topics if only_statistics else None
    started = time.perf_counter()
    count = 0
    after = 0
    with container.engine.connect() as conn, conn.cursor() as cur:
        while True:
            cur.execute(
                f"SELECT notification_id, originator_id, originator_version, topic, state"
                f" FROM {CORE_EVENTS_TABLE} WHERE notification_id > %s"
                " ORDER BY notification_id LIMIT %s",
                (after, page),
                prepare=True,
            )
            rows = cur.fetchall()
            if not rows:
                break
            for row in rows:
                if topics is None or row[3] in topics:
                    mapper.to_domain_event(StoredEvent(row[1], row[2], row[3], bytes(row[4])))
            count += len(rows)
            after = rows[-1][0]
    return count / (time.perf_counter() - started)


def eventsourcing_read_decode(container: Container, page: int = 5000) -> float:
    """Events/s through eventsourcing's own notification reader plus the mapper."""
    recorder: Any = container.core.recorder
    mapper = container.core.mapper
    started = time.perf_counter()
    count = 0
    start = 1
    while True:
        notifications = recorder.select_notifications(start, page)
        if not notifications:
            break
        for n in notifications:
            mapper.to_domain_event(n)
        count += len(notifications)
        start = notifications[-1].id + 1
    return count / (time.perf_counter() - started)


def timed_rebuild(container: Container, page_size: int | None) -> tuple[float, int]:
    head = container.projection_status.store_head("core")
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] >= 5:
            last[0] = time.perf_counter()
            print(f"  rebuild at {done:,}/{total:,}", flush=True)

    started = time.perf_counter()
    generation = container.rebuilds.rebuild("statistics", progress=progress, page_size=page_size)
    return head / (time.perf_counter() - started), generation


def summary(container: Container) -> str:
    with container.engine.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(sum(count), 0), count(*) FROM rm.stat_proxy_ops")
        proxy, proxy_rows = cur.fetchone() or (0, 0)
        cur.execute(
            "SELECT count(*), count(DISTINCT (day, province, category, status))"
            " FROM rm.stat_tickets"
        )
        tickets, ticket_rows = cur.fetchone() or (0, 0)
        cur.execute("SELECT count(*) FROM rm.stat_answer_times")
        answers = (cur.fetchone() or (0,))[0]
        cur.execute(
            "SELECT topic LIKE 'spoa.subscribers:Subscriber.%', count(*)"
            f" FROM {CORE_EVENTS_TABLE} GROUP BY 1"
        )
        by_kind = dict(cur.fetchall())
    return (
        f"statistics: {proxy:,} proxy operations by staff in {proxy_rows:,} rows,"
        f" {tickets:,} submitted tickets in {ticket_rows:,} rows, {answers:,} answer times;"
        f" store: {by_kind.get(True, 0):,} subscriber events,"
        f" {by_kind.get(False, 0):,} others (tickets, accounts, alias claims)"
    )


def run(
    url: str, events: int, seed: int, page_size: int | None, skip_generate: bool, rounds: int
) -> None:
    container = bench_container(url)
    try:
        if not skip_generate:
            seconds = generate(container, events, seed)
            head = container.projection_status.store_head("core")
            print(f"generated {head:,} core events in {seconds:.1f}s ({head / seconds:,.0f}/s)")
        head = container.projection_status.store_head("core")
        print(f"{head:,} core events; {rounds} rounds, each: raw read+decode, then a rebuild")
        topics_only = "raw read+decode, statistics topics only"
        es_reader = "eventsourcing select_notifications+mapper"
        once: list[tuple[str, Callable[[], float]]] = [
            (topics_only, lambda: raw_read_decode(container, True)),
            (es_reader, lambda: eventsourcing_read_decode(container)),
        ]
        for label, measure in once:
            print(f"  {label:44s} {measure():>10,.0f} events/s", flush=True)
        pairs: list[tuple[float, float]] = []
        generation = 0
        for n in range(1, rounds + 1):
            raw = raw_read_decode(container, False)
            rebuild, generation = timed_rebuild(container, page_size)
            pairs.append((raw, rebuild))
            print(
                f"  round {n}: raw read+decode (every event, mapper) {raw:>9,.0f} events/s;"
                f" rebuild {rebuild:>9,.0f} events/s = {rebuild / raw:.2f} x raw",
                flush=True,
            )
        raws = sorted(p[0] for p in pairs)
        rebuilds = sorted(p[1] for p in pairs)
        ratios = sorted(p[1] / p[0] for p in pairs)
        mid = len(pairs) // 2
        print(
            f"raw read+decode (every event, mapper):   median {raws[mid]:>9,.0f}"
            f"  best {raws[-1]:>9,.0f} events/s"
        )
        print(
            f"rebuild statistics (blue/green, tracked): median {rebuilds[mid]:>9,.0f}"
            f"  best {rebuilds[-1]:>9,.0f} events/s  (generation {generation})"
        )
        print(f"rebuild / raw (same round):               median {ratios[mid]:.2f}"
              f"  best {ratios[-1]:.2f}")  # fmt: skip
        print(summary(container))
        met = rebuilds[mid] >= 50_000 and ratios[mid] >= 0.5
        print(
            f"target (>= 50,000 events/s and >= 0.5 x raw, medians): {'met' if met else 'NOT met'}"
        )
    finally:
        container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2009)
    parser.add_argument("--page-size", type=int, default=None, help="rebuild page size")
    parser.add_argument("--database-url", default=None, help="reuse a database (--keep'd)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--rounds", type=int, default=3, help="raw + rebuild measurements")
    args = parser.parse_args()
    url = args.database_url or fresh_database()
    print(f"database: {url}")
    try:
        run(url, args.events, args.seed, args.page_size, bool(args.database_url), args.rounds)
    finally:
        if not args.keep and not args.database_url:
            drop_database(url)


if __name__ == "__main__":
    main()
