"""Webhook delivery: deliveries per second draining a backlog, and commit → received latency
under a steady load of proxy mutations.

    .venv/bin/python bench/webhook_delivery.py                  # 100,000 events; 200/s for 30 s
    .venv/bin/python bench/webhook_delivery.py --events 20000 --phase drain

Drain: a fresh database (on SPOA_BENCH_PG_URL, default the machine's PostgreSQL) with an
endpoint subscribed to `Subscriber.*` that points at a lean local receiver (asyncio, answers
204 at once, checks every 1000th signature with the standardwebhooks verifier); --events core
events stored first (mailboxes saved in batches); then `spoa webhooks run` starts in a
subprocess and the clock runs until the receiver has every delivery, so the figure includes
the log follower creating the deliveries (and the process's start-up, shown apart).

Latency: another fresh database with --mailboxes mailboxes and the endpoint; `spoa serve`
(projections and dispatcher in process, as in production) receives --rate proxy mutations per
second (open loop: each request at its scheduled time, over keep-alive connections) for
--seconds; the receiver takes, per delivery, its arrival time minus the event's occurredAt
(the command's time, taken just before its commit: the figure errs long, never short).

Prints the figures, the CPU seconds each party spent and the machine's load average (other
jobs on a shared machine show there). Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import httpx
from serving import (
    KeepAliveConnection,
    database_cpu_seconds,
    free_port,
    login,
    machine_busy,
    process_cpu_seconds,
    server_cpu_seconds,
    start_server,
)
from subscribers_generate import bench_container, drop_database, ensure_accounts, fresh_database
from webhook_receiver import Received, start_receiver, store_events

from application.authz import operator_principal
from application.webhooks.endpoints import EndpointInput
from domain.access.permissions import Role
from infra.database import ConnectionParams

ROOT = Path(__file__).resolve().parents[1]
SECRET_KEY = "bench-secret-key-0123456789abcdef"  # (bench_settings' and start_server's)
OPERATOR = operator_principal("bench", Role.SUPER_ADMIN)


def endpoint_for(url: str, port: int, state: Received, events: int, per_mailbox: int) -> int:
    container = bench_container(url)
    try:
        created = container.webhook_endpoints.create(
            OPERATOR, EndpointInput(f"http://127.0.0.1:{port}/hook", ["Subscriber.*"], "bench")
        )
        state.secret = created.secret
        if events:
            store_events(container, events, per_mailbox)
        ensure_accounts(container)
        return container.core_log.head()
    finally:
        container.close()


def load_average() -> str:
    return "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())


async def drain(url: str, events: int, concurrency: int) -> None:
    state = Received()
    server, port = await start_receiver(state)
    print(f"drain: storing {events:,} events ...", flush=True)
    await asyncio.to_thread(endpoint_for, url, port, state, events, 10)
    expected = events  # every event is a Subscriber event, to the one endpoint
    env = {
        **os.environ,
        "SPOA_DATABASE_URL": url,
        "SPOA_DEV_MODE": "1",
        "SPOA_SECRET_KEY": SECRET_KEY,
        "SPOA_LOG_LEVEL": "WARNING",
        "SPOA_WEBHOOK_CONCURRENCY": str(concurrency),
    }
    dbname = ConnectionParams.from_url(url).dbname
    db0, me0, (busy0, total0) = database_cpu_seconds(dbname), time.process_time(), machine_busy()
    print(f"drain: `spoa webhooks run` starts; {load_average()}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "webhooks", "run"], cwd=ROOT, env=env
    )
    last = started
    deadline = started + 1800
    cpu = 0.0
    try:
        while state.count < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
            cpu = process_cpu_seconds(process.pid)
            if time.perf_counter() - last >= 10:
                last = time.perf_counter()
                print(f"  {state.count:,} delivered; {load_average()}", flush=True)
        finished = time.perf_counter()
        # (before the dispatcher's connections, and their backends, go away)
        db, me = database_cpu_seconds(dbname) - db0, time.process_time() - me0
    finally:
        process.terminate()
        process.wait(30)
        server.close()
    busy1, total1 = machine_busy()
    first = (state.first_at or 0) - (time.time() - (time.perf_counter() - started))
    steady = (state.last_at or 0) - (state.first_at or 0)
    print(
        f"drain: {state.count:,} of {expected:,} delivered ({len(state.ids):,} distinct"
        f" webhook-ids, {state.verified} signatures verified) in {finished - started:.1f} s:"
        f" {state.count / (finished - started):,.0f} deliveries/s from the dispatcher's start"
        f" (its first delivery after {first:.1f} s: start-up and first page),"
        f" {state.count / max(steady, 1e-9):,.0f}/s from the first delivery to the last"
    )
    print(
        f"drain: CPU s: dispatcher {cpu:.1f}, PostgreSQL {db:.1f}, receiver {me:.1f};"
        f" machine {100 * (busy1 - busy0) / max(1, total1 - total0):.0f}% busy;"
        f" {load_average()}"
    )


async def latency(
    url: str, mailboxes: int, rate: float, seconds: float, concurrency: int, apart: bool
) -> None:
    state = Received()
    server, receiver_port = await start_receiver(state)
    where = "its own process" if apart else "`spoa serve`"
    print(f"latency: {mailboxes:,} mailboxes, the dispatcher in {where} ...", flush=True)
    await asyncio.to_thread(endpoint_for, url, receiver_port, state, mailboxes, 1)
    port = free_port()
    env = {"SPOA_WEBHOOK_CONCURRENCY": str(concurrency), "SPOA_WEBHOOKS_IN_PROCESS": "0"}
    if not apart:
        env.pop("SPOA_WEBHOOKS_IN_PROCESS")
    process = await asyncio.to_thread(start_server, url, port, env, [])
    dispatcher = None
    if apart:
        dispatcher = subprocess.Popen(  # the projection runner in `spoa serve` creates
            [sys.executable, "-m", "api.cli.main", "webhooks", "run"],
            cwd=ROOT,
            env={**os.environ, **env, "SPOA_DATABASE_URL": url, "SPOA_DEV_MODE": "1",
                 "SPOA_SECRET_KEY": SECRET_KEY, "SPOA_LOG_LEVEL": "WARNING"},
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            token = await login(client, "bench.admin")
        # The registrations are sent first (not measured): the run starts with nothing queued.
        deadline = time.perf_counter() + 120
        while state.count < mailboxes and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        before = state.count
        state.record_latency = True
        results = await steady_load(port, token, mailboxes, rate, seconds, process.pid, url)
        deadline = time.perf_counter() + 30
        while state.count - before < results["ok"] and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
    finally:
        process.terminate()
        process.wait(30)
        if dispatcher is not None:
            dispatcher.terminate()
            dispatcher.wait(30)
        server.close()
    lat = sorted(state.latencies)
    answered = results["answered"]
    after = sorted(state.arrivals[p] - t for p, t in answered.items() if p in state.arrivals)
    r = statistics.quantiles(after, n=100) if len(after) > 1 else [0.0] * 99
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    print(
        f"latency: {results['ok']:,} mutations in {seconds:g} s ({results['ok'] / seconds:.0f}/s,"
        f" {results['errors']} errors, mutation p99 {1000 * results['p99']:.0f} ms);"
        f" {len(lat):,} deliveries: commit → received p50 {1000 * q[49]:.0f} ms,"
        f" p90 {1000 * q[89]:.0f} ms, p99 {1000 * q[98]:.0f} ms, max {1000 * lat[-1]:.0f} ms"
        " (from the event's occurredAt, taken before the commit: an upper bound)"
    )
    print(
        f"latency: from the mutation's answer (after the commit: a lower bound) p50"
        f" {1000 * r[49]:.0f} ms, p90 {1000 * r[89]:.0f} ms, p99 {1000 * r[98]:.0f} ms"
    )
    print(
        f"latency: CPU s: server {results['server_cpu']:.1f}, PostgreSQL"
        f" {results['db_cpu']:.1f}; {load_average()}"
    )


async def steady_load(
    port: int, token: str, mailboxes: int, rate: float, seconds: float, pid: int, url: str
) -> dict[str, Any]:
    """Open loop: request i is sent at start + i/rate by whichever connection is free."""
    free: asyncio.Queue[KeepAliveConnection] = asyncio.Queue()
    for _ in range(32):
        free.put_nowait(KeepAliveConnection("127.0.0.1", port, token))
    companion = [False] * mailboxes
    took: list[float] = []
    answered: dict[int, float] = {}  # event position -> when its mutation's answer came
    errors = 0
    dbname = ConnectionParams.from_url(url).dbname
    cpu0, db0 = server_cpu_seconds(pid), database_cpu_seconds(dbname)

    async def one(i: int) -> None:
        nonlocal errors
        connection = await free.get()
        n = i % mailboxes
        companion[n] = not companion[n]
        document = (
            "mutation($i: SetCompanionInput!) { setCompanion(input: $i) { position"
            " userErrors { code } } }"
        )
        variables = {"i": {"msisdn": f"13{n:09d}", "enabled": companion[n]}}
        began = time.perf_counter()
        try:
            body = await connection.post({"query": document, "variables": variables})
            if body.get("errors") or body["data"]["setCompanion"]["userErrors"]:
                errors += 1
            else:
                took.append(time.perf_counter() - began)
                answered[body["data"]["setCompanion"]["position"]] = time.time()
        finally:
            free.put_nowait(connection)

    start = time.perf_counter() + 0.2
    tasks = []
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    p99 = statistics.quantiles(took, n=100)[98] if len(took) > 1 else 0.0
    return {
        "ok": len(took),
        "answered": answered,
        "errors": errors,
        "p99": p99,
        "server_cpu": server_cpu_seconds(pid) - cpu0,
        "db_cpu": database_cpu_seconds(dbname) - db0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", choices=["both", "drain", "latency"], default="both")
    parser.add_argument("--events", type=int, default=100_000, help="backlog to drain")
    parser.add_argument("--mailboxes", type=int, default=2_000, help="latency phase")
    parser.add_argument("--rate", type=float, default=200, help="mutations/s, latency phase")
    parser.add_argument("--seconds", type=float, default=30, help="latency phase")
    parser.add_argument("--concurrency", type=int, default=16, help="SPOA_WEBHOOK_CONCURRENCY")
    parser.add_argument(
        "--apart",
        action="store_true",
        help="latency phase: the dispatcher as `spoa webhooks run` (SPOA_WEBHOOKS_IN_PROCESS=0)",
    )
    args = parser.parse_args()
    for phase in ("drain", "latency"):
        if args.phase not in ("both", phase):
            continue
        url = fresh_database()
        try:
            if phase == "drain":
                asyncio.run(drain(url, args.events, args.concurrency))
            else:
                asyncio.run(
                    latency(
                        url, args.mailboxes, args.rate, args.seconds, args.concurrency, args.apart
                    )
                )
        finally:
            drop_database(url)


if __name__ == "__main__":
    main()
