"""One attempt to deliver one event to one endpoint: sign it afresh (with the previous
secret too during a rotation's grace), POST it, and decide what the answer means."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application.ports import Clock
from application.webhooks.payload import Message
from application.webhooks.ports import (
    DeliveryObserver,
    DueDelivery,
    EndpointConfig,
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
    #: due deliveries read at once (and their events decoded at once)
    fetch_batch: int = 256
    #: outcomes are recorded together: this many, or the oldest after flush_seconds
    record_batch: int = 128
    flush_seconds: float = 0.05


@dataclass
class SenderTools:
    """What every endpoint's sender shares (built once by the composition root)."""

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

    def signing_secrets(self, config: EndpointConfig, now: datetime) -> list[str] | str:
        """The secrets that sign now (the previous one too during the rotation grace), or
        why there are none."""
        try:
            signing = [self.secret(config.secret_ciphertext)]
            grace = timedelta(seconds=self.policy.rotation_grace_seconds)
            previous = config.previous_secret_ciphertext
            if previous and config.rotated_at is not None and now < config.rotated_at + grace:
                signing.append(self.secret(previous))
        except ValueError:
            return (
                "the signing secret cannot be decrypted (SPOA_SECRET_KEY changed?):"
                " rotate the endpoint's secret"
            )
        return signing


@dataclass(frozen=True)
class Job:
    """A due delivery with what sending it takes."""

    delivery: DueDelivery
    message: Message | None
    config: EndpointConfig
    signing: list[str] | str


async def attempt(tools: SenderTools, job: Job) -> Outcome:
    delivery, policy = job.delivery, tools.policy
    try:
        answer = await _send(tools, job)
    except Exception as exc:  # whatever goes wrong is this attempt's error, never the loop's
        log.exception("webhook attempt %s failed unexpectedly", delivery.id)
        answer = Answer(None, error=f"internal error: {type(exc).__name__}")
    now = tools.clock.now()
    if answer.status_code == 0:  # refused before sending: final, and no attempt was made
        return Outcome(
            delivery.id, delivery.originator_id, WebhookDeliveryStatus.FAILED.value,
            delivery.attempts, None, answer.error, now, now, None,
        )  # fmt: skip
    attempts = delivery.attempts + 1
    decision = decide(
        answer,
        attempts - delivery.attempts_at_requeue,
        policy.max_attempts,
        policy.retry_initial_seconds,
        now,
        tools.rng.random(),
    )
    delivered = decision.status is WebhookDeliveryStatus.DELIVERED
    if delivered and job.message is not None and tools.observer is not None:
        tools.observer.delivered(job.config.id, (now - job.message.occurred_at).total_seconds())
    return Outcome(
        id=delivery.id,
        originator_id=delivery.originator_id,
        status=decision.status.value,
        attempts=attempts,
        status_code=answer.status_code,
        error=decision.last_error,
        attempted_at=now,
        next_attempt_at=decision.next_attempt_at,
        delivered_at=now if delivered else None,
    )


async def _send(tools: SenderTools, job: Job) -> Answer:
    config, message = job.config, job.message
    host = url_host(config.url)
    if not tools.policy.allowed_hosts.permits(host):
        # Status 0: refused here, final (the setting changed after the endpoint was made).
        return Answer(0, error=f"host {host} is not in SPOA_WEBHOOK_ALLOWED_HOSTS")
    if message is None:
        return Answer(None, error=f"no event at position {job.delivery.position}")
    if isinstance(job.signing, str):
        return Answer(None, error=job.signing)
    msg_id = message_id(job.delivery.id)
    now = tools.clock.now()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": tools.signer.sign(job.signing, msg_id, now, message.body),
    }
    timeout = tools.policy.timeout_seconds
    return await tools.transport.post(config.url, message.body, headers, timeout)
