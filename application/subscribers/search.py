"""Find a customer by any handle: `subscribers(filter)`, from the subscribers read model.

Permissions are those of `subscriber`: a province-scoped caller (PROVINCE_AGENT, a
province-bound VIEWER) searches only their own province, silently, so an agent of GD never
learns that a BJ alias exists; asking for another province explicitly is FORBIDDEN. Results
come in msisdn order, in keyset pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from application.authz import Principal
from application.consistency import wait_until_applied
from application.ports import ReadModelWaiter
from domain.access.permissions import Permission
from domain.access.provinces import validate_province
from domain.subscribers.handles import MAIL_DOMAIN, HandleQuery, parse_handle
from domain.subscribers.plans import Plan, plan_for
from domain.subscribers.rules import MailboxStatus

SUBSCRIBERS_PROJECTION = "subscribers"
_READ = Permission.SUBSCRIBER_READ


@dataclass(frozen=True)
class SubscriberFilter:
    text: str | None = None
    province: str | None = None
    status: str | None = None
    plan_code: str | None = None


@dataclass(frozen=True)
class SubscriberListing:
    """A mailbox as the summary read model holds it, shaped like the aggregate's reads."""

    msisdn: str
    id: UUID
    province: str
    status: str
    plan_code: str
    registered_at: datetime
    deregistered_at: datetime | None
    frozen_at: datetime | None
    frozen_reason: str | None
    companion_enabled: bool
    bill_delivery: bool
    arrival_enabled: bool
    arrival_mode: str | None
    arrival_window_start: str | None
    arrival_window_end: str | None
    login_reminder: bool
    alias: str | None
    sms_blacklist_level: str
    password_changed_at: datetime | None
    version: int

    @property
    def mailbox(self) -> str:
        return f"{self.msisdn}@{MAIL_DOMAIN}"

    @property
    def plan(self) -> Plan:
        return plan_for(self.plan_code)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SubscriberListing:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SubscriberQuery:
    """A checked filter: the handle asked for and the caller's province scope."""

    handle: HandleQuery | None
    province: str | None
    status: str | None
    plan_code: str | None


class SubscribersReadModel(Protocol):
    def search(
        self, q: SubscriberQuery, after_msisdn: str | None, limit: int
    ) -> list[Mapping[str, Any]]:
        """Matching rows in msisdn order, after `after_msisdn`, at most `limit`."""
        ...


class SubscriberSearchService:
    def __init__(self, read_model: SubscribersReadModel, waiter: ReadModelWaiter) -> None:
        self.read_model = read_model
        self.waiter = waiter

    async def wait_for_search(
        self, principal: Principal, f: SubscriberFilter, consistent_with: int | None
    ) -> None:
        """Before `search`: who may not search, or asks badly, is refused at once; else wait
        until the subscribers read model has applied `consistent_with`."""
        checked(principal, f)
        await wait_until_applied(self.waiter, [SUBSCRIBERS_PROJECTION], consistent_with)

    def search(
        self, principal: Principal, f: SubscriberFilter, after_msisdn: str | None, limit: int
    ) -> list[SubscriberListing]:
        rows = self.read_model.search(checked(principal, f), after_msisdn, limit)
        return [SubscriberListing.from_row(r) for r in rows]


def checked(principal: Principal, f: SubscriberFilter) -> SubscriberQuery:
    """The filter within the caller's province scope; its text read as a handle."""
    if f.province is not None:
        validate_province(f.province)
    province = principal.list_scope(_READ, f.province)
    if f.plan_code is not None:
        plan_for(f.plan_code, field="planCode")
    status = MailboxStatus(f.status).value if f.status is not None else None
    handle = parse_handle(f.text) if f.text is not None else None
    return SubscriberQuery(handle, province, status, f.plan_code)
