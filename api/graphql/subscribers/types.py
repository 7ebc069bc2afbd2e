"""GraphQL types of the subscribers context: the mailbox, plans, changes, inputs, payloads."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.audit import AuditEventConnection, connection
from api.graphql.base import (
    Context,
    Province,
    UserError,
    ctx,
    first_arg,
    int_cursor,
    query,
)
from api.graphql.history.fields import SubscriberHistory
from application.subscribers.commands import ChangeContext as DomainChangeContext
from application.subscribers.commands import SubscriberResult
from application.subscribers.queries import PointsStanding
from domain.subscribers.periods import PeriodWindow, SubscriberPeriods
from domain.subscribers.plans import Plan as DomainPlan


@strawberry.enum
class MailboxStatus(Enum):
    ACTIVE = "ACTIVE"
    FROZEN = "FROZEN"
    DEREGISTERED = "DEREGISTERED"


@strawberry.enum
class NotificationMode(Enum):
    SMS = "SMS"
    MMS = "MMS"
    WAP_PUSH = "WAP_PUSH"


@strawberry.enum(description="Level of restriction on SMS from the service number 10658139")
class SmsBlacklistLevel(Enum):
    NONE = "NONE"
    NO_MARKETING = strawberry.enum_value("NO_MARKETING", description="no marketing or campaign SMS")
    ESSENTIAL_ONLY = strawberry.enum_value(
        "ESSENTIAL_ONLY", description="only mail-arrival and security SMS"
    )
    ALL_BLOCKED = strawberry.enum_value("ALL_BLOCKED", description="no SMS from 10658139 at all")


@strawberry.type
class Plan:
    code: str
    name: str
    monthly_fee_fen: int

    @classmethod
    def from_domain(cls, plan: DomainPlan) -> Plan:
        return cls(code=plan.code, name=plan.name, monthly_fee_fen=plan.monthly_fee_fen)


@strawberry.type
class ArrivalNotification:
    enabled: bool
    mode: NotificationMode | None
    window_start: str | None = strawberry.field(
        description="Local (Asia/Shanghai) time of day, HH:MM; a window may wrap past midnight"
    )
    window_end: str | None


@strawberry.type(description="A registration period of the number: no personal data")
class Registration:
    start: datetime
    end: datetime | None = strawberry.field(description="null while the mailbox is open")
    province: Province  # type: ignore[valid-type]


# The history-record fields (smsRecords ... pointsLog) come from SubscriberHistory;
# they rely on `self.msisdn` of a Subscriber the caller was already authorised to read, and
# on `period_window` for what of its registration periods they cover.
@strawberry.type
class Subscriber(SubscriberHistory):
    msisdn: str
    mailbox: str = strawberry.field(description="msisdn@139.com")
    province: Province  # type: ignore[valid-type]
    status: MailboxStatus
    plan: Plan
    registered_at: datetime
    deregistered_at: datetime | None
    frozen_at: datetime | None
    frozen_reason: str | None
    companion_enabled: bool
    bill_delivery: bool
    arrival_notification: ArrivalNotification
    login_reminder: bool
    alias: str | None
    sms_blacklist_level: SmsBlacklistLevel
    password_changed_at: datetime | None
    version: int = strawberry.field(
        description="Aggregate version; pass as expectedVersion to guard against concurrent edits"
    )
    aggregate: strawberry.Private[Any]
    # Per request: the points standing per allPeriods value, and the periods, read once
    # however many fields need them (fields resolve concurrently: the read is shared).
    points_cache: strawberry.Private[dict[bool, asyncio.Future[PointsStanding]] | None] = None
    periods_read: strawberry.Private[asyncio.Future[SubscriberPeriods] | None] = None

    @classmethod
    def from_aggregate(cls, s: Any) -> Subscriber:
        return cls(
            msisdn=s.msisdn,
            mailbox=s.mailbox,
            province=s.province,
            status=MailboxStatus(s.status),
            plan=Plan.from_domain(s.plan),
            registered_at=s.registered_at,
            deregistered_at=s.deregistered_at,
            frozen_at=s.frozen_at,
            frozen_reason=s.frozen_reason,
            companion_enabled=s.companion_enabled,
            bill_delivery=s.bill_delivery,
            arrival_notification=ArrivalNotification(
                enabled=s.arrival_enabled,
                mode=NotificationMode(s.arrival_mode) if s.arrival_mode else None,
                window_start=s.arrival_window_start,
                window_end=s.arrival_window_end,
            ),
            login_reminder=s.login_reminder,
            alias=s.alias,
            sms_blacklist_level=SmsBlacklistLevel(s.sms_blacklist_level),
            password_changed_at=s.password_changed_at,
            version=s.version,
            aggregate=s,
        )

    async def _periods(self, info: Info[Context, Any]) -> SubscriberPeriods:
        if self.periods_read is None:
            c = ctx(info)
            self.periods_read = asyncio.ensure_future(
                query(c.container.subscriber_queries.periods, c.principal(), self.aggregate)
            )
        return await self.periods_read

    async def period_window(
        self, info: Info[Context, Any], all_periods: bool | None
    ) -> PeriodWindow:
        c = ctx(info)
        periods = await self._periods(info)
        return await query(
            c.container.subscriber_queries.window, c.principal(), periods, bool(all_periods)
        )

    async def _points(self, info: Info[Context, Any], given: bool | None) -> PointsStanding:
        all_periods = bool(given)
        if self.points_cache is None:
            self.points_cache = {}
        if all_periods not in self.points_cache:
            self.points_cache[all_periods] = asyncio.ensure_future(
                self._read_points(info, all_periods)
            )
        return await self.points_cache[all_periods]

    async def _read_points(self, info: Info[Context, Any], all_periods: bool) -> PointsStanding:
        c = ctx(info)
        window = await self.period_window(info, all_periods)
        return await query(
            c.container.subscriber_queries.points, c.principal(), self.aggregate, window
        )

    @strawberry.field
    async def points_balance(
        self, info: Info[Context, Any], all_periods: bool | None = False
    ) -> int:
        return (await self._points(info, all_periods)).balance

    @strawberry.field
    async def level(self, info: Info[Context, Any], all_periods: bool | None = False) -> int:
        return (await self._points(info, all_periods)).level

    @strawberry.field(
        description="Every change made to this subscriber, newest first"
        " (proxy settings and platform-side changes)"
    )
    async def changes(
        self,
        info: Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
        all_periods: bool | None = False,
    ) -> AuditEventConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        kind = f"changes:{self.msisdn}"
        before_version = None if after is None else int_cursor(c.container, kind, after)
        window = await self.period_window(info, all_periods)
        entries = await query(
            c.container.subscriber_queries.changes,
            c.principal(),
            self.aggregate,
            window,
            before_version,
            limit + 1,
        )
        return connection(entries, limit, lambda e: c.container.cursors.encode(kind, e.version))

    @strawberry.field(
        description="The number's registration periods, oldest first; a recycled number has"
        " several, and this view's fields cover its own (the last, for `subscriber`)"
    )
    async def registrations(self, info: Info[Context, Any]) -> list[Registration]:
        c = ctx(info)
        periods = await self._periods(info)
        listed = c.container.subscriber_queries.registrations(periods)
        return [Registration(start=p.start, end=p.end, province=p.province) for p in listed]


@strawberry.type
class SubscriberPayload:
    subscriber: Subscriber | None = None
    position: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="Fields shared by every proxy-setting input")
class ChangeContext:
    reason: str | None = strawberry.field(
        default=None, description="Why the change was made, as told by the customer"
    )
    ticket_id: strawberry.ID | None = strawberry.field(
        default=None, description="The ticket this change answers, if any"
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Reject the change if the subscriber moved past this version"
    )


@strawberry.input
class RegisterMailboxInput:
    msisdn: str
    province: Province  # type: ignore[valid-type]
    plan_code: str
    context: ChangeContext | None = None


@strawberry.input
class DeregisterMailboxInput:
    msisdn: str
    context: ChangeContext | None = None


@strawberry.input
class ChangePlanInput:
    msisdn: str
    plan_code: str
    context: ChangeContext | None = None


@strawberry.input
class SetCompanionInput:
    msisdn: str
    enabled: bool
    context: ChangeContext | None = None


@strawberry.input
class SetBillDeliveryInput:
    msisdn: str
    subscribed: bool
    context: ChangeContext | None = None


@strawberry.input
class SetArrivalNotificationInput:
    msisdn: str
    enabled: bool
    mode: NotificationMode | None = None
    window_start: str | None = None
    window_end: str | None = None
    context: ChangeContext | None = None


@strawberry.input
class SetLoginReminderInput:
    msisdn: str
    enabled: bool
    context: ChangeContext | None = None


@strawberry.input
class SetAliasInput:
    msisdn: str
    alias: str | None = strawberry.field(default=None, description="null clears the alias")
    context: ChangeContext | None = None


@strawberry.input
class ChangePasswordInput:
    msisdn: str
    new_password: str
    context: ChangeContext | None = None


@strawberry.input
class UnfreezeMailboxInput:
    msisdn: str
    context: ChangeContext | None = None


@strawberry.input
class FreezeMailboxInput:
    msisdn: str
    reason: str
    context: ChangeContext | None = None


@strawberry.input
class SetSmsBlacklistInput:
    msisdn: str
    level: SmsBlacklistLevel
    context: ChangeContext | None = None


def change_context(given: ChangeContext | None) -> DomainChangeContext:
    if given is None:
        return DomainChangeContext()
    return DomainChangeContext(
        reason=given.reason,
        ticket_id=str(given.ticket_id) if given.ticket_id is not None else None,
        expected_version=given.expected_version,
    )


def subscriber_payload(result: SubscriberResult | list[UserError]) -> SubscriberPayload:
    if isinstance(result, list):
        return SubscriberPayload(user_errors=result)
    return SubscriberPayload(
        subscriber=Subscriber.from_aggregate(result.subscriber), position=result.position
    )
