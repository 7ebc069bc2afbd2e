"""Proxy-setting mutations per second over HTTP, at concurrency 1 and 16, with p50/p99 latency.

    .venv/bin/python bench/subscribers_mutations.py            # defaults: 10 s per level
    .venv/bin/python bench/subscribers_mutations.py --seconds 20 --concurrency 1 4 16 32
    .venv/bin/python bench/subscribers_mutations.py --serve-args=--workers=2   # 2 processes

Creates a fresh database on SPOA_BENCH_PG_URL (default: the machine's PostgreSQL at
postgresql://postgres@127.0.0.1:5432/postgres), fills it with generated subscribers
(bench/subscribers_generate.py), starts `spoa serve` in a subprocess against it (projections
running in-process, as in production by default), logs in and sends proxy-setting mutations
(setCompanion, setLoginReminder, setBillDelivery, setSmsBlacklist, changePlan; each a real
change, so each stores exactly one event). Every client task owns its own subscribers, so the
figures measure throughput, not conflicts (the tests cover conflicts). Prints the figures; the
client runs on the same machine and takes some of its CPU. Not a test.

Each level also prints the CPU per mutation of the server (all its processes), of the
PostgreSQL backends of the bench database and of this client, the database transactions per
mutation (mutations plus the projections that follow them), and how busy the whole machine
was: other jobs on a shared machine show there. The client is a minimal keep-alive HTTP/1.1
one (`--client httpx` uses httpx, which costs about ten times the CPU per request).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import (
    KeepAliveConnection,
    database_cpu_seconds,
    database_transactions,
    free_port,
    login,
    machine_busy,
    server_cpu_seconds,
    start_server,
)
from subscribers_generate import bench_container, drop_database, fresh_database, generate

from domain.subscribers.subscriber import subscriber_id_for
from infra.database import ConnectionParams

LEVELS = ["NONE", "NO_MARKETING", "ESSENTIAL_ONLY", "ALL_BLOCKED"]
PLANS = ["FREE", "PLUS_5", "VIP_20"]
PAYLOAD = "{ subscriber { version } position userErrors { code } }"


@dataclass
class Mailbox:
    msisdn: str
    companion: bool
    reminder: bool
    bill: bool
    level: str
    plan: str
    turn: int = 0

    def next_mutation(self) -> tuple[str, str, dict[str, Any]]:
        """The next real change on this mailbox, cycling through five settings."""
        self.turn += 1
        kind = self.turn % 5
        if kind == 0:
            self.companion = not self.companion
            return "setCompanion", "SetCompanionInput", {"enabled": self.companion}
        if kind == 1:
            self.reminder = not self.reminder
            return "setLoginReminder", "SetLoginReminderInput", {"enabled": self.reminder}
        if kind == 2:
            self.bill = not self.bill
            return "setBillDelivery", "SetBillDeliveryInput", {"subscribed": self.bill}
        if kind == 3:
            self.level = LEVELS[(LEVELS.index(self.level) + 1) % len(LEVELS)]
            return "setSmsBlacklist", "SetSmsBlacklistInput", {"level": self.level}
        self.plan = PLANS[(PLANS.index(self.plan) + 1) % len(PLANS)]
        return "changePlan", "ChangePlanInput", {"planCode": self.plan}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


def prepare(url: str, count: int) -> list[Mailbox]:
    container = bench_container(url)
    try:
        numbers = generate(container, count, days=90, seed=7)
        mailboxes = []
        for msisdn in numbers:
            s = container.core.repository.get(subscriber_id_for(msisdn))
            if s.status == "ACTIVE":
                mailboxes.append(
                    Mailbox(
                        msisdn,
                        s.companion_enabled,
                        s.login_reminder,
                        s.bill_delivery,
                        s.sms_blacklist_level,
                        s.plan_code,
                    )
                )
        container.engine.catch_up_all()  # start the run with projections idle and current
        return mailboxes
    finally:
        container.close()


async def worker(
    post: Callable[[dict[str, Any]], Awaitable[Any]],
    mailboxes: list[Mailbox],
    start_at: float,
    stop_at: float,
    tally: Tally,
    stagger: float = 0.0,
) -> None:
    # Connections opened one after another, not in one burst, so that with
    # `spoa serve --workers N` each worker accepts its share of them (all at once, the first
    # worker to wake accepts them all, and keep-alive keeps them there).
    await asyncio.sleep(stagger)
    index = 0
    while True:
        now = time.perf_counter()
        if now >= stop_at:
            return
        mailbox = mailboxes[index % len(mailboxes)]
        index += 1
        name, input_type, fields = mailbox.next_mutation()
        document = f"mutation($i: {input_type}!) {{ {name}(input: $i) {PAYLOAD} }}"
        variables = {"i": {"msisdn": mailbox.msisdn, **fields, "context": {"reason": "bench"}}}
        began = time.perf_counter()
        body = await post({"query": document, "variables": variables})
        took = time.perf_counter() - began
        problems = body.get("errors") or (body.get("data") or {}).get(name, {}).get("userErrors")
        if began < start_at:
            continue  # warm-up
        if problems:
            code = str(problems[0].get("code") or problems[0].get("extensions", {}).get("code"))
            tally.errors[code] = tally.errors.get(code, 0) + 1
        else:
            tally.latencies.append(took)


async def cpu_window(
    pid: int, url: str, start_at: float, stop_at: float, out: dict[str, float]
) -> None:
    dbname = ConnectionParams.from_url(url).dbname
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    # Off the event loop, so the readings do not hold up the client's requests.
    tx0 = await asyncio.to_thread(database_transactions, url)
    me0 = time.process_time()
    cpu0, db0 = await asyncio.to_thread(
        lambda: (server_cpu_seconds(pid), database_cpu_seconds(dbname))
    )
    busy0, total0 = machine_busy()
    await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
    me1 = time.process_time()
    cpu1, db1 = await asyncio.to_thread(
        lambda: (server_cpu_seconds(pid), database_cpu_seconds(dbname))
    )
    busy1, total1 = machine_busy()
    await asyncio.sleep(1.5)  # let the backends flush their statistics
    out["transactions"] = await asyncio.to_thread(database_transactions, url) - tx0
    out["server_cpu"] = cpu1 - cpu0
    out["database_cpu"] = db1 - db0
    out["client_cpu"] = me1 - me0
    out["machine_busy"] = (busy1 - busy0) / max(1, total1 - total0)


async def run_level(
    base_url: str,
    token: str,
    mailboxes: list[Mailbox],
    concurrency: int,
    seconds: float,
    server_pid: int,
    url: str,
    client_kind: str,
) -> dict[str, Any]:
    shares = [mailboxes[i::concurrency] for i in range(concurrency)]
    tally = Tally()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    connections = [KeepAliveConnection(host, int(port), token) for _ in shares]
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def httpx_post(payload: dict[str, Any]) -> Any:
            return (await client.post("/graphql", json=payload, headers=headers)).json()

        start_at = time.perf_counter() + 2.0  # warm-up
        stop_at = start_at + seconds
        cpu: dict[str, float] = {}
        try:
            await asyncio.gather(
                cpu_window(server_pid, url, start_at, stop_at, cpu),
                *(
                    worker(
                        httpx_post if client_kind == "httpx" else connection.post,
                        share,
                        start_at,
                        stop_at,
                        tally,
                        stagger=0.05 * number,
                    )
                    for number, (share, connection) in enumerate(
                        zip(shares, connections, strict=True)
                    )
                ),
            )
        finally:
            for connection in connections:
                connection.close()
    latencies = sorted(tally.latencies)
    count = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(count - 1, int(p * count))] * 1000 if count else float("nan")

    return {
        "concurrency": concurrency,
        "ok": count,
        "errors": tally.errors,
        "per_second": count / seconds,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000 if count else float("nan"),
        "mean_ms": statistics.fmean(latencies) * 1000 if count else float("nan"),
        "server_cpu_ms": cpu.get("server_cpu", 0.0) * 1000 / max(1, count),
        "database_cpu_ms": cpu.get("database_cpu", 0.0) * 1000 / max(1, count),
        "client_cpu_ms": cpu.get("client_cpu", 0.0) * 1000 / max(1, count),
        "transactions": cpu.get("transactions", 0.0) / max(1, count),
        "machine_busy": cpu.get("machine_busy", 0.0),
    }


async def bench(
    base_url: str,
    mailboxes: list[Mailbox],
    levels: list[int],
    seconds: float,
    server_pid: int,
    url: str,
    client_kind: str,
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        token = await login(client, "bench.admin")
    print(
        f"{'concurrency':>11} {'mutations/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f"   CPU ms/mutation: {'server':>6} {'db':>5} {'client':>6}"
        f" {'db tx/mut':>9} {'machine busy':>13}  errors"
    )
    for concurrency in levels:
        r = await run_level(
            base_url, token, mailboxes, concurrency, seconds, server_pid, url, client_kind
        )
        print(
            f"{r['concurrency']:>11} {r['per_second']:>12.0f} {r['p50_ms']:>8.1f}"
            f" {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} {'':>17}{r['server_cpu_ms']:>6.2f}"
            f" {r['database_cpu_ms']:>5.2f} {r['client_cpu_ms']:>6.2f} {r['transactions']:>9.1f}"
            f" {r['machine_busy']:>13.0%}  {r['errors'] or '-'}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--server-env", nargs="*", default=[], help="extra KEY=VALUE for the server process"
    )
    parser.add_argument(
        "--client",
        choices=["keepalive", "httpx"],
        default="keepalive",
        help="HTTP client: a minimal keep-alive HTTP/1.1 one (default) or httpx (more CPU)",
    )
    parser.add_argument(
        "--serve-args",
        nargs="*",
        default=[],
        help="extra `spoa serve` options, e.g. --serve-args=--workers=2",
    )
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        help="sample the server with py-spy (must be on PATH) into FILE (collapsed stacks)",
    )
    args = parser.parse_args()
    url = fresh_database()
    server = None
    try:
        print(f"database {url}; generating {args.subscribers} subscribers ...", flush=True)
        mailboxes = prepare(url, args.subscribers)
        port = free_port()
        extra = dict(item.split("=", 1) for item in args.server_env)
        server = start_server(url, port, extra, args.serve_args)
        print(
            f"server up on port {port}; {len(mailboxes)} active mailboxes;"
            f" {args.seconds:.0f} s per level after a 2 s warm-up; {os.cpu_count()} CPUs",
            flush=True,
        )
        sampler = None
        if args.py_spy:
            command = ["py-spy", "record", "--pid", str(server.pid), "--rate", "250"]
            command += ["--threads", "--format", "raw", "--output", args.py_spy, "--nonblocking"]
            sampler = subprocess.Popen(command)  # noqa: S603 - a developer's own tool
        asyncio.run(
            bench(
                f"http://127.0.0.1:{port}",
                mailboxes,
                args.concurrency,
                args.seconds,
                server.pid,
                url,
                args.client,
            )
        )
        if sampler is not None:
            sampler.send_signal(2)  # SIGINT: py-spy writes its file and exits
            sampler.wait(30)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
