"""What the webhooks context needs from the outside world: the secret cipher, the signer,
the HTTP transport, the delivery store (read side and the dispatcher's queue) and metrics."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.webhooks.delivery import Answer


class SecretCipher(Protocol):
    """Encrypts signing secrets for storage (a key derived from SPOA_SECRET_KEY)."""

    def encrypt(self, secret: str) -> str: ...

    def decrypt(self, ciphertext: str) -> str:
        """Raises ValueError when the ciphertext is not ours (another key, tampered)."""
        ...


class WebhookSigner(Protocol):
    def sign(self, secrets: Sequence[str], msg_id: str, timestamp: datetime, body: bytes) -> str:
        """The `webhook-signature` header: one `v1,<base64>` per secret, space-separated."""
        ...


class WebhookTransport(Protocol):
    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Answer:
        """POST without following redirects, bounded by `timeout` in all; a timeout or a
        connection error is an Answer without a status code."""
        ...

    async def aclose(self) -> None: ...


class WebhookReadModel(Protocol):
    """Endpoints (`rm.webhook_endpoints`) and deliveries, as dicts of their columns."""

    def endpoints(self) -> list[dict[str, Any]]: ...

    def endpoint(self, endpoint_id: UUID) -> dict[str, Any] | None: ...

    def deliveries(
        self,
        status: str | None,
        endpoint_id: UUID | None,
        before: tuple[int, UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]: ...

    def delivery(self, delivery_id: UUID) -> dict[str, Any] | None: ...

    def deliveries_at(self, positions: Sequence[int]) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class EndpointConfig:
    """Where and how one endpoint receives, as the dispatcher reads it."""

    id: UUID
    url: str
    enabled: bool
    secret_ciphertext: str
    previous_secret_ciphertext: str | None
    rotated_at: datetime | None


@dataclass(frozen=True)
class DueDelivery:
    id: UUID
    position: int
    originator_id: UUID
    attempts: int
    attempts_at_requeue: int


@dataclass(frozen=True)
class Outcome:
    """One attempt's result, to record: the delivery's new state."""

    id: UUID
    originator_id: UUID
    status: str
    attempts: int
    status_code: int | None
    error: str | None
    attempted_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None


class EndpointQueue(Protocol):
    """One endpoint's deliveries, while this process leads it (one leader per endpoint)."""

    async def config(self) -> EndpointConfig | None: ...

    async def release_parked(self) -> None:
        """Make every held-back delivery a candidate again (when leadership starts)."""
        ...

    async def due(self, now: datetime, limit: int, exclude: Collection[UUID]) -> list[DueDelivery]:
        """PENDING deliveries due by `now`, oldest first, each the earliest PENDING of its
        stream here; the ones an earlier PENDING delivery of their stream holds back are
        parked (not offered again until that one is final)."""
        ...

    async def next_due_at(self, exclude: Collection[UUID]) -> datetime | None: ...

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Store outcomes in one transaction; a final one releases the next parked delivery
        of its stream."""
        ...


class DeliveryQueue(Protocol):
    async def endpoint_ids(self) -> list[UUID]: ...

    def lead(self, endpoint_id: UUID) -> AbstractAsyncContextManager[EndpointQueue | None]:
        """The endpoint's queue while this process leads it; None when another one does."""
        ...


class DeliveryObserver(Protocol):
    """Metrics: every attempt's outcome, and the time from the event to its delivery."""

    def attempted(self, endpoint_id: UUID, outcome: str) -> None: ...

    def delivered(self, endpoint_id: UUID, seconds_since_event: float) -> None: ...
