"""What agents see of deliveries, and redelivery (FAILED or DEAD → PENDING, audited).

Deliveries are read from the dispatcher's table; `consistentWith` waits for its log follower
(the `webhooks` projection), which creates deliveries and applies redelivery requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from application.authz import Principal
from application.consistency import wait_until_applied
from application.ports import Clock, ReadModelWaiter
from application.unit_of_work import get_or_raise, run_command, save
from application.webhooks.endpoints import WEBHOOK_PROJECTIONS, EndpointView
from application.webhooks.ports import WebhookReadModel
from domain.access.permissions import Permission
from domain.shared import NotFoundError, PermissionDeniedError
from domain.webhooks.delivery import WebhookDeliveryStatus
from domain.webhooks.endpoint import WebhookEndpoint

#: who sees the deliveries of an event they may read (Subscriber.changes, events, trails)
_EVENT_READERS = (Permission.SUBSCRIBER_READ, Permission.AUDIT_READ, Permission.WEBHOOK_READ)


@dataclass(frozen=True)
class DeliveryView:
    id: UUID
    endpoint: EndpointView
    event_position: int
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> DeliveryView:
        endpoint = EndpointView(
            row["endpoint_id"],
            row["endpoint_url"],
            list(row["endpoint_event_types"]),
            row["endpoint_description"],
            row["endpoint_enabled"],
            row["endpoint_created_at"],
        )
        return cls(
            id=row["id"],
            endpoint=endpoint,
            event_position=row["position"],
            event_type=row["event_type"],
            status=row["status"],
            attempts=row["attempts"],
            last_status_code=row["last_status_code"],
            last_error=row["last_error"],
            last_attempt_at=row["last_attempt_at"],
            next_attempt_at=row["next_attempt_at"],
            delivered_at=row["delivered_at"],
        )


@dataclass(frozen=True)
class DeliveryResult:
    delivery: DeliveryView
    position: int


class WebhookDeliveryService:
    def __init__(
        self,
        store: Application[UUID],
        clock: Clock,
        read_model: WebhookReadModel,
        waiter: ReadModelWaiter,
    ) -> None:
        self.store = store
        self.clock = clock
        self.read_model = read_model
        self.waiter = waiter

    async def wait_for_list(self, principal: Principal, consistent_with: int | None) -> None:
        principal.require(Permission.WEBHOOK_READ)
        await wait_until_applied(self.waiter, WEBHOOK_PROJECTIONS, consistent_with)

    def page(
        self,
        principal: Principal,
        status: WebhookDeliveryStatus | None,
        endpoint_id: UUID | None,
        before: tuple[int, UUID] | None,
        limit: int,
    ) -> list[DeliveryView]:
        """Newest event first; `before` is the keyset (position, id) of the previous page."""
        principal.require(Permission.WEBHOOK_READ)
        rows = self.read_model.deliveries(
            status.value if status is not None else None, endpoint_id, before, limit
        )
        return [DeliveryView.of_row(row) for row in rows]

    def get(self, principal: Principal, delivery_id: UUID) -> DeliveryView | None:
        principal.require(Permission.WEBHOOK_READ)
        row = self.read_model.delivery(delivery_id)
        return DeliveryView.of_row(row) if row is not None else None

    def of_events(
        self, principal: Principal, positions: Sequence[int]
    ) -> dict[int, list[DeliveryView]]:
        """The deliveries of core events the caller was allowed to read, by position."""
        if not any(_may(principal, p) for p in _EVENT_READERS):
            raise PermissionDeniedError(f"{principal.role.value} may not read events")
        found: dict[int, list[DeliveryView]] = {p: [] for p in positions}
        for row in self.read_model.deliveries_at(positions):
            found[row["position"]].append(DeliveryView.of_row(row))
        return found

    def redeliver(self, principal: Principal, delivery_id: UUID) -> DeliveryResult:
        """FAILED or DEAD → PENDING with a fresh budget of attempts, recorded as an event on
        the endpoint; NOT_REDELIVERABLE for a delivery PENDING or DELIVERED."""
        principal.require(Permission.WEBHOOK_REDELIVER)
        meta = principal.meta()
        row = self.read_model.delivery(delivery_id)
        if row is None:
            raise NotFoundError("webhook delivery not found", field=["id"])
        current = DeliveryView.of_row(row)

        def act(endpoint: WebhookEndpoint) -> DeliveryResult:
            now = self.clock.now()
            endpoint.request_redelivery(
                str(delivery_id), current.event_position, current.status, now, meta
            )
            position = save(self.store, endpoint)
            queued = replace(
                current,
                endpoint=EndpointView.of(endpoint),
                status=WebhookDeliveryStatus.PENDING.value,
                next_attempt_at=now,
            )
            return DeliveryResult(queued, position)

        return run_command(
            lambda: get_or_raise(
                self.store, current.endpoint.id, WebhookEndpoint, "webhook endpoint"
            ),
            act,
        )


def _may(principal: Principal, permission: Permission) -> bool:
    try:
        principal.require(permission)
    except PermissionDeniedError:
        return False
    return True
