"""The hostile side of bench/hostile_clients.py: each attack's requests, sent over concurrent
keep-alive connections until a deadline, and what the server answered, counted by HTTP status
and error code (whatever the server answers: the defences may or may not be there yet).

`run_attack` runs in a process of its own, so that reading the attackers' big answers does not
hold up the event loop of the well-behaved client whose latencies are measured.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import KeepAliveConnection

ALIASES = 30  # SPOA_GRAPHQL_MAX_ALIASES: the most one document may carry
FAR_BEYOND = 2_000_000_000  # a position no store will reach (GraphQL Int is 32-bit)
NOT_YET = 1_000  # events past the newest known position: not written yet
REQUEST_TIMEOUT = 30.0  # a request still unanswered then is counted as `timeout`
MAX_REQUESTS = 100_000  # per connection and phase, on top of the deadline
BIG_BODY = 65_536  # answers longer than this are decoded only when they carry errors


@dataclass(frozen=True)
class Attack:
    name: str
    account: str | None  # who sends it; None: unauthenticated
    role: str
    concurrency: int
    what: str


ATTACKS: dict[str, Attack] = {
    a.name: a
    for a in [
        Attack(
            "waits",
            "bench.viewer",
            "VIEWER",
            5,
            f"{ALIASES} x tickets(first:1, consistentWith: far beyond | not yet reached)",
        ),
        Attack(
            "statistics",
            "bench.viewer",
            "VIEWER",
            2,
            f"{ALIASES} x statistics.proxyOperations(1900-01-01..2999-12-31,"
            " groupBy: DAY, PROVINCE, OPERATION, OPERATOR)",
        ),
        Attack("logins", None, "anonymous", 40, "login with a wrong password"),
        Attack("events", "bench.auditor", "AUDITOR", 2, f"{ALIASES} x events(first:500)"),
    ]
}

LOGIN = (
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p)"
    " { session { token } userErrors { code } } }"
)
STATISTICS = (
    'statistics { proxyOperations(from: "1900-01-01", to: "2999-12-31",'
    " groupBy: [DAY, PROVINCE, OPERATION, OPERATOR]) { keys count } }"
)
# Everything an event has, its actor too (an account looked up per event).
EVENT_FIELDS = (
    "nodes { position streamType streamId version type occurredAt reason data actor { username } }"
)
# Real names (their owners are logged in already) and made-up ones, as credential stuffing does.
LOGIN_NAMES = ["bench.admin", "bench.viewer", "bench.auditor"]


def payload(attack: str, turn: int, head: int) -> dict[str, Any]:
    """The `turn`th request of an attack; `head` is the newest core position known."""
    if attack == "waits":
        position = FAR_BEYOND if turn % 2 == 0 else head + NOT_YET
        fields = " ".join(
            f"t{i}: tickets(first: 1, consistentWith: {position}) {{ totalCount }}"
            for i in range(ALIASES)
        )
        return {"query": f"{{ {fields} }}"}
    if attack == "statistics":
        return {"query": "{ " + " ".join(f"s{i}: {STATISTICS}" for i in range(ALIASES)) + " }"}
    if attack == "events":
        fields = " ".join(f"e{i}: events(first: 500) {{ {EVENT_FIELDS} }}" for i in range(ALIASES))
        return {"query": f"{{ {fields} }}"}
    if attack == "logins":
        name = LOGIN_NAMES[turn % 4] if turn % 4 < 3 else f"no.such.user.{turn % 997}"
        return {"query": LOGIN, "variables": {"u": name, "p": f"wrong-password-{turn}"}}
    raise ValueError(attack)


def answer_key(status: int, body: bytes, mutation: str | None = None) -> tuple[str, Any]:
    """What an answer was ("200 OK", "200 QUERY_TOO_COSTLY", "429 RATE_LIMITED", "200
    INVALID_CREDENTIALS" from a mutation's userErrors ...) and its decoded body (None when big
    and error-free: not decoded, to spare this machine's CPU)."""
    if len(body) > BIG_BODY and b'"errors"' not in body:
        return f"{status} OK", None
    try:
        document = json.loads(body)
    except ValueError:
        return f"{status} (not JSON)", None
    if not isinstance(document, dict):
        return f"{status} (not an object)", None
    codes = {
        str((e.get("extensions") or {}).get("code", "no code")) if isinstance(e, dict) else "?"
        for e in document.get("errors") or []
    }
    if not codes and mutation:
        result = (document.get("data") or {}).get(mutation) or {}
        codes = {str(e.get("code")) for e in result.get("userErrors") or []}
    return f"{status} {'+'.join(sorted(codes)) or 'OK'}", document


async def call(
    connection: KeepAliveConnection, body: dict[str, Any], mutation: str | None = None
) -> tuple[str, Any]:
    """One request, bounded by REQUEST_TIMEOUT; a failed one closes its connection."""
    try:
        status, content = await asyncio.wait_for(connection.exchange(body), REQUEST_TIMEOUT)
    except TimeoutError:
        connection.close()
        return "timeout", None
    except (OSError, EOFError, ValueError, IndexError) as exc:
        connection.close()
        return f"failed: {type(exc).__name__}", None
    return answer_key(status, content, mutation)


@dataclass
class Answers:
    counts: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def add(self, key: str, seconds: float) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        self.latencies.append(seconds)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


async def _attacker(
    connection: KeepAliveConnection,
    attack: str,
    head: int,
    first_turn: int,
    stagger: float,
    stop_at: float,
    answers: Answers,
) -> None:
    # Opened one after another: with `--workers N`, each worker accepts its share.
    await asyncio.sleep(stagger)
    mutation = "login" if attack == "logins" else None
    try:
        for turn in range(first_turn, first_turn + MAX_REQUESTS):
            if time.monotonic() >= stop_at:
                return
            began = time.monotonic()
            key, _ = await call(connection, payload(attack, turn, head), mutation)
            answers.add(key, time.monotonic() - began)
            if key.startswith("failed"):
                await asyncio.sleep(0.05)  # a refused connection fails at once: no busy loop
    finally:
        connection.close()


async def _attack(
    port: int,
    attack: str,
    token: str | None,
    head: int,
    concurrency: int,
    start_at: float,
    stop_at: float,
) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    answers = Answers()
    started_cpu = time.process_time()
    await asyncio.gather(
        *(
            _attacker(
                KeepAliveConnection("127.0.0.1", port, token),
                attack,
                head,
                number * MAX_REQUESTS,
                0.02 * number,
                stop_at,
                answers,
            )
            for number in range(concurrency)
        )
    )
    return {
        "concurrency": concurrency,
        "requests": len(answers.latencies),
        "answers": answers.counts,
        "p50_ms": percentile(answers.latencies, 0.50) * 1000,
        "max_ms": max(answers.latencies, default=float("nan")) * 1000,
        "cpu_seconds": time.process_time() - started_cpu,
    }


def run_attack(
    port: int,
    attack: str,
    token: str | None,
    head: int,
    concurrency: int,
    start_at: float,
    stop_at: float,
) -> dict[str, Any]:
    """One attack from `start_at` to `stop_at` (time.monotonic(), the same clock in every
    process on the machine); returns its counts. Runs in a worker process."""
    return asyncio.run(_attack(port, attack, token, head, concurrency, start_at, stop_at))


def ready() -> bool:
    """A no-op: starts a worker process (and its imports) before the first phase."""
    return True
