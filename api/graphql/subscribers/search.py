"""GraphQL for finding a customer by any handle: `subscribers(filter, first, after)`."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.base import (
    Context,
    PageInfo,
    Province,
    bad_input,
    consistent,
    ctx,
    first_arg,
    query,
)
from api.graphql.subscribers.types import MailboxStatus, Subscriber
from application.subscribers.search import SubscriberFilter as Filter
from domain.shared import DomainError
from domain.subscribers.rules import MSISDN_RE

_CURSOR = "subscribers"


@strawberry.input
class SubscriberFilter:
    text: str | None = strawberry.field(
        default=None,
        description="The start of a number (at least 3 digits), an alias or the start of one"
        " (case-insensitive), or a mailbox address (<number>@139.com, <alias>@139.com)",
    )
    province: Province | None = None  # type: ignore[valid-type]
    status: MailboxStatus | None = None
    plan_code: str | None = None

    def to_filter(self) -> Filter:
        return Filter(
            text=self.text,
            province=self.province,
            status=self.status.value if self.status is not None else None,
            plan_code=self.plan_code,
        )


@strawberry.type
class SubscriberConnection:
    nodes: list[Subscriber]
    page_info: PageInfo


def _after(c: Context, after: str | None) -> str | None:
    if after is None:
        return None
    try:
        msisdn = c.container.cursors.decode(_CURSOR, after)
    except DomainError as exc:
        raise bad_input(exc.message) from None
    if not isinstance(msisdn, str) or not MSISDN_RE.fullmatch(msisdn):
        raise bad_input("invalid cursor")
    return msisdn


@strawberry.type
class SubscriberSearchQuery:
    @strawberry.field(
        description="Find customers by number, alias or mailbox address, in number order,"
        " from the subscribers read model (permissions as for `subscriber`)"
    )
    async def subscribers(
        self,
        info: Info[Context, Any],
        filter: SubscriberFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> SubscriberConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        principal, after_msisdn = c.principal(), _after(c, after)
        wanted = filter.to_filter() if filter is not None else Filter()
        service = c.container.subscriber_search
        await consistent(service.wait_for_search(principal, wanted, consistent_with))
        found = await query(service.search, principal, wanted, after_msisdn, limit + 1)
        page = found[:limit]
        end = c.container.cursors.encode(_CURSOR, page[-1].msisdn) if page else None
        return SubscriberConnection(
            nodes=[Subscriber.from_aggregate(s) for s in page],
            page_info=PageInfo(end_cursor=end, has_next_page=len(found) > limit),
        )
