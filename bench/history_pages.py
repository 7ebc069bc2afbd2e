"""History page latency (50 rows, one subscriber) with 10 million records in the tables.

    .venv/bin/python bench/history_pages.py                  # 10,000,000 SMS records
    .venv/bin/python bench/history_pages.py --records 2000000 --queries 3000

Creates a fresh, migrated database on SPOA_BENCH_PG_URL (default: the machine's PostgreSQL),
fills the history projection's SMS table straight with COPY (ingesting 10M records through the
API would take minutes and measure something else: bench/history_ingest.py does that), then
times first pages and follow-up pages (keyset cursors) for random subscribers through the
query path the API uses (HistoryQueries via the application service), and usageCounts over
90 days and ten years (the counters filled from the same records). Prints p50/p99. Not a test.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subscribers_generate import bench_container, drop_database, fresh_database

from domain.history.records import RecordKind
from domain.subscribers.periods import EVERYTHING


def fill(url: str, records: int, subscribers: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    span = 300 * 24 * 3600
    rng = random.Random(4)
    with psycopg.connect(url, autocommit=True) as conn:
        schema = conn.execute(
            "SELECT 'proj_history_g' || active_generation FROM projection_registry"
            " WHERE name = 'history'"
        ).fetchone()[0]
        chunk = 500_000
        done = 0
        while done < records:
            out = io.StringIO()
            for n in range(done, min(records, done + chunk)):
                at = start + timedelta(seconds=rng.randrange(span))
                out.write(
                    f"{1 + n // 2000}\t{n}\t138{n % subscribers:08d}\tr{n}\t{at.isoformat()}\t"
                    "SENT\t10658139\tDELIVERED\t10\tSELF_WRITTEN\t\\N\n"
                )
            with (
                conn.cursor() as cur,
                cur.copy(
                    f"COPY {schema}.sms_records (batch_pos, idx, msisdn, source_record_id,"
                    " occurred_at, direction, peer, status, fee_fen, category, size_bytes)"
                    " FROM STDIN"
                ) as copy,
            ):
                copy.write(out.getvalue())
            done = min(records, done + chunk)
            print(f"  loaded {done:,} records", file=sys.stderr)
        conn.execute(f"ANALYZE {schema}.sms_records")
        usage = conn.execute(
            "SELECT 'proj_history_usage_g' || active_generation FROM projection_registry"
            " WHERE name = 'history_usage'"
        ).fetchone()[0]
        conn.execute(
            f"INSERT INTO {usage}.usage_daily (msisdn, day, self_written_sms)"
            " SELECT msisdn, (occurred_at AT TIME ZONE INTERVAL '+08:00')::date, count(*)"
            f" FROM {schema}.sms_records GROUP BY 1, 2"
        )
        conn.execute(f"ANALYZE {usage}.usage_daily")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.2f} ms, p99 {p99:.2f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=5000)
    args = parser.parse_args()
    url = fresh_database()
    try:
        container = bench_container(url)
        started = time.perf_counter()
        fill(url, args.records, args.subscribers)
        print(f"filled {args.records:,} records in {time.perf_counter() - started:.0f} s")
        history = container.history
        rng = random.Random(9)
        first_pages: list[float] = []
        next_pages: list[float] = []
        for _ in range(args.queries):
            msisdn = f"138{rng.randrange(args.subscribers):08d}"
            t0 = time.perf_counter()
            rows = history.records(RecordKind.SMS, msisdn, None, None, None, 51, window=EVERYTHING)
            first_pages.append((time.perf_counter() - t0) * 1000)
            if len(rows) > 50:
                last = rows[49]
                keyset = (last["occurred_at"].isoformat(), last["batch_pos"], last["idx"])
                t0 = time.perf_counter()
                history.records(RecordKind.SMS, msisdn, None, None, keyset, 51, window=EVERYTHING)
                next_pages.append((time.perf_counter() - t0) * 1000)
        usage: dict[int, list[float]] = {90: [], 3660: []}
        for days, samples in usage.items():
            for _ in range(args.queries // 5):
                msisdn = f"138{rng.randrange(args.subscribers):08d}"
                first = date(2026, 1, 1) + timedelta(days=rng.randrange(300))
                t0 = time.perf_counter()
                history.usage_counts(
                    msisdn, first, first + timedelta(days=days - 1), window=EVERYTHING
                )
                samples.append((time.perf_counter() - t0) * 1000)
        with psycopg.connect(url) as conn:
            total = conn.execute("SELECT count(*) FROM rm.sms_records").fetchone()[0]
            counters = conn.execute("SELECT count(*) FROM rm.usage_daily").fetchone()[0]
        container.close()
    finally:
        drop_database(url)
    print(f"records in rm.sms_records: {total:,} across {args.subscribers:,} subscribers")
    print(f"first page (50 rows, newest first): {percentiles(first_pages)}  [target p99 <= 10]")
    print(f"next page (keyset cursor):          {percentiles(next_pages)}")
    print(f"usage counters (rm.usage_daily rows): {counters:,}")
    for days, samples in usage.items():
        print(f"usageCounts over {days:>4} days:        {percentiles(samples)}")


if __name__ == "__main__":
    main()
