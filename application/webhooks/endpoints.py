"""Webhook endpoint use cases (SUPER_ADMIN manages, SECOND_LINE_AGENT and AUDITOR read).

The signing secret (`whsec_` + base64 of 32 random bytes) is returned once, by create and
rotate; it is stored only encrypted, as ciphertext in the endpoint's events (one write, so an
endpoint never exists without its secret, and the log alone rebuilds it; audit output redacts
the ciphertext too). Changing SPOA_SECRET_KEY therefore needs a rotation of every secret.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from application.authz import Principal
from application.consistency import wait_until_applied
from application.ports import Clock, ReadModelWaiter
from application.unit_of_work import get_or_raise, run_command, save
from application.webhooks.ports import SecretCipher, WebhookReadModel
from domain.access.permissions import Permission
from domain.webhooks.endpoint import WebhookEndpoint
from domain.webhooks.event_types import deliverable_event_types
from domain.webhooks.rules import AllowedHosts, EndpointSubscription

WEBHOOK_PROJECTIONS = ("webhooks",)
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix Standard Webhooks secrets carry


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class EndpointView:
    """What readers see of an endpoint: never its secret."""

    id: UUID
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointView:
        return cls(
            endpoint.id,
            endpoint.url,
            list(endpoint.event_types),
            endpoint.description,
            endpoint.enabled,
            endpoint.created_on,
        )

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> EndpointView:
        return cls(
            row["id"],
            row["url"],
            list(row["event_types"]),
            row["description"],
            row["enabled"],
            row["created_at"],
        )


@dataclass(frozen=True)
class EndpointInput:
    url: str
    event_types: Sequence[str]
    description: str | None = None


@dataclass(frozen=True)
class EndpointResult:
    endpoint: EndpointView
    position: int
    #: the signing secret in the clear: only right after create and rotate
    secret: str | None = None


class WebhookEndpointService:
    def __init__(
        self,
        store: Application[UUID],
        cipher: SecretCipher,
        clock: Clock,
        read_model: WebhookReadModel,
        waiter: ReadModelWaiter,
        allowed_hosts: AllowedHosts,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.clock = clock
        self.read_model = read_model
        self.waiter = waiter
        self.allowed_hosts = allowed_hosts

    def _subscription(self, data: EndpointInput) -> EndpointSubscription:
        return EndpointSubscription.clean(
            url=data.url,
            event_types=data.event_types,
            description=data.description,
            allowed_hosts=self.allowed_hosts,
            known_event_types=deliverable_event_types(),
        )

    def create(self, principal: Principal, data: EndpointInput) -> EndpointResult:
        principal.require(Permission.WEBHOOK_MANAGE)
        subscription = self._subscription(data)
        secret = new_secret()
        endpoint = WebhookEndpoint.create(
            subscription, self.cipher.encrypt(secret), self.clock.now(), principal.meta()
        )
        position = save(self.store, endpoint)
        return EndpointResult(EndpointView.of(endpoint), position, secret)

    def update(
        self, principal: Principal, endpoint_id: UUID, data: EndpointInput
    ) -> EndpointResult:
        principal.require(Permission.WEBHOOK_MANAGE)
        subscription = self._subscription(data)
        meta = principal.meta()

        def act(endpoint: WebhookEndpoint) -> EndpointResult:
            endpoint.update(subscription, self.clock.now(), meta)
            return EndpointResult(EndpointView.of(endpoint), save(self.store, endpoint))

        return run_command(lambda: self._endpoint(endpoint_id), act)

    def disable(self, principal: Principal, endpoint_id: UUID) -> EndpointResult:
        principal.require(Permission.WEBHOOK_MANAGE)
        meta = principal.meta()

        def act(endpoint: WebhookEndpoint) -> EndpointResult:
            endpoint.disable(self.clock.now(), meta)
            return EndpointResult(EndpointView.of(endpoint), save(self.store, endpoint))

        return run_command(lambda: self._endpoint(endpoint_id), act)

    def enable(self, principal: Principal, endpoint_id: UUID) -> EndpointResult:
        principal.require(Permission.WEBHOOK_MANAGE)
        meta = principal.meta()

        def act(endpoint: WebhookEndpoint) -> EndpointResult:
            endpoint.enable(self.clock.now(), meta)
            return EndpointResult(EndpointView.of(endpoint), save(self.store, endpoint))

        return run_command(lambda: self._endpoint(endpoint_id), act)

    def rotate_secret(self, principal: Principal, endpoint_id: UUID) -> EndpointResult:
        """A new secret; deliveries carry signatures with both secrets for
        SPOA_WEBHOOK_ROTATION_GRACE_SECONDS, then with the new one only."""
        principal.require(Permission.WEBHOOK_MANAGE)
        meta = principal.meta()
        secret = new_secret()
        ciphertext = self.cipher.encrypt(secret)

        def act(endpoint: WebhookEndpoint) -> EndpointResult:
            endpoint.rotate_secret(ciphertext, self.clock.now(), meta)
            position = save(self.store, endpoint)
            return EndpointResult(EndpointView.of(endpoint), position, secret)

        return run_command(lambda: self._endpoint(endpoint_id), act)

    def _endpoint(self, endpoint_id: UUID) -> WebhookEndpoint:
        return get_or_raise(self.store, endpoint_id, WebhookEndpoint, "webhook endpoint")

    async def wait_for_list(self, principal: Principal, consistent_with: int | None) -> None:
        principal.require(Permission.WEBHOOK_READ)
        await wait_until_applied(self.waiter, WEBHOOK_PROJECTIONS, consistent_with)

    def list(self, principal: Principal) -> list[EndpointView]:
        principal.require(Permission.WEBHOOK_READ)
        return [EndpointView.of_row(row) for row in self.read_model.endpoints()]
