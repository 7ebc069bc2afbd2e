"""GraphQL types of the webhooks context (never a secret, but the one a create or rotate
returns in its payload)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from api.graphql.base import Context, PageInfo, UserError, ctx, query
from application.webhooks.deliveries import DeliveryResult, DeliveryView
from application.webhooks.endpoints import EndpointResult, EndpointView


@strawberry.type(description="Where the mail platform or BOSS receives SPOA's events")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    event_types: list[str] = strawberry.field(
        description="`<streamType>.<type>` as the events feed names them, or `<streamType>.*`"
    )
    description: str | None
    enabled: bool
    created_at: datetime

    @classmethod
    def from_view(cls, v: EndpointView) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(str(v.id)),
            url=v.url,
            event_types=list(v.event_types),
            description=v.description,
            enabled=v.enabled,
            created_at=v.created_at,
        )


@strawberry.input
class WebhookEndpointInput:
    url: str
    event_types: list[str]
    description: str | None = None


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret (whsec_...): only in the answer to create and rotate",
    )
    position: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    DEAD = "DEAD"


@strawberry.type(description="One event sent (or being sent) to one endpoint")
class WebhookDelivery:
    id: strawberry.ID
    endpoint: WebhookEndpoint
    event_position: int
    event_type: str
    status: WebhookDeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None = strawberry.field(
        description="The first 500 bytes of the last answer's body, or the transport error"
    )
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def from_view(cls, v: DeliveryView) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(str(v.id)),
            endpoint=WebhookEndpoint.from_view(v.endpoint),
            event_position=v.event_position,
            event_type=v.event_type,
            status=WebhookDeliveryStatus(v.status),
            attempts=v.attempts,
            last_status_code=v.last_status_code,
            last_error=v.last_error,
            last_attempt_at=v.last_attempt_at,
            next_attempt_at=v.next_attempt_at,
            delivered_at=v.delivered_at,
        )


@strawberry.type
class WebhookDeliveryConnection:
    nodes: list[WebhookDelivery]
    page_info: PageInfo


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = None
    position: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def endpoint_payload(result: EndpointResult | list[UserError]) -> WebhookEndpointPayload:
    if isinstance(result, list):
        return WebhookEndpointPayload(user_errors=result)
    return WebhookEndpointPayload(
        endpoint=WebhookEndpoint.from_view(result.endpoint),
        secret=result.secret,
        position=result.position,
    )


def delivery_payload(result: DeliveryResult | list[UserError]) -> WebhookDeliveryPayload:
    if isinstance(result, list):
        return WebhookDeliveryPayload(user_errors=result)
    return WebhookDeliveryPayload(
        delivery=WebhookDelivery.from_view(result.delivery), position=result.position
    )


_LOADER = "_webhook_deliveries_of_events"


async def deliveries_of_event(info: Info[Context, Any], position: int) -> list[WebhookDelivery]:
    """The deliveries of one core event, loaded for every event of the page in one query."""
    c = ctx(info)
    loader: DataLoader[int, list[WebhookDelivery]] | None = c.__dict__.get(_LOADER)
    if loader is None:
        principal = c.principal()

        async def load(positions: list[int]) -> list[list[WebhookDelivery]]:
            found = await query(c.container.webhook_deliveries.of_events, principal, positions)
            return [[WebhookDelivery.from_view(v) for v in found[p]] for p in positions]

        loader = DataLoader(load_fn=load)
        c.__dict__[_LOADER] = loader
    return await loader.load(position)
