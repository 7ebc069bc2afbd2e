"""GraphQL for the subscribers context: the subscriber queries and every proxy setting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.base import Context, ctx, mutate, query
from api.graphql.subscribers.types import (
    ChangePasswordInput,
    ChangePlanInput,
    DeregisterMailboxInput,
    FreezeMailboxInput,
    Plan,
    RegisterMailboxInput,
    SetAliasInput,
    SetArrivalNotificationInput,
    SetBillDeliveryInput,
    SetCompanionInput,
    SetLoginReminderInput,
    SetSmsBlacklistInput,
    Subscriber,
    SubscriberPayload,
    UnfreezeMailboxInput,
    change_context,
    subscriber_payload,
)
from domain.subscribers import rules


@strawberry.type
class SubscriberQuery:
    @strawberry.field
    async def subscriber(self, info: Info[Context, Any], msisdn: str) -> Subscriber | None:
        c = ctx(info)
        found = await query(c.container.subscriber_queries.subscriber, c.principal(), msisdn)
        return Subscriber.from_aggregate(found) if found is not None else None

    @strawberry.field(
        description="The subscriber's state as it was at the given time, rebuilt from its events"
    )
    async def subscriber_as_of(
        self, info: Info[Context, Any], msisdn: str, at: datetime
    ) -> Subscriber | None:
        c = ctx(info)
        found = await query(
            c.container.subscriber_queries.subscriber_as_of, c.principal(), msisdn, at
        )
        return Subscriber.from_aggregate(found) if found is not None else None

    @strawberry.field
    async def plans(self, info: Info[Context, Any]) -> list[Plan]:
        c = ctx(info)
        found = await query(c.container.subscriber_queries.plans, c.principal())
        return [Plan.from_domain(p) for p in found]


@strawberry.type
class SubscriberMutation:
    @strawberry.mutation
    async def register_mailbox(
        self, info: Info[Context, Any], input: RegisterMailboxInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.register,
            c.principal(),
            input.msisdn,
            input.province,
            input.plan_code,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def deregister_mailbox(
        self, info: Info[Context, Any], input: DeregisterMailboxInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.deregister,
            c.principal(),
            input.msisdn,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def change_plan(
        self, info: Info[Context, Any], input: ChangePlanInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.change_plan,
            c.principal(),
            input.msisdn,
            input.plan_code,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def set_companion(
        self, info: Info[Context, Any], input: SetCompanionInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.set_companion,
            c.principal(),
            input.msisdn,
            input.enabled,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def set_bill_delivery(
        self, info: Info[Context, Any], input: SetBillDeliveryInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.set_bill_delivery,
            c.principal(),
            input.msisdn,
            input.subscribed,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def set_arrival_notification(
        self, info: Info[Context, Any], input: SetArrivalNotificationInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.set_arrival_notification,
            c.principal(),
            input.msisdn,
            input.enabled,
            rules.NotificationMode(input.mode.value) if input.mode is not None else None,
            input.window_start,
            input.window_end,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def set_login_reminder(
        self, info: Info[Context, Any], input: SetLoginReminderInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.set_login_reminder,
            c.principal(),
            input.msisdn,
            input.enabled,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def set_alias(self, info: Info[Context, Any], input: SetAliasInput) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.set_alias,
            c.principal(),
            input.msisdn,
            input.alias,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def change_password(
        self, info: Info[Context, Any], input: ChangePasswordInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.change_password,
            c.principal(),
            input.msisdn,
            input.new_password,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def unfreeze_mailbox(
        self, info: Info[Context, Any], input: UnfreezeMailboxInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.unfreeze,
            c.principal(),
            input.msisdn,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation(description="Platform security (INTEGRATION) and SUPER_ADMIN")
    async def freeze_mailbox(
        self, info: Info[Context, Any], input: FreezeMailboxInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.freeze,
            c.principal(),
            input.msisdn,
            input.reason,
            change_context(input.context),
        )
        return subscriber_payload(result)

    @strawberry.mutation
    async def set_sms_blacklist(
        self, info: Info[Context, Any], input: SetSmsBlacklistInput
    ) -> SubscriberPayload:
        c = ctx(info)
        result = await mutate(
            c.container.subscribers.set_sms_blacklist,
            c.principal(),
            input.msisdn,
            rules.SmsBlacklistLevel(input.level.value),
            change_context(input.context),
        )
        return subscriber_payload(result)
