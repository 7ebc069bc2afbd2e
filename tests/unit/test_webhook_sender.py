"""The dispatcher's sender on fakes of its ports (no database, no network): it keeps the
workers busy, records outcomes in batches, signs every attempt, sends nothing for a disabled
endpoint, and on stop lets what is in flight finish and records it."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from application.webhooks.attempt import DispatchPolicy, SenderTools
from application.webhooks.payload import Message
from application.webhooks.ports import DueDelivery, EndpointConfig, Outcome
from application.webhooks.sender import EndpointSender
from domain.webhooks.delivery import Answer

ENDPOINT = uuid4()
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Queue:
    """Deliveries in memory: every one its own stream, due at once, retries when asked."""

    def __init__(self, count: int, enabled: bool = True) -> None:
        # id -> (position, next attempt, attempts so far)
        self.pending = {uuid4(): (position, T0, 0) for position in range(1, count + 1)}
        self.enabled = enabled
        self.records: list[list[Outcome]] = []
        self.final: dict[UUID, Outcome] = {}

    async def config(self) -> EndpointConfig:
        return EndpointConfig(ENDPOINT, "http://receiver/hook", self.enabled, "c1", None, None)

    async def release_parked(self) -> None:
        pass

    async def due(self, now: datetime, limit: int, exclude: Collection[UUID]) -> list[DueDelivery]:
        due = [
            DueDelivery(i, p, uuid4(), attempts, 0)
            for i, (p, at, attempts) in sorted(self.pending.items(), key=lambda kv: kv[1])
            if at <= now and i not in exclude
        ]
        return due[:limit]

    async def next_due_at(self, exclude: Collection[UUID]) -> datetime | None:
        times = [at for i, (_, at, _) in self.pending.items() if i not in exclude]
        return min(times) if times else None

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        self.records.append(list(outcomes))
        for o in outcomes:
            if o.status == "PENDING":
                self.pending[o.id] = (self.pending[o.id][0], o.next_attempt_at, o.attempts)
            else:
                self.pending.pop(o.id, None)
                self.final[o.id] = o


class Transport:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.sent: list[Mapping[str, str]] = []
        self.in_flight = self.most_in_flight = 0

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Answer:
        self.sent.append(headers)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        return Answer(200)

    async def aclose(self) -> None:
        pass


class Signer:
    def sign(self, secrets: Sequence[str], msg_id: str, timestamp: datetime, body: bytes) -> str:
        return " ".join(f"v1,{s}:{msg_id}" for s in secrets)


class Cipher:
    def encrypt(self, secret: str) -> str:
        return secret

    def decrypt(self, ciphertext: str) -> str:
        return f"plain-{ciphertext}"


def messages(positions: Sequence[int]) -> dict[int, Message]:
    return {p: Message(b"{}", "Subscriber.PlanChanged", T0) for p in positions}


def tools(transport: Transport, **policy: float) -> SenderTools:
    values = {"concurrency": 4, "poll_seconds": 0.05, "flush_seconds": 0.02, **policy}
    return SenderTools(
        transport,
        Signer(),
        Cipher(),
        messages,
        Clock(),
        DispatchPolicy(**values),  # type: ignore[arg-type]
    )


async def run_until(sender: EndpointSender, done: object, timeout: float = 5.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    deadline = asyncio.get_running_loop().time() + timeout
    while not done() and asyncio.get_running_loop().time() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)


def test_everything_due_is_sent_once_with_bounded_concurrency_and_batched_records() -> None:
    queue, transport = Queue(300), Transport(delay=0.002)
    sender = EndpointSender(tools(transport, record_batch=64), ENDPOINT, queue, asyncio.Event())
    asyncio.run(run_until(sender, lambda: not queue.pending))
    assert len(queue.final) == 300 and {o.status for o in queue.final.values()} == {"DELIVERED"}
    assert len(transport.sent) == 300
    assert transport.most_in_flight <= 4
    assert len(queue.records) < 300 / 4  # outcomes recorded together, not one by one
    headers = transport.sent[0]
    assert headers["webhook-signature"] == f"v1,plain-c1:{headers['webhook-id']}"
    assert headers["webhook-id"].startswith("msg_")


def test_nothing_is_sent_for_a_disabled_endpoint() -> None:
    queue, transport = Queue(5, enabled=False), Transport()
    sender = EndpointSender(tools(transport), ENDPOINT, queue, asyncio.Event())
    asyncio.run(run_until(sender, lambda: False, timeout=0.3))
    assert transport.sent == [] and queue.records == []


def test_a_stop_lets_attempts_in_flight_finish_and_records_them() -> None:
    queue, transport = Queue(4), Transport(delay=0.3)
    sender = EndpointSender(tools(transport), ENDPOINT, queue, asyncio.Event())
    asyncio.run(run_until(sender, lambda: len(transport.sent) == 4))
    assert len(queue.final) == 4  # recorded on the way out: none will be sent again


def test_retries_wait_for_their_time() -> None:
    class Failing(Transport):
        async def post(
            self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
        ) -> Answer:
            await super().post(url, body, headers, timeout)
            return Answer(503) if len(self.sent) == 1 else Answer(200)

    queue, transport = Queue(1), Failing()
    sender = EndpointSender(
        tools(transport, retry_initial_seconds=0.2), ENDPOINT, queue, asyncio.Event()
    )
    asyncio.run(run_until(sender, lambda: not queue.pending))
    (outcome,) = queue.final.values()
    assert (outcome.status, outcome.attempts) == ("DELIVERED", 2)
    first = queue.records[0][0]
    assert first.next_attempt_at - first.attempted_at >= timedelta(seconds=0.15)
