"""GraphQL for analysts: `statistics(consistentWith)` with proxy operations, complaint tickets
and answer times (contract: Statistics, StatRow, TicketTimes)."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from api.graphql.base import Context, Province, consistent, ctx, query
from api.graphql.support.ticket_types import TicketCategory
from application.authz import Principal
from application.statistics.service import ProxyDimension, TicketDimension
from application.statistics.service import StatRow as StatRowView
from domain.support.values import TicketCategory as DomainCategory


@strawberry.enum
class ProxyStatDimension(Enum):
    DAY = "DAY"
    PROVINCE = "PROVINCE"
    OPERATION = "OPERATION"
    OPERATOR = "OPERATOR"


@strawberry.enum
class TicketStatDimension(Enum):
    DAY = "DAY"
    PROVINCE = "PROVINCE"
    CATEGORY = "CATEGORY"
    STATUS = "STATUS"


@strawberry.type
class StatRow:
    keys: list[str] = strawberry.field(
        description="One value per requested dimension, in the order requested"
    )
    count: int

    @staticmethod
    def from_view(row: StatRowView) -> StatRow:
        return StatRow(keys=row.keys, count=row.count)


@strawberry.type
class TicketTimes:
    median_minutes_to_answer: float | None = strawberry.field(
        description="Median and 90th percentile minutes from submission to first answer"
    )
    p90_minutes_to_answer: float | None
    answered: int
    overdue: int


From = Annotated[date, strawberry.argument(name="from")]


@strawberry.type
class Statistics:
    """Resolved per field; the caller and the consistency wait were settled by `statistics`."""

    principal: strawberry.Private[Principal]

    @strawberry.field
    async def proxy_operations(
        self,
        info: Info[Context, Any],
        from_: From,
        to: date,
        group_by: list[ProxyStatDimension],
        province: Province | None = None,
    ) -> list[StatRow]:
        rows = await query(
            ctx(info).container.statistics.proxy_operations,
            self.principal,
            from_,
            to,
            [ProxyDimension(d.value) for d in group_by],
            province,
        )
        return [StatRow.from_view(r) for r in rows]

    @strawberry.field
    async def complaint_tickets(
        self,
        info: Info[Context, Any],
        from_: From,
        to: date,
        group_by: list[TicketStatDimension],
        province: Province | None = None,
        categories: Annotated[
            list[TicketCategory] | None,
            strawberry.argument(
                description="The categories counted; COMPLAINT when omitted (投诉工单统计)"
            ),
        ] = None,
    ) -> list[StatRow]:
        rows = await query(
            ctx(info).container.statistics.complaint_tickets,
            self.principal,
            from_,
            to,
            [TicketDimension(d.value) for d in group_by],
            province,
            [DomainCategory(c.value) for c in categories] if categories is not None else None,
        )
        return [StatRow.from_view(r) for r in rows]

    @strawberry.field
    async def ticket_times(
        self,
        info: Info[Context, Any],
        from_: From,
        to: date,
        province: Province | None = None,
    ) -> TicketTimes:
        times = await query(
            ctx(info).container.statistics.ticket_times, self.principal, from_, to, province
        )
        return TicketTimes(
            median_minutes_to_answer=times.median_minutes_to_answer,
            p90_minutes_to_answer=times.p90_minutes_to_answer,
            answered=times.answered,
            overdue=times.overdue,
        )


@strawberry.type
class StatisticsQuery:
    @strawberry.field
    async def statistics(
        self, info: Info[Context, Any], consistent_with: int | None = None
    ) -> Statistics:
        c = ctx(info)
        principal = c.principal()
        await consistent(c.container.statistics.open(principal, consistent_with))
        return Statistics(principal=principal)
