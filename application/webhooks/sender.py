"""One endpoint's sender: keeps up to `concurrency` attempts in flight, records their
outcomes in batches, and sleeps until something is due, it is woken, or the poll passes.

Per-stream order comes from the queue: it offers only the earliest PENDING delivery of each
stream (parking the ones behind it), so a later event of a stream is never sent before the
earlier one is DELIVERED, FAILED or DEAD here; other streams flow meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from application.ports import Clock
from application.webhooks.payload import Message
from application.webhooks.ports import (
    DeliveryObserver,
    DueDelivery,
    EndpointConfig,
    EndpointQueue,
    Outcome,
    SecretCipher,
    WebhookSigner,
    WebhookTransport,
)
from domain.webhooks.delivery import Answer, WebhookDeliveryStatus, decide, message_id
from domain.webhooks.rules import AllowedHosts, url_host

log = logging.getLogger(__name__)

USER_AGENT = "SPOA-Webhooks/1"


@dataclass(frozen=True)
class DispatchPolicy:
    """SPOA_WEBHOOK_* settings, as the dispatcher applies them."""

    concurrency: int = 16
    timeout_seconds: float = 10.0
    max_attempts: int = 20
    retry_initial_seconds: float = 1.0
    rotation_grace_seconds: float = 86_400.0
    poll_seconds: float = 1.0
    allowed_hosts: AllowedHosts = field(default_factory=AllowedHosts)
    #: finished attempts wait this long for others, so that one transaction records many
    flush_seconds: float = 0.01


@dataclass
class SenderTools:
    """What every endpoint's sender shares (built once by the dispatcher)."""

    transport: WebhookTransport
    signer: WebhookSigner
    cipher: SecretCipher
    messages: Callable[[Sequence[int]], dict[int, Message]]
    clock: Clock
    policy: DispatchPolicy
    observer: DeliveryObserver | None = None
    rng: random.Random = field(default_factory=random.Random)
    _plain: dict[str, str] = field(default_factory=dict)

    def secret(self, ciphertext: str) -> str:
        plain = self._plain.get(ciphertext)
        if plain is None:
            plain = self.cipher.decrypt(ciphertext)
            if len(self._plain) > 1000:
                self._plain.clear()
            self._plain[ciphertext] = plain
        return plain


class EndpointSender:
    def __init__(
        self, tools: SenderTools, endpoint_id: UUID, queue: EndpointQueue, wakeup: asyncio.Event
    ) -> None:
        self.tools = tools
        self.endpoint_id = endpoint_id
        self.policy = tools.policy
        self.queue = queue
        self.wakeup = wakeup
        self.in_flight: dict[asyncio.Task[Outcome], DueDelivery] = {}

    async def run(self, stop: asyncio.Event) -> None:
        await self.queue.release_parked()
        config: EndpointConfig | None = None
        config_read = 0.0
        check_due = True
        due_at: datetime | None = None
        try:
            while not stop.is_set():
                woken = self.wakeup.is_set()
                self.wakeup.clear()
                finished = await self._finished()
                if finished:
                    await self.queue.record(finished)
                    self._observe(finished)
                    check_due = True
                if (
                    config is None
                    or woken
                    or time.monotonic() - config_read >= self.policy.poll_seconds
                ):
                    config = await self.queue.config()
                    config_read = time.monotonic()
                    check_due = True
                now = self.tools.clock.now()
                if woken or check_due or (due_at is not None and now >= due_at):
                    check_due, due_at = False, None
                    if config is not None and config.enabled:
                        due_at = await self._top_up(config, now)
                await self._wait(stop, due_at)
        finally:
            await self._drain()

    async def _top_up(self, config: EndpointConfig, now: datetime) -> datetime | None:
        """Start attempts for what is due; when less than the room was due, when more will be
        (None: as soon as an attempt finishes, or on the next wake-up or poll)."""
        room = self.policy.concurrency - len(self.in_flight)
        if room <= 0:
            return None
        busy = {d.id for d in self.in_flight.values()}
        due = await self.queue.due(now, room, busy)
        if due:
            messages = await asyncio.to_thread(self.tools.messages, [d.position for d in due])
            signing = self._secrets(config, now)
            for delivery in due:
                task = asyncio.create_task(
                    self._attempt(config, signing, delivery, messages.get(delivery.position))
                )
                self.in_flight[task] = delivery
        if len(due) < room:
            return await self.queue.next_due_at(busy | {d.id for d in due})
        return None

    def _secrets(self, config: EndpointConfig, now: datetime) -> list[str] | str:
        """The secrets that sign now (the previous one too during the rotation grace), or
        why there are none."""
        try:
            signing = [self.tools.secret(config.secret_ciphertext)]
            grace = timedelta(seconds=self.policy.rotation_grace_seconds)
            previous = config.previous_secret_ciphertext
            if previous and config.rotated_at is not None and now < config.rotated_at + grace:
                signing.append(self.tools.secret(previous))
        except ValueError:
            return (
                "the signing secret cannot be decrypted (SPOA_SECRET_KEY changed?):"
                " rotate the endpoint's secret"
            )
        return signing

    async def _attempt(
        self,
        config: EndpointConfig,
        signing: list[str] | str,
        delivery: DueDelivery,
        message: Message | None,
    ) -> Outcome:
        try:
            answer = await self._send(config, signing, delivery, message)
        except Exception as exc:  # whatever goes wrong is this attempt's error, never the loop's
            log.exception("webhook attempt %s failed unexpectedly", delivery.id)
            answer = Answer(None, error=f"internal error: {type(exc).__name__}")
        now = self.tools.clock.now()
        if answer.status_code == 0:  # refused before sending: final, no attempt to wait for
            return self._outcome(delivery, WebhookDeliveryStatus.FAILED, None, answer.error, now)
        attempts = delivery.attempts + 1
        decision = decide(
            answer,
            attempts - delivery.attempts_at_requeue,
            self.policy.max_attempts,
            self.policy.retry_initial_seconds,
            now,
            self.tools.rng.random(),
        )
        outcome = Outcome(
            id=delivery.id,
            originator_id=delivery.originator_id,
            status=decision.status.value,
            attempts=attempts,
            status_code=answer.status_code,
            error=decision.last_error,
            attempted_at=now,
            next_attempt_at=decision.next_attempt_at,
            delivered_at=now if decision.status is WebhookDeliveryStatus.DELIVERED else None,
        )
        if (
            outcome.delivered_at is not None
            and message is not None
            and self.tools.observer is not None
        ):
            self.tools.observer.delivered(config.id, (now - message.occurred_at).total_seconds())
        return outcome

    def _outcome(
        self,
        delivery: DueDelivery,
        status: WebhookDeliveryStatus,
        code: int | None,
        error: str | None,
        now: datetime,
    ) -> Outcome:
        return Outcome(
            delivery.id,
            delivery.originator_id,
            status.value,
            delivery.attempts,
            code,
            error,
            now,
            now,
            None,
        )

    async def _send(
        self,
        config: EndpointConfig,
        signing: list[str] | str,
        delivery: DueDelivery,
        message: Message | None,
    ) -> Answer:
        if not self.policy.allowed_hosts.permits(url_host(config.url)):
            # Status 0: refused here, final (the setting changed after the endpoint was made).
            return Answer(
                0, error=f"host {url_host(config.url)} is not in SPOA_WEBHOOK_ALLOWED_HOSTS"
            )
        if message is None:
            return Answer(None, error=f"no event at position {delivery.position}")
        if isinstance(signing, str):
            return Answer(None, error=signing)
        msg_id = message_id(delivery.id)
        now = self.tools.clock.now()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.tools.signer.sign(signing, msg_id, now, message.body),
        }
        return await self.tools.transport.post(
            config.url, message.body, headers, self.policy.timeout_seconds
        )

    async def _finished(self) -> list[Outcome]:
        done = [task for task in self.in_flight if task.done()]
        outcomes = []
        for task in done:
            self.in_flight.pop(task)
            outcomes.append(task.result())
        return outcomes

    def _observe(self, outcomes: list[Outcome]) -> None:
        observer = self.tools.observer
        if observer is None:
            return
        for outcome in outcomes:
            kind = "retry" if outcome.status == "PENDING" else outcome.status.lower()
            observer.attempted(self.endpoint_id, kind)

    async def _wait(self, stop: asyncio.Event, due_at: datetime | None) -> None:
        """Until an attempt finishes (then a moment longer, so outcomes are recorded
        together), a wake-up, the stop, the next due time or the poll."""
        timeout = self.policy.poll_seconds
        if due_at is not None:
            timeout = min(timeout, max((due_at - self.tools.clock.now()).total_seconds(), 0.0))
        waiters: set[asyncio.Future[object]] = set(self.in_flight)  # type: ignore[arg-type]
        signals = [asyncio.ensure_future(self.wakeup.wait()), asyncio.ensure_future(stop.wait())]
        try:
            done, _ = await asyncio.wait(
                waiters | set(signals), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if done & waiters and self.in_flight and not stop.is_set():
                await asyncio.wait(set(self.in_flight), timeout=self.policy.flush_seconds)
        finally:
            for signal in signals:
                signal.cancel()

    async def _drain(self) -> None:
        """On the way out: let the attempts in flight finish (bounded by their timeout) and
        record them, so a clean stop never leaves one to be sent again."""
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=self.policy.timeout_seconds + 1)
        for task in list(self.in_flight):
            if not task.done():
                task.cancel()
                self.in_flight.pop(task)
        finished = await self._finished()
        if finished:
            await self.queue.record(finished)
