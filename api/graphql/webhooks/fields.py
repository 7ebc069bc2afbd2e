"""Queries and mutations of the webhooks context."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.access import parse_id
from api.graphql.base import (
    Context,
    PageInfo,
    bad_input,
    consistent,
    ctx,
    first_arg,
    mutate,
    query,
)
from api.graphql.webhooks.types import (
    WebhookDelivery,
    WebhookDeliveryConnection,
    WebhookDeliveryPayload,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointInput,
    WebhookEndpointPayload,
    delivery_payload,
    endpoint_payload,
)
from application.webhooks.endpoints import EndpointInput
from domain.shared import DomainError
from domain.webhooks.delivery import WebhookDeliveryStatus as Status

_CURSOR = "webhookDeliveries"


def _data(input: WebhookEndpointInput) -> EndpointInput:
    return EndpointInput(input.url, list(input.event_types), input.description)


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        description="Every webhook endpoint (SUPER_ADMIN, SECOND_LINE_AGENT, AUDITOR)"
    )
    async def webhook_endpoints(
        self, info: Info[Context, Any], consistent_with: int | None = None
    ) -> list[WebhookEndpoint]:
        c = ctx(info)
        principal = c.principal()
        await consistent(c.container.webhook_endpoints.wait_for_list(principal, consistent_with))
        views = await query(c.container.webhook_endpoints.list, principal)
        return [WebhookEndpoint.from_view(v) for v in views]

    @strawberry.field(description="Deliveries, newest event first")
    async def webhook_deliveries(
        self,
        info: Info[Context, Any],
        status: WebhookDeliveryStatus | None = None,
        endpoint_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> WebhookDeliveryConnection:
        c = ctx(info)
        principal = c.principal()
        limit = first_arg(c.container, first)
        endpoint = parse_id(endpoint_id, "endpointId") if endpoint_id is not None else None
        before = None
        if after is not None:
            try:
                position, delivery_id = c.container.cursors.decode(_CURSOR, after)
                before = (int(position), parse_id(delivery_id))
            except (DomainError, ValueError, TypeError):
                raise bad_input("invalid cursor") from None
        await consistent(c.container.webhook_deliveries.wait_for_list(principal, consistent_with))
        views = await query(
            c.container.webhook_deliveries.page,
            principal,
            Status(status.value) if status is not None else None,
            endpoint,
            before,
            limit + 1,
        )
        page = views[:limit]
        end = (
            c.container.cursors.encode(_CURSOR, [page[-1].event_position, str(page[-1].id)])
            if page
            else None
        )
        return WebhookDeliveryConnection(
            nodes=[WebhookDelivery.from_view(v) for v in page],
            page_info=PageInfo(end_cursor=end, has_next_page=len(views) > limit),
        )


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="The secret is in this answer only (SUPER_ADMIN)")
    async def create_webhook_endpoint(
        self, info: Info[Context, Any], input: WebhookEndpointInput
    ) -> WebhookEndpointPayload:
        c = ctx(info)
        result = await mutate(c.container.webhook_endpoints.create, c.principal(), _data(input))
        return endpoint_payload(result)

    @strawberry.mutation
    async def update_webhook_endpoint(
        self, info: Info[Context, Any], id: strawberry.ID, input: WebhookEndpointInput
    ) -> WebhookEndpointPayload:
        c = ctx(info)
        result = await mutate(
            c.container.webhook_endpoints.update, c.principal(), parse_id(id), _data(input)
        )
        return endpoint_payload(result)

    @strawberry.mutation(description="Events committed while disabled are never delivered to it")
    async def disable_webhook_endpoint(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> WebhookEndpointPayload:
        c = ctx(info)
        result = await mutate(c.container.webhook_endpoints.disable, c.principal(), parse_id(id))
        return endpoint_payload(result)

    @strawberry.mutation
    async def enable_webhook_endpoint(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> WebhookEndpointPayload:
        c = ctx(info)
        result = await mutate(c.container.webhook_endpoints.enable, c.principal(), parse_id(id))
        return endpoint_payload(result)

    @strawberry.mutation(
        description="A new secret, in this answer only; both sign during the rotation grace"
    )
    async def rotate_webhook_secret(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> WebhookEndpointPayload:
        c = ctx(info)
        result = await mutate(
            c.container.webhook_endpoints.rotate_secret, c.principal(), parse_id(id)
        )
        return endpoint_payload(result)

    @strawberry.mutation(description="A FAILED or DEAD delivery becomes PENDING again (audited)")
    async def redeliver_webhook(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> WebhookDeliveryPayload:
        c = ctx(info)
        result = await mutate(c.container.webhook_deliveries.redeliver, c.principal(), parse_id(id))
        return delivery_payload(result)
