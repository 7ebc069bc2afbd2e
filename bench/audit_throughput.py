"""Audit throughput: `audit verify` and `audit export` in events/s over a large core store.

    .venv/bin/python bench/audit_throughput.py [--events 1000000] [--server-url URL] [--keep]

Builds a fresh database on the server, bulk-inserts stored events the way the core store
writes them (interleaved subscriber streams of 10 events, real eventsourcing JSON with actor
meta, ~350 bytes each) with INSERT ... SELECT generate_series, lets the audit projection chain
them (its throughput is printed too), then times:

- verify: recompute the whole hash chain from the stored bytes and compare it with the kept
  links and checkpoints (ChainVerifier, what `spoa audit verify` runs);
- export: NDJSON of every event to /dev/null (AuditExporter, what `spoa audit export` runs);
- as-of: the version current at a random time for random streams, with the timeline index,
  and for one 10,000-event stream compared with reading that stream through.

Figures, not assertions: the machine is shared, so the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.bootstrap import Container
from infra.settings import Settings

START = datetime(2026, 1, 1, tzinfo=UTC)
STREAM_LENGTH = 10
LONG_STREAM = 10_000

# One statement generates a chunk of events server-side: stream s, version v, at position
# order g (versions interleave across streams, as real traffic does).
GENERATE = """
INSERT INTO core_events (originator_id, originator_version, topic, state)
SELECT md5('bench-stream-' || s)::uuid, v,
       CASE WHEN v = 1 THEN 'spoa.subscribers:Subscriber.MailboxRegistered'
            ELSE 'spoa.subscribers:Subscriber.PlanChanged' END,
       convert_to(
         '{"timestamp":{"_type_":"datetime_iso","_data_":"'
         || to_char(%(start)s::timestamptz + g * interval '1 second',
                    'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') || '"},'
         || CASE WHEN v = 1 THEN
              '"originator_topic":"spoa.subscribers:Subscriber","msisdn":"138'
              || lpad(s::text, 8, '0') || '","province":"GD","plan_code":"FREE","at":'
              || '{"_type_":"datetime_iso","_data_":"'
              || to_char(%(start)s::timestamptz + g * interval '1 second',
                         'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') || '"},'
            ELSE '"previous_plan_code":"FREE","plan_code":"PLUS_5",' END
         || '"meta":{"actor":{"account_id":"' || md5('agent-' || (g %% 50))::uuid
         || '","username":"agent' || (g %% 50) || '","role":"PROVINCE_AGENT",'
         || '"province":"GD"},"correlation_id":"' || md5('cid-' || g)
         || '","reason":"customer asked on the phone","ticket_id":null}}', 'UTF8')
FROM (SELECT g, (g - 1) %% %(streams)s AS s, (g - 1) / %(streams)s + 1 AS v
      FROM generate_series(%(low)s::bigint, %(high)s::bigint) g) x
ORDER BY g
"""


LONG = """
INSERT INTO core_events (originator_id, originator_version, topic, state)
SELECT %(id)s, v, 'spoa.subscribers:Subscriber.PlanChanged',
       convert_to(
         '{"timestamp":{"_type_":"datetime_iso","_data_":"'
         || to_char(%(start)s::timestamptz + v * interval '1 minute',
                    'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
         || '"},"previous_plan_code":"FREE","plan_code":"VIP_20","meta":{}}', 'UTF8')
FROM generate_series(1, %(n)s::int) v
"""


def settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        dev_mode=True,
        secret_key="bench-secret-key-0123456789abcdef",
        db_pool_size=2,
        log_json=False,
    )


def rate(count: int, seconds: float) -> str:
    return f"{count:>10,} events in {seconds:7.1f}s = {count / seconds:>10,.0f} events/s"


def generate(conn: psycopg.Connection[Any], events: int) -> None:
    streams = max(events // STREAM_LENGTH, 1)
    chunk = 100_000
    for low in range(1, events + 1, chunk):
        high = min(low + chunk - 1, events)
        conn.execute(GENERATE, {"start": START, "streams": streams, "low": low, "high": high})
        print(f"\r  generated {high:,}/{events:,}", end="", file=sys.stderr, flush=True)
    # One long stream (appended after the rest) for the as-of comparison.
    conn.execute(LONG, {"id": LONG_ID, "start": START, "n": LONG_STREAM})
    conn.execute("ANALYZE core_events")
    print(file=sys.stderr)


LONG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "bench-long-stream")


class NullSink:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text)
        return len(text)

    def flush(self) -> None:
        pass


def as_of_figures(container: Container, events: int) -> None:
    timeline = container.as_of.core_timeline
    streams = max(events // STREAM_LENGTH, 1)
    picks = [
        (
            uuid.UUID(bytes=bytes.fromhex(_md5(f"bench-stream-{random.randrange(streams)}"))),
            START + timedelta(seconds=random.randrange(events)),
        )
        for _ in range(2000)
    ]
    started = time.perf_counter()
    for originator_id, at in picks:
        timeline.version_at(originator_id, at)
    per = (time.perf_counter() - started) / len(picks)
    print(f"as-of lookup (index, 10-event streams): {per * 1e3:7.3f} ms per lookup")
    middle = START + timedelta(minutes=LONG_STREAM // 2)
    started = time.perf_counter()
    for _ in range(200):
        version = timeline.version_at(LONG_ID, middle)
    per = (time.perf_counter() - started) / 200
    print(f"as-of lookup (index, {LONG_STREAM:,}-event stream): {per * 1e3:7.3f} ms -> v{version}")
    started = time.perf_counter()
    scanned = container.core_log.stream(LONG_ID, 0, 1_000_000)
    found = sum(1 for r in scanned if r.event.timestamp <= middle)
    elapsed = time.perf_counter() - started
    print(
        f"as-of by reading the {LONG_STREAM:,}-event stream through: {elapsed * 1e3:7.1f} ms"
        f" -> v{found}"
    )


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - ids, not security


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--server-url",
        default=os.environ.get(
            "SPOA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name = f"spoa_bench_audit_{os.getpid()}"
    with psycopg.connect(args.server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(args.server_url, dbname=name)
    container = Container(settings(url), url)
    try:
        container.upgrade()
        total = args.events + LONG_STREAM
        print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()}")
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            generate(conn, args.events)
        print("generate (bulk insert): " + rate(total, time.perf_counter() - started))

        started = time.perf_counter()
        container.engine.catch_up("audit")
        print("audit projection (chain): " + rate(total, time.perf_counter() - started))

        started = time.perf_counter()
        report = container.audit_verifier.verify()
        print(
            "audit verify:             "
            + rate(report.events_checked, time.perf_counter() - started)
        )
        assert report.intact, report

        sink = NullSink()
        started = time.perf_counter()
        summary = container.audit_exporter.export(sink)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        size = sink.bytes / summary.events
        print(
            "audit export (NDJSON):    "
            + rate(summary.events, elapsed)
            + f", {sink.bytes / elapsed / 2**20:,.1f} MiB/s, {size:,.0f} B/event"
        )
        as_of_figures(container, args.events)
        print(f"load average at end: {os.getloadavg()}")
    finally:
        container.close()
        if not args.keep:
            with psycopg.connect(args.server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
