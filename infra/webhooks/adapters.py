"""The webhooks context's adapters, built from settings for the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.webhooks.rules import AllowedHosts
from infra.settings import Settings
from infra.webhooks.cipher import AesGcmSecretCipher
from infra.webhooks.metrics import WebhookBacklogCollector
from infra.webhooks.queue import PgDeliveryQueue
from infra.webhooks.runner import Dispatcher, WebhookDispatcherThread
from infra.webhooks.signing import StandardWebhookSigner
from infra.webhooks.transport import LeanHttpTransport
from projections.runtime.base import Projection, StoreSource
from projections.runtime.engine import ProjectionEngine
from projections.webhooks.projection import WebhooksProjection
from projections.webhooks.queries import WebhookQueries


@dataclass
class WebhookAdapters:
    settings: Settings
    conninfo: str
    read_model: WebhookQueries
    cipher: AesGcmSecretCipher
    signer: StandardWebhookSigner
    allowed_hosts: AllowedHosts

    @classmethod
    def build(
        cls, settings: Settings, conninfo: str, connect: Callable[..., Any]
    ) -> WebhookAdapters:
        return cls(
            settings,
            conninfo,
            WebhookQueries(connect),
            AesGcmSecretCipher(settings.secret_key.get_secret_value()),
            StandardWebhookSigner(),
            AllowedHosts.parse(settings.webhook_allowed_hosts),
        )

    @staticmethod
    def projections() -> list[Projection]:
        return [WebhooksProjection()]

    def follower_engine(self, sources: dict[str, StoreSource]) -> ProjectionEngine:
        """An engine of the delivery-creating projection alone (`spoa webhooks run`)."""
        page_size = self.settings.projection_page_size
        return ProjectionEngine(self.conninfo, self.projections(), sources, page_size)

    def policy_values(self) -> dict[str, Any]:
        """The dispatcher's policy (application.webhooks.attempt.DispatchPolicy), as keywords."""
        s = self.settings
        return {
            "concurrency": s.webhook_concurrency,
            "timeout_seconds": s.webhook_timeout_seconds,
            "max_attempts": s.webhook_max_attempts,
            "retry_initial_seconds": s.webhook_retry_initial_seconds,
            "rotation_grace_seconds": s.webhook_rotation_grace_seconds,
            "poll_seconds": s.projection_poll_seconds,
            "allowed_hosts": self.allowed_hosts,
        }

    def transport(self) -> LeanHttpTransport:
        return LeanHttpTransport(self.settings.webhook_concurrency)

    def queue(self) -> PgDeliveryQueue:
        return PgDeliveryQueue(
            self.conninfo, lambda: [row["id"] for row in self.read_model.endpoints()]
        )

    def dispatcher_thread(
        self, dispatcher: Dispatcher, transport: LeanHttpTransport, queue: PgDeliveryQueue
    ) -> WebhookDispatcherThread:
        async def close() -> None:
            await transport.aclose()
            await queue.aclose()

        poll = self.settings.projection_poll_seconds
        return WebhookDispatcherThread(dispatcher, self.conninfo, close, poll)

    def backlog_collector(self) -> WebhookBacklogCollector:
        return WebhookBacklogCollector(self.read_model.endpoints, self.read_model.counts)
