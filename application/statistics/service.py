"""Statistics for analysts: proxy operations, complaint tickets, answer times.

Every read checks STATISTICS_READ and is filtered to the caller's province scope: a
PROVINCE_AGENT or a province-bound VIEWER sees only their province, and asking for another one
explicitly is FORBIDDEN. Rows are grouped by any subset of the dimensions in the order asked,
sorted by their keys; a date range includes both days (Asia/Shanghai calendar days). A range
and grouping that can produce, or do produce, more than `max_rows` rows are refused, so no
caller can ask for an unbounded answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from application.authz import Principal
from application.consistency import wait_until_applied
from application.ports import Clock, ReadModelWaiter
from domain.access.permissions import Permission
from domain.access.provinces import PROVINCES
from domain.shared import ValidationError
from domain.support.lifecycle import TicketState
from domain.support.values import TicketCategory

#: The projection the statistics read (projections/statistics/projection.py).
STATISTICS_PROJECTION = "statistics"
_READ = Permission.STATISTICS_READ


class ProxyDimension(StrEnum):
    DAY = "DAY"
    PROVINCE = "PROVINCE"
    OPERATION = "OPERATION"
    OPERATOR = "OPERATOR"


class TicketDimension(StrEnum):
    DAY = "DAY"
    PROVINCE = "PROVINCE"
    CATEGORY = "CATEGORY"
    STATUS = "STATUS"


@dataclass(frozen=True)
class StatRow:
    """One group: a key per requested dimension, in the order requested, and its count."""

    keys: list[str]
    count: int


@dataclass(frozen=True)
class TicketTimes:
    median_minutes_to_answer: float | None
    p90_minutes_to_answer: float | None
    answered: int
    overdue: int


Grouped = list[tuple[tuple[Any, ...], int]]


class StatisticsReadModel(Protocol):
    """Grouped counts; `limit` caps the groups returned (any of them: the caller only asks
    for one more than it accepts, to know there are too many)."""

    def proxy_operations(
        self,
        first: date,
        last: date,
        province: str | None,
        dimensions: Sequence[str],
        limit: int | None = None,
    ) -> Grouped: ...

    def complaint_tickets(
        self,
        first: date,
        last: date,
        province: str | None,
        dimensions: Sequence[str],
        limit: int | None = None,
        categories: Sequence[str] | None = None,
    ) -> Grouped: ...

    def ticket_times(
        self, first: date, last: date, province: str | None, now: Any
    ) -> tuple[float | None, float | None, int, int]: ...


def key_text(value: Any) -> str:
    """A dimension value as StatRow.keys shows it: days as YYYY-MM-DD, the rest as is."""
    return value.isoformat() if isinstance(value, date) else str(value)


def to_rows(grouped: Grouped) -> list[StatRow]:
    """StatRows sorted by their keys (code-point order: the same in every database locale)."""
    rows = [StatRow([key_text(v) for v in keys], count) for keys, count in grouped]
    rows.sort(key=lambda r: r.keys)
    return rows


#: How many values a dimension other than DAY can take. OPERATOR has no catalog (any staff
#: account): 10 is an estimate, and the rows a grouping by it actually produces are counted.
FAN_OUT: dict[str, int] = {
    "PROVINCE": len(PROVINCES),
    "OPERATION": 11,  # the proxy-setting mutations (projections/statistics/proxy.py)
    "OPERATOR": 10,
    "CATEGORY": len(TicketCategory),
    "STATUS": len(  # drafts never count
        {TicketState.SUBMITTED, TicketState.ANSWERED, TicketState.RESUBMITTED, TicketState.CLOSED}
    ),
}
DEFAULT_MAX_ROWS = 10_000


def days_in(first: date, last: date) -> int:
    """Days in an inclusive range (0 when it ends before it starts)."""
    return max(0, (last - first).days + 1)


#: What `complaintTickets` counts unless asked for more (the seed's 投诉工单统计).
DEFAULT_CATEGORIES = (TicketCategory.COMPLAINT,)


def grouping_fan_out(
    dimensions: Sequence[str], province: str | None, categories: int | None = None
) -> int:
    """Into how many groups one day's counts can split: the product of the values each
    dimension but DAY can take (one province when the range is limited to one, as many
    categories as counted when they are limited)."""
    fan_out = 1
    for dimension in dimensions:
        if dimension == "PROVINCE" and province is not None:
            continue
        if dimension == "CATEGORY" and categories is not None:
            fan_out *= max(categories, 1)
            continue
        fan_out *= FAN_OUT.get(dimension, 1)
    return fan_out


def possible_rows(
    first: date,
    last: date,
    dimensions: Sequence[str],
    province: str | None,
    categories: int | None = None,
) -> int:
    """At most how many rows a grouping over a range produces: a row per day with DAY,
    times the grouping's fan-out."""
    days = days_in(first, last) if "DAY" in dimensions else 1
    return days * grouping_fan_out(dimensions, province, categories)


def check_categories(categories: Sequence[TicketCategory] | None) -> list[str]:
    """The categories counted: COMPLAINT unless others are asked for, each once."""
    if categories is None:
        return [c.value for c in DEFAULT_CATEGORIES]
    if not categories:
        raise ValidationError(
            "categories needs at least one category (omit it to count complaints)",
            code="INVALID_INPUT",
            field=["categories"],
        )
    return list(dict.fromkeys(TicketCategory(c).value for c in categories))


def check_range(first: date, last: date) -> None:
    if first > last:
        raise ValidationError(
            f"`from` ({first}) is after `to` ({last})", code="INVALID_DATE_RANGE", field=["to"]
        )


def check_rows(rows: int, max_rows: int, counted: bool = False) -> None:
    """Refuse a grouping over the row limit, naming the limit and its setting. `rows` is
    what the range and grouping can produce, or (`counted`) what the read model found."""
    if rows > max_rows:
        found = "produce more than" if counted else f"produce up to {rows} rows, more than"
        raise ValidationError(
            f"this range and groupBy {found} {max_rows} rows, the limit"
            " (SPOA_STATISTICS_MAX_ROWS): narrow the range or group by fewer dimensions",
            code="TOO_MANY_ROWS",
            field=["from"],
        )


def check_dimensions(dimensions: Sequence[StrEnum]) -> list[str]:
    values = [d.value for d in dimensions]
    if len(set(values)) != len(values):
        raise ValidationError(
            "each dimension may appear in groupBy only once",
            code="DUPLICATE_DIMENSION",
            field=["groupBy"],
        )
    return values


class StatisticsService:
    def __init__(
        self,
        read_model: StatisticsReadModel,
        waiter: ReadModelWaiter,
        clock: Clock,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        self.read_model = read_model
        self.waiter = waiter
        self.clock = clock
        self.max_rows = max_rows

    async def open(self, principal: Principal, consistent_with: int | None = None) -> None:
        """The `statistics` entry point: may the caller read statistics at all; and, with
        `consistent_with`, wait (bounded, on the event loop) until the statistics applied that
        core position."""
        principal.require(_READ)
        await wait_until_applied(self.waiter, [STATISTICS_PROJECTION], consistent_with)

    def proxy_operations(
        self,
        principal: Principal,
        first: date,
        last: date,
        group_by: Sequence[ProxyDimension],
        province: str | None = None,
    ) -> list[StatRow]:
        """Proxy settings made by staff (not INTEGRATION), grouped."""
        scope = principal.list_scope(_READ, province)
        check_range(first, last)
        dimensions = check_dimensions(group_by)
        check_rows(possible_rows(first, last, dimensions, scope), self.max_rows)
        grouped = self.read_model.proxy_operations(
            first, last, scope, dimensions, limit=self.max_rows + 1
        )
        check_rows(len(grouped), self.max_rows, counted=True)
        return to_rows(grouped)

    def complaint_tickets(
        self,
        principal: Principal,
        first: date,
        last: date,
        group_by: Sequence[TicketDimension],
        province: str | None = None,
        categories: Sequence[TicketCategory] | None = None,
    ) -> list[StatRow]:
        """Submitted tickets of category COMPLAINT (or of `categories`) by the day first
        submitted, province, category, current status."""
        scope = principal.list_scope(_READ, province)
        check_range(first, last)
        dimensions = check_dimensions(group_by)
        counted = check_categories(categories)
        check_rows(possible_rows(first, last, dimensions, scope, len(counted)), self.max_rows)
        grouped = self.read_model.complaint_tickets(
            first, last, scope, dimensions, limit=self.max_rows + 1, categories=counted
        )
        check_rows(len(grouped), self.max_rows, counted=True)
        return to_rows(grouped)

    def ticket_times(
        self, principal: Principal, first: date, last: date, province: str | None = None
    ) -> TicketTimes:
        """For the tickets first submitted in the range: business minutes from each submission
        or resubmission to the answer that followed (median, p90, how many answers), and how
        many of the tickets are overdue now."""
        scope = principal.list_scope(_READ, province)
        check_range(first, last)
        median, p90, answered, overdue = self.read_model.ticket_times(
            first, last, scope, self.clock.now()
        )
        return TicketTimes(median, p90, answered, overdue)
