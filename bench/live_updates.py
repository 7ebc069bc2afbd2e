"""Live updates under load: 500 open GraphQL subscriptions across 50 accounts while tickets
change at 50 transitions/s; the delivery latency from commit to message, and what the server
spends.

    .venv/bin/python bench/live_updates.py [--seconds 20] [--rate 50] [--serve-args=--workers=2]

Forty province agents (four in each of ten provinces) and ten second-line agents each hold five
sockets with two subscriptions on each (`ticketUpdates` with a few different filters). A driver
answers and resubmits tickets of those provinces over HTTP at the rate asked. Every `next`
message is matched to its transition by position: the latency is measured from the mutation's
answer (the commit is before it) and from its request (before the commit), so the commit →
message latency lies between the two figures printed. Prints p50/p99/max of both, messages
per second, the server's CPU and peak RSS, and the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from itertools import cycle
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serving import (
    KeepAliveConnection,
    free_port,
    server_cpu_seconds,
    server_rss_bytes,
    start_server,
)
from subscribers_generate import BENCH_PASSWORD, bench_settings, drop_database, fresh_database
from websockets.asyncio.client import connect

from application.access.service import principal_of
from domain.access.permissions import Role
from domain.support.values import TicketCategory, TicketPriority
from infra.bootstrap import Container

PROVINCES = ["GD", "BJ", "SH", "ZJ", "JS", "SC", "HB", "HN", "FJ", "SD"]
SUBSCRIPTION = (
    "subscription($f: TicketFilter) { ticketUpdates(filter: $f) { position type"
    " ticket { id number status province version createdBy { username } } } }"
)
# A few filters per role; each socket subscribes two of them.
AGENT_FILTERS: list[dict[str, Any]] = [
    {},
    {"status": ["SUBMITTED", "RESUBMITTED"]},
    {"status": ["ANSWERED"]},
    {"category": ["COMPLAINT", "FAULT"]},
]
SECOND_FILTERS: list[dict[str, Any]] = [
    {},
    {"status": ["SUBMITTED", "RESUBMITTED"]},
    {"province": "GD"},
    {"category": ["COMPLAINT"]},
]
ANSWER = 'mutation($id: ID!) { answerTicket(id: $id, body: "ok") { position userErrors { code } } }'
RESUBMIT = (
    'mutation($id: ID!) { resubmitTicket(id: $id, body: "again") { position userErrors { code } } }'
)


def prepare(url: str, per_province: int) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Accounts (tokens by username) and submitted tickets (id, province)."""
    settings = bench_settings(url, argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)
    container = Container(settings, url)
    container.upgrade()
    try:
        people = [
            (f"live.{p.lower()}{n}", Role.PROVINCE_AGENT, p) for p in PROVINCES for n in range(4)
        ]
        people += [(f"live.second{n}", Role.SECOND_LINE_AGENT, None) for n in range(10)]
        tokens, principals = {}, {}
        for username, role, province in people:
            account = container.access.create_account(
                None,
                username=username,
                display_name=username,
                role=role,
                province=province,
                initial_password=BENCH_PASSWORD,
            ).account
            principals[username] = principal_of(account)
            tokens[username] = container.access.login(username, BENCH_PASSWORD).token
        tickets = []
        categories = list(TicketCategory)
        for province in PROVINCES:
            author = principals[f"live.{province.lower()}0"]
            for n in range(per_province):
                drafted = container.tickets.save_draft(
                    author,
                    ticket_id=None,
                    title=f"{province} ticket {n}",
                    body="the mailbox does not sync",
                    category=categories[n % len(categories)],
                    priority=TicketPriority.NORMAL,
                )
                assert drafted.ticket is not None
                container.tickets.submit(author, drafted.ticket.id, None)
                tickets.append({"id": str(drafted.ticket.id), "province": province, "open": True})
        return tokens, tickets
    finally:
        container.close()


class Subscriber:
    """One socket with its subscriptions; records when each `next` arrived, by position."""

    def __init__(self, port: int, token: str, filters: list[dict[str, Any]]) -> None:
        self.uri = f"ws://127.0.0.1:{port}/graphql"
        self.token = token
        self.filters = filters
        self.received: list[tuple[int, float]] = []
        self.errors: list[Any] = []
        self.closed: int | None = None

    async def run(self, ready: asyncio.Event) -> None:
        async with connect(
            self.uri,
            subprotocols=["graphql-transport-ws"],
            max_size=None,  # type: ignore[list-item]
        ) as ws:
            await ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {self.token}"},
                    }
                )
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            for n, f in enumerate(self.filters):
                payload = {"query": SUBSCRIPTION, "variables": {"f": f}}
                await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": payload}))
            ready.set()
            try:
                async for raw in ws:
                    now = time.monotonic()
                    message = json.loads(raw)
                    if message["type"] == "next" and "errors" not in message["payload"]:
                        position = message["payload"]["data"]["ticketUpdates"]["position"]
                        self.received.append((position, now))
                    else:
                        self.errors.append(message)
            except Exception as exc:  # closed by the server: counted
                self.closed = getattr(getattr(exc, "rcvd", None), "code", -1)


async def drive(
    base: str,
    tokens: dict[str, str],
    tickets: list[dict[str, Any]],
    rate: float,
    seconds: float,
) -> tuple[dict[int, float], dict[int, float], int]:
    """Transitions at `rate` per second for `seconds`: (sent, answered) times by position."""
    host, port = base.split("//")[1].split(":")
    seconds_ = [f"live.second{n}" for n in range(10)]
    pool: asyncio.Queue[KeepAliveConnection] = asyncio.Queue()
    for _ in range(12):
        pool.put_nowait(KeepAliveConnection(host, int(port), None))
    sent: dict[int, float] = {}
    answered: dict[int, float] = {}
    failures = 0
    order = cycle(range(len(tickets)))
    busy: set[int] = set()

    async def transition(index: int, who: str) -> None:
        nonlocal failures
        ticket = tickets[index]
        mutation = ANSWER if ticket["open"] else RESUBMIT
        connection = await pool.get()
        try:
            start = time.monotonic()
            connection.head = _head(host, port, tokens[who])
            result = await connection.post({"query": mutation, "variables": {"id": ticket["id"]}})
            done = time.monotonic()
            payload = next(iter(result["data"].values()))
            if payload["userErrors"]:
                failures += 1
                return
            sent[payload["position"]] = start
            answered[payload["position"]] = done
            ticket["open"] = not ticket["open"]
        except Exception:
            failures += 1
            connection.close()
        finally:
            pool.put_nowait(connection)
            busy.discard(index)

    tasks = []
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        due = started + n / rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        index = next(order)
        if index in busy:
            continue
        busy.add(index)
        ticket = tickets[index]
        who = (
            seconds_[n % len(seconds_)]
            if ticket["open"]
            else f"live.{ticket['province'].lower()}{n % 4}"
        )
        tasks.append(asyncio.create_task(transition(index, who)))
        n += 1
    await asyncio.gather(*tasks)
    return sent, answered, failures


def _head(host: str, port: str, token: str) -> bytes:
    return (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


async def bench(
    port: int,
    pid: int,
    tokens: dict[str, str],
    tickets: list[dict[str, Any]],
    rate: float,
    seconds: float,
) -> None:
    subscribers = []
    for username, token in tokens.items():
        filters = SECOND_FILTERS if "second" in username else AGENT_FILTERS
        for s in range(5):
            subscribers.append(Subscriber(port, token, [filters[s % 4], filters[(s + 1) % 4]]))
    readies = [asyncio.Event() for _ in subscribers]
    runs = [asyncio.create_task(s.run(r)) for s, r in zip(subscribers, readies, strict=True)]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    subscriptions = sum(len(s.filters) for s in subscribers)
    print(
        f"{len(subscribers)} sockets, {subscriptions} subscriptions, {len(tokens)} accounts",
        flush=True,
    )
    await asyncio.sleep(1)
    await drive(f"http://127.0.0.1:{port}", tokens, tickets, rate, 2)  # warm-up
    await asyncio.sleep(2)
    for s in subscribers:
        s.received.clear()
    cpu0, wall0, load0 = server_cpu_seconds(pid), time.monotonic(), os.getloadavg()
    client0 = time.process_time()
    peak = server_rss_bytes(pid)
    sampler_stop = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not sampler_stop.is_set():
            peak = max(peak, server_rss_bytes(pid))
            await asyncio.sleep(0.5)

    sampling = asyncio.create_task(sample())
    sent, answered, failures = await drive(
        f"http://127.0.0.1:{port}", tokens, tickets, rate, seconds
    )
    await asyncio.sleep(3)  # the last deliveries
    sampler_stop.set()
    await sampling
    cpu = server_cpu_seconds(pid) - cpu0
    wall = time.monotonic() - wall0
    client_cpu = time.process_time() - client0
    load1 = os.getloadavg()
    from_answer, from_send = [], []
    for s in subscribers:
        for position, at in s.received:
            if position in answered:
                from_answer.append((at - answered[position]) * 1000)
                from_send.append((at - sent[position]) * 1000)
    closed = [s.closed for s in subscribers if s.closed is not None]
    errors = sum(len(s.errors) for s in subscribers)
    print(
        f"transitions: {len(answered)} in {seconds:.0f} s ({len(answered) / seconds:.1f}/s),"
        f" {failures} failed; messages: {len(from_answer)} ({len(from_answer) / seconds:.0f}/s),"
        f" {errors} error messages, {len(closed)} sockets closed {closed[:5]}"
    )
    for name, values in (
        ("commit→message (from the answer)", from_answer),
        ("request→message", from_send),
    ):
        print(
            f"  {name}: p50 {pct(values, 50):.0f} ms, p99 {pct(values, 99):.0f} ms,"
            f" max {max(values, default=float('nan')):.0f} ms"
        )
    print(
        f"server: CPU {cpu:.1f} s in {wall:.1f} s ({100 * cpu / wall:.0f}% of a core),"
        f" peak RSS {peak / 2**20:.0f} MiB; load average {load0[0]:.1f} → {load1[0]:.1f}"
        f" on {os.cpu_count()} CPUs; this client's CPU {client_cpu:.1f} s; target p99 ≤ 500 ms"
    )
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=50.0, help="ticket transitions per second")
    parser.add_argument("--tickets", type=int, default=30, help="submitted tickets per province")
    parser.add_argument("--serve-args", nargs="*", default=[], help="e.g. --serve-args=--workers=2")
    parser.add_argument(
        "--server-env", nargs="*", default=[], help="extra KEY=VALUE for the server"
    )
    args = parser.parse_args()
    url = fresh_database()
    server = None
    try:
        print(f"database {url}; preparing accounts and tickets ...", flush=True)
        tokens, tickets = prepare(url, args.tickets)
        port = free_port()
        extra = {"SPOA_WS_MAX_PER_ACCOUNT": "5"}
        extra.update(item.split("=", 1) for item in args.server_env)
        server = start_server(url, port, extra, args.serve_args)
        run = bench(port, server.pid, tokens, tickets, args.rate, args.seconds)
        try:
            import uvloop  # the client's own CPU competes with the server's on this machine
        except ImportError:
            asyncio.run(run)
        else:
            uvloop.run(run)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        drop_database(url)


if __name__ == "__main__":
    main()
