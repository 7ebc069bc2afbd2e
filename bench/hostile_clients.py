"""A well-behaved admin's latency, and the server's memory, while hostile clients attack.

    .venv/bin/python bench/hostile_clients.py                    # 2,000 subscribers, 10 s each
    .venv/bin/python bench/hostile_clients.py --seconds 5 --attacks waits logins
    .venv/bin/python bench/hostile_clients.py --serve-args=--workers=2 --keep
    .venv/bin/python bench/hostile_clients.py --database-url postgresql://.../spoa_bench_1234abcd

Creates a fresh database on SPOA_BENCH_PG_URL (default: the machine's PostgreSQL at
postgresql://postgres@127.0.0.1:5432/postgres) and fills it with generated subscribers and a
year of their history (bench/subscribers_generate.py; 2,000 take a few minutes, more on a busy
machine). `--keep` keeps it and prints its URL; `--database-url` runs on such a database again
without generating anything (any database that has events already is used as it is). Accounts
bench.admin (SUPER_ADMIN), bench.viewer (VIEWER) and bench.auditor (AUDITOR) are created
through the application if missing. `spoa serve` then runs outside dev mode (own secret key, no
SPOA_DEV_MODE), all traffic to 127.0.0.1.

The well-behaved admin sends `{ me }` and a setCompanion toggle on its own mailbox, one after
the other on one connection, through every phase: a baseline with no attack, then each attack
in turn (bench/hostile_attacks.py, in a process of its own):
  waits       VIEWER, 5 connections: 30 aliases of tickets(consistentWith: far beyond / not yet)
  statistics  VIEWER, 2 connections: 30 aliases of proxyOperations over all time, 4 dimensions
  logins      no session, 40 connections: logins with wrong passwords (127.0.0.1, throttled)
  events      AUDITOR, 2 connections: 30 aliases of events(first:500) with every field
Each phase prints the admin's requests, p50/p99 of `{ me }` and of the mutation, its errors,
what the attackers got (answers by HTTP status and error code), the server's peak RSS (summed
over its processes, sampled every 100 ms) and its growth over the baseline, the ERROR lines in
the server's log (a file in /tmp, named at the start), and the targets: p99 <= 150 ms and RSS
growth <= 300 MB under every attack. An attacker's request may run past its phase's end, up to
a 30 s time-out; the phase waits for it. Between phases the server is given
time to drain (until `{ me }` is quick again, at most 60 s). Not a test: the client shares the
machine with the server, and other jobs there show in the load average printed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_admin import Admin, Tally, own_mailbox
from hostile_attacks import ATTACKS, percentile, ready, run_attack
from serving import (
    KeepAliveConnection,
    free_port,
    login,
    machine_busy,
    server_log_errors,
    server_rss_bytes,
    start_server,
)
from subscribers_generate import (
    BENCH_PASSWORD,
    bench_container,
    drop_database,
    ensure_accounts,
    fresh_database,
    generate,
)

from domain.access.account import account_id_for
from domain.access.permissions import Role

TARGET_P99_MS = 150.0
TARGET_GROWTH_MB = 300.0
HOSTILE_ACCOUNTS = [("bench.viewer", Role.VIEWER), ("bench.auditor", Role.AUDITOR)]
SAMPLE_SECONDS = 0.1
MB = 1024 * 1024


def prepare(url: str, subscribers: int) -> None:
    container = bench_container(url)
    try:
        if container.core_log.head() == 0:
            started = time.perf_counter()
            generate(container, subscribers, days=365, seed=8)
            print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
        else:
            print(f"  using its {container.core_log.head():,} events as they are", flush=True)
        ensure_accounts(container)
        for username, role in HOSTILE_ACCOUNTS:
            if container.access.actor_account(account_id_for(username)) is None:
                container.access.create_account(
                    None,
                    username=username,
                    display_name=username,
                    role=role,
                    province=None,
                    initial_password=BENCH_PASSWORD,
                )
        container.engine.catch_up_all()  # the server starts with current projections
    finally:
        container.close()


async def sample_rss(pid: int, start_at: float, until: asyncio.Future[Any]) -> int:
    """Peak RSS of the server's processes from start_at until `until` is done."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    peak = 0
    deadline = time.monotonic() + 1000  # a bound, beyond any phase (--seconds <= 600)
    while time.monotonic() < deadline:
        peak = max(peak, server_rss_bytes(pid))
        if until.done():
            return peak
        await asyncio.sleep(SAMPLE_SECONDS)
    return peak


@dataclass
class Server:
    port: int
    pid: int
    log: Path
    log_read: int = 0  # how far its log has been summed up

    def new_errors(self) -> dict[str, int]:
        self.log_read, errors = server_log_errors(self.log, self.log_read)
        return errors


async def run_phase(
    name: str,
    admin: Admin,
    pool: ProcessPoolExecutor,
    server: Server,
    tokens: dict[str, str],
    seconds: float,
    concurrency: dict[str, int],
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    start_at = time.monotonic() + 0.5  # the attackers' process connects meanwhile
    stop_at = start_at + seconds
    tally = Tally()
    if name == "baseline":
        attack: asyncio.Future[Any] = loop.create_future()
        attack.set_result(None)
    else:
        account = ATTACKS[name].account
        attack = loop.run_in_executor(
            pool,
            run_attack,
            server.port,
            name,
            tokens[account] if account else None,
            admin.head,
            concurrency.get(name, ATTACKS[name].concurrency),
            start_at,
            stop_at,
        )
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    busy0, total0 = machine_busy()
    rss_at_start = server_rss_bytes(server.pid)
    rss = asyncio.ensure_future(sample_rss(server.pid, start_at, attack))
    await admin.loop(start_at, stop_at, tally)
    busy1, total1 = machine_busy()
    hostile = await attack  # in-flight attacks end within REQUEST_TIMEOUT of the deadline
    peak = await rss
    return {
        "name": name,
        "tally": tally,
        "hostile": hostile,
        "peak": peak,
        "start": rss_at_start,
        "busy": (busy1 - busy0) / max(1, total1 - total0),
        "load": Path("/proc/loadavg").read_text().split()[0],
        "settle": await admin.settle(),
        "server_errors": server.new_errors(),  # the phase's, and those it left behind
    }


def verdict(p99s: list[float], growth: float | None) -> str:
    over = []
    if any(p > TARGET_P99_MS for p in p99s):
        over.append("p99 over")
    if growth is not None and growth > TARGET_GROWTH_MB:
        over.append("RSS over")
    return ", ".join(over) or "ok"


def report(r: dict[str, Any], baseline_peak: int | None, seconds: float) -> dict[str, Any]:
    t: Tally = r["tally"]
    me = (percentile(t.me, 0.5) * 1000, percentile(t.me, 0.99) * 1000)
    mut = (percentile(t.mutation, 0.5) * 1000, percentile(t.mutation, 0.99) * 1000)
    growth = (r["peak"] - baseline_peak) / MB if baseline_peak is not None else None
    name = r["name"]
    about = ATTACKS[name].what if name in ATTACKS else "no attack"
    print(f"\n== {name}: {about}")
    if name in ATTACKS:
        h = r["hostile"]
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(h["answers"].items())) or "none"
        print(
            f"  attackers ({ATTACKS[name].role}, {h['concurrency']} connections):"
            f" {h['requests']} requests ({h['requests'] / seconds:.1f}/s), p50 {h['p50_ms']:.0f}"
            f" ms, max {h['max_ms']:.0f} ms, client CPU {h['cpu_seconds']:.1f} s; got {answers}"
        )
    print(
        f"  admin: {len(t.me)} x me p50 {me[0]:.1f} ms p99 {me[1]:.1f} ms; {len(t.mutation)} x"
        f" setCompanion p50 {mut[0]:.1f} ms p99 {mut[1]:.1f} ms (target p99 <= {TARGET_P99_MS:.0f}"
        f" ms); errors: {t.errors or 'none'}"
    )
    grown = (
        f", {growth:+.0f} MB over the baseline's (target <= {TARGET_GROWTH_MB:.0f}),"
        f" {(r['peak'] - r['start']) / MB:+.0f} MB over this phase's start"
        if growth is not None
        else ""
    )
    print(f"  server RSS peak {r['peak'] / MB:.0f} MB{grown}")
    errors = "; ".join(f"{n} x {gist}" for gist, n in r["server_errors"].items())
    print(
        f"  server log: {sum(r['server_errors'].values())} errors{': ' if errors else ''}{errors}"
    )
    print(
        f"  machine busy {r['busy']:.0%}, load average {r['load']}; the admin's {{ me }} was"
        f" quick again {r['settle']:.1f} s after -> " + verdict([me[1], mut[1]], growth),
        flush=True,
    )
    return {
        "name": name,
        "requests": len(t.me) + len(t.mutation),
        "me": me,
        "mut": mut,
        "errors": sum(t.errors.values()),
        "server_errors": sum(r["server_errors"].values()),
        "peak": r["peak"] / MB,
        "growth": growth,
    }


async def bench(
    server: Server, attacks: list[str], seconds: float, concurrency: dict[str, int]
) -> None:
    port = server.port
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        # Everyone logs in before the login flood throttles 127.0.0.1.
        tokens = {
            name: await login(client, name)
            for name in ["bench.admin", "bench.viewer", "bench.auditor"]
        }
    admin = Admin(KeepAliveConnection("127.0.0.1", port, tokens["bench.admin"]))
    await own_mailbox(admin)
    spawn = multiprocessing.get_context("spawn")  # a clean process, not a fork of this loop
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(pool, ready)
        warm_up = Tally()
        await admin.loop(time.monotonic(), time.monotonic() + 2.0, warm_up)
        rows, baseline_peak = [], None
        for name in ["baseline", *attacks]:
            r = await run_phase(name, admin, pool, server, tokens, seconds, concurrency)
            rows.append(report(r, baseline_peak, seconds))
            baseline_peak = baseline_peak or r["peak"]
    admin.connection.close()
    print(
        f"\n{'phase':<11} {'admin req':>9} {'me p50':>7} {'me p99':>7} {'mut p50':>7}"
        f" {'mut p99':>7} {'errors':>6} {'srv err':>7} {'RSS MB':>7} {'growth':>7}"
        f"  vs targets (p99 <="
        f" {TARGET_P99_MS:.0f} ms, growth <= {TARGET_GROWTH_MB:.0f} MB)"
    )
    for row in rows:
        growth = f"{row['growth']:+.0f}" if row["growth"] is not None else "-"
        print(
            f"{row['name']:<11} {row['requests']:>9} {row['me'][0]:>7.1f} {row['me'][1]:>7.1f}"
            f" {row['mut'][0]:>7.1f} {row['mut'][1]:>7.1f} {row['errors']:>6}"
            f" {row['server_errors']:>7} {row['peak']:>7.0f} {growth:>7}  "
            + verdict([row["me"][1], row["mut"][1]], row["growth"])
        )
    print(f"load average now: {Path('/proc/loadavg').read_text().strip()}; {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--subscribers", type=int, default=2000, help="to generate")
    parser.add_argument(
        "--attacks", nargs="+", choices=list(ATTACKS), default=list(ATTACKS), help="a subset"
    )
    parser.add_argument(
        "--concurrency",
        nargs="*",
        default=[],
        metavar="ATTACK=N",
        help="attackers' connections, e.g. waits=10 (defaults: "
        + ", ".join(f"{a.name}={a.concurrency}" for a in ATTACKS.values())
        + ")",
    )
    parser.add_argument(
        "--database-url", help="run on this database (e.g. kept with --keep) as it is"
    )
    parser.add_argument("--keep", action="store_true", help="keep the fresh database afterwards")
    parser.add_argument(
        "--serve-args", nargs="*", default=[], help="extra `spoa serve` options, e.g. --workers=2"
    )
    parser.add_argument(
        "--server-env", nargs="*", default=[], help="extra KEY=VALUE for the server process"
    )
    args = parser.parse_args()
    if not 0 < args.seconds <= 600:
        parser.error("--seconds must be in (0, 600]")
    concurrency = {k: int(v) for k, v in (item.split("=", 1) for item in args.concurrency)}
    if any(k not in ATTACKS or not 0 < v <= 200 for k, v in concurrency.items()):
        parser.error("--concurrency takes ATTACK=N, N in 1..200")
    url = args.database_url or fresh_database()
    server = None
    try:
        if args.database_url:
            print(f"database {url}", flush=True)
        else:
            print(
                f"database {url}: generating {args.subscribers:,} subscribers with a year of"
                " history (minutes; --keep, then --database-url, to reuse it) ...",
                flush=True,
            )
        prepare(url, args.subscribers)
        port = free_port()
        extra = dict(item.split("=", 1) for item in args.server_env)
        log = Path(tempfile.mkstemp(prefix="spoa-hostile-", suffix=".log")[1])
        with log.open("ab") as output:
            server = start_server(url, port, extra, args.serve_args, dev_mode=False, log=output)
        print(
            f"server up on port {port}, not in dev mode, {shlex.join(args.serve_args) or '-'},"
            f" its log in {log}; {args.seconds:g} s per phase; load average"
            f" {Path('/proc/loadavg').read_text().split()[0]}, {os.cpu_count()} CPUs",
            flush=True,
        )
        watched = Server(port, server.pid, log)
        watched.new_errors()  # start-up's, if any, are no phase's
        asyncio.run(bench(watched, args.attacks, args.seconds, concurrency))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.database_url is None:
            if args.keep:
                print(f"kept: --database-url {shlex.quote(url)}")
            else:
                drop_database(url)


if __name__ == "__main__":
    main()
