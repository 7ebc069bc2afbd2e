"""History ingestion end to end: NDJSON POSTs until every record is queryable, next to the raw
PostgreSQL COPY rate into a table of the same shape, measured by this same script. Also prints
when the daily usage counters (their own projection, history_usage) have caught up.

    .venv/bin/python bench/history_ingest.py                       # 1,000,000 SMS records
    .venv/bin/python bench/history_ingest.py --records 200000 --batch 50000 --parallel 2

Creates a fresh database on SPOA_BENCH_PG_URL (default: the machine's PostgreSQL), starts
`spoa serve` against it (projections in-process, as by default), logs in as an INTEGRATION
account and POSTs batches to /ingest/sms. The clock runs from the first byte sent until the
history projection has applied the last batch (the records are then queryable). Prints the
figures. Not a test.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subscribers_generate import BENCH_PASSWORD, bench_container, drop_database, fresh_database
from subscribers_mutations import free_port, start_server

from application.access.service import UsernameTakenError
from domain.access.permissions import Role


def ndjson_batches(total: int, batch: int, subscribers: int) -> list[bytes]:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    bodies = []
    for first in range(0, total, batch):
        out = io.StringIO()
        for n in range(first, min(total, first + batch)):
            at = start + timedelta(seconds=n * 7)
            category = "SELF_WRITTEN" if n % 3 else "MAIL_ARRIVAL_NOTICE"
            out.write(
                json.dumps(
                    {
                        "msisdn": f"138{n % subscribers:08d}",
                        "sourceRecordId": f"sms-{n}",
                        "occurredAt": at.isoformat(),
                        "direction": "SENT" if category == "SELF_WRITTEN" else "RECEIVED",
                        "peer": "10658139",
                        "status": "DELIVERED",
                        "feeFen": 10,
                        "category": category,
                        "sizeBytes": None,
                    }
                )
            )
            out.write("\n")
        bodies.append(out.getvalue().encode())
    return bodies


def applied(url: str, name: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT t.position FROM projection_registry r JOIN projection_tracking t"
            " ON t.name = r.name AND t.generation = r.active_generation WHERE r.name = %s",
            (name,),
        ).fetchone()
    return int(row[0]) if row else 0


def raw_copy_rate(url: str, bodies: list[bytes]) -> tuple[int, float]:
    """COPY the same records, pre-rendered as COPY text, into a table made LIKE the history
    projection's own SMS table (same columns, same index): the database's own ceiling for
    this data on this machine."""
    rows = io.StringIO()
    count = 0
    for body in bodies:
        for n, line in enumerate(body.splitlines()):
            r = json.loads(line)
            rows.write(
                f"1\t{n}\t{r['msisdn']}\t{r['sourceRecordId']}\t{r['occurredAt']}\t"
                f"{r['direction']}\t{r['peer']}\t{r['status']}\t{r['feeFen']}\t"
                f"{r['category']}\t\\N\n"
            )
            count += 1
    data = rows.getvalue().encode()
    timings = []
    with psycopg.connect(url, autocommit=True) as conn:
        for attempt in range(ROUNDS):
            table = f"copy_bench_{attempt}"
            conn.execute(f"CREATE TABLE {table} (LIKE proj_history_g1.sms_records INCLUDING ALL)")
            conn.execute("CHECKPOINT")  # each round starts from the same WAL state
            started = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
                for offset in range(0, len(data), 1 << 20):
                    copy.write(data[offset : offset + (1 << 20)])
            timings.append(time.perf_counter() - started)
            conn.execute(f"DROP TABLE {table}")
    return count, statistics.median(timings)


ROUNDS = 3  # the COPY figure is the median of three (it varies by a third run to run)


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far by this machine's processes, grouped: PostgreSQL, spoa, others."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        group = (
            "postgres"
            if command.startswith("postgres")
            else "spoa serve"
            if "api.cli.main serve" in command
            else "spoa projections"
            if "api.cli.main projections" in command
            else "this client"
            if int(pid) == os.getpid()
            else "other"
        )
        used[group] = used.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=50_000)
    parser.add_argument("--parallel", type=int, default=2, help="concurrent POSTs")
    parser.add_argument(
        "--separate-runner",
        action="store_true",
        help="run projections as their own process (`spoa projections run`, as documented"
        " for throughput) instead of inside `spoa serve`",
    )
    args = parser.parse_args()

    url = fresh_database()
    server = runner = None
    try:
        container = bench_container(url)
        try:
            container.access.create_account(
                None,
                username="bench.platform",
                display_name="bench",
                role=Role.INTEGRATION,
                province=None,
                initial_password=BENCH_PASSWORD,
            )
        except UsernameTakenError:
            pass
        finally:
            container.close()
        bodies = ndjson_batches(args.records, args.batch, args.subscribers)
        megabytes = sum(map(len, bodies)) / 1e6
        port = free_port()
        if args.separate_runner:
            env = {"SPOA_PROJECTIONS_IN_PROCESS": "0"}
            server = start_server(url, port, env, [])
            runner = subprocess.Popen(
                [sys.executable, "-m", "api.cli.main", "projections", "run"],
                env={
                    **os.environ,
                    **env,
                    "SPOA_DATABASE_URL": url,
                    "SPOA_DEV_MODE": "1",
                    "SPOA_LOG_LEVEL": "WARNING",
                    "SPOA_SECRET_KEY": "bench-secret-key-0123456789abcdef",
                },
                cwd=Path(__file__).resolve().parents[1],
            )
        else:
            server = start_server(url, port, {}, [])
        base = f"http://127.0.0.1:{port}"
        login = (
            'mutation { login(username: "bench.platform", password: "'
            + BENCH_PASSWORD
            + '") { session { token } } }'
        )
        token = httpx.post(f"{base}/graphql", json={"query": login}).json()["data"]["login"][
            "session"
        ]["token"]
        headers = {"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"}

        def post(item: tuple[int, bytes]) -> int:
            number, body = item
            response = httpx.post(
                f"{base}/ingest/sms?source=bench&batchId=batch-{number}",
                content=body,
                headers=headers,
                timeout=600,
            )
            response.raise_for_status()
            return int(response.json()["position"])

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # as before each COPY round
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        with ThreadPoolExecutor(args.parallel) as pool:
            positions = list(pool.map(post, enumerate(bodies)))
        stored = time.perf_counter() - started
        target = max(positions)
        while applied(url, "history") < target:
            time.sleep(0.02)
        queryable = time.perf_counter() - started
        while applied(url, "history_usage") < target:
            time.sleep(0.02)
        counted = time.perf_counter() - started
        cpu_after = cpu_seconds()
        copied, copy_seconds = raw_copy_rate(url, bodies)
    finally:
        for process in (server, runner):
            if process is not None:
                process.terminate()
                process.wait(30)
        drop_database(url)
    rate = args.records / queryable
    copy_rate = copied / copy_seconds
    where = "own process" if args.separate_runner else "inside spoa serve"
    print(
        f"records: {args.records:,} in {len(bodies)} batches of {args.batch:,}"
        f" ({megabytes:.0f} MB NDJSON, {args.parallel} concurrent POSTs,"
        f" projections {where})"
    )
    print(f"stored (all POSTs answered): {stored:.1f} s = {args.records / stored:,.0f} records/s")
    print(
        f"queryable (projection applied): {queryable:.1f} s = {rate:,.0f} records/s"
        f"  [target >= 35,000]"
    )
    print(
        f"usage counters caught up (projection history_usage): {counted:.1f} s"
        f" = {args.records / counted:,.0f} records/s"
    )
    print(
        f"raw COPY into a same-shape indexed table (median of {ROUNDS}): {copy_seconds:.1f} s"
        f" = {copy_rate:,.0f} records/s"
    )
    print(f"end-to-end / raw COPY = {rate / copy_rate:.2f}  [target >= 0.5]")
    spent = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items()}
    print(
        f"CPU seconds until the counters caught up ({os.cpu_count()} cores):  "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(spent.items(), key=lambda kv: -kv[1]))
    )


if __name__ == "__main__":
    main()
