"""What bench/webhook_delivery.py needs: a lean webhook receiver (asyncio, HTTP/1.1
keep-alive, answers 204 at once, verifies a sample of signatures with standardwebhooks) and
a fast way to store many core events (mailboxes saved in batches, not one command each)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from domain.shared import Actor, ChangeMeta
from domain.subscribers.subscriber import Subscriber
from infra.bootstrap import Container

ANSWER = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
BENCH_ACTOR = Actor("", "bench.loader", "SUPER_ADMIN", None)


@dataclass
class Received:
    count: int = 0
    ids: set[str] = field(default_factory=set)
    #: arrival time minus the event's occurredAt, per delivery (latency phase)
    latencies: list[float] = field(default_factory=list)
    #: arrival time per event position (latency phase)
    arrivals: dict[int, float] = field(default_factory=dict)
    verified: int = 0
    first_at: float | None = None
    last_at: float | None = None
    secret: str | None = None
    record_latency: bool = False


class WebhookReceiver(asyncio.Protocol):
    """One connection: requests parsed just enough (head, content-length, body)."""

    def __init__(self, state: Received) -> None:
        self.state = state
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # (uvloop's is no asyncio.Transport subclass)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            headers = {}
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.received(headers, body)
            self.transport.write(ANSWER)

    def received(self, headers: dict[str, str], body: bytes) -> None:
        state, now = self.state, time.time()
        state.count += 1
        state.ids.add(headers["webhook-id"])
        state.first_at = state.first_at or now
        state.last_at = now
        if state.secret is not None and state.count % 1000 == 1:
            Webhook(state.secret).verify(body, headers)  # the signature, as receivers check it
            state.verified += 1
        if state.record_latency:
            data = json.loads(body)["data"]
            state.latencies.append(now - datetime.fromisoformat(data["occurredAt"]).timestamp())
            state.arrivals[data["position"]] = now


async def start_receiver(state: Received) -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: WebhookReceiver(state), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def store_events(container: Container, events: int, per_mailbox: int = 10, batch: int = 200) -> int:
    """`events` core events: mailboxes registered, then their settings toggled, saved
    `batch` mailboxes per transaction. Returns the store's head."""
    meta = ChangeMeta(BENCH_ACTOR, reason="bench")
    mailboxes = events // per_mailbox
    started = last = time.perf_counter()
    for first in range(0, mailboxes, batch):
        now = datetime.now(UTC)
        aggregates = []
        for n in range(first, min(first + batch, mailboxes)):
            s = Subscriber.register(
                msisdn=f"13{n:09d}", province="GD", plan_code="FREE", at=now, meta=meta
            )
            for turn in range(per_mailbox - 1):
                if turn % 2:
                    s.set_login_reminder(not s.login_reminder, now, meta)
                else:
                    s.set_companion(not s.companion_enabled, now, meta)
            aggregates.append(s)
        container.core.save(*aggregates)
        if time.perf_counter() - last > 5:
            last = time.perf_counter()
            done = (first + batch) * per_mailbox
            print(f"  stored {done:,} events ({done / (last - started):,.0f}/s)", flush=True)
    return container.core_log.head()
