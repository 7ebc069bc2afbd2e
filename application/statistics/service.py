"""Statistics for analysts: proxy operations, complaint tickets, answer times (issue 7).

Every read checks STATISTICS_READ and is filtered to the caller's province scope: a
PROVINCE_AGENT or a province-bound VIEWER sees only their province, and asking for another one
explicitly is FORBIDDEN. Rows are grouped by any subset of the dimensions in the order asked,
sorted by their keys; a date range includes both days (Asia/Shanghai calendar days).
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
from domain.shared import ValidationError

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
    def proxy_operations(
        self, first: date, last: date, province: str | None, dimensions: Sequence[str]
    ) -> Grouped: ...

    def complaint_tickets(
        self, first: date, last: date, province: str | None, dimensions: Sequence[str]
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


def check_range(first: date, last: date) -> None:
    if first > last:
        raise ValidationError(
            f"`from` ({first}) is after `to` ({last})", code="INVALID_DATE_RANGE", field=["to"]
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
        self, read_model: StatisticsReadModel, waiter: ReadModelWaiter, clock: Clock
    ) -> None:
        self.read_model = read_model
        self.waiter = waiter
        self.clock = clock

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
        return to_rows(self.read_model.proxy_operations(first, last, scope, dimensions))

    def complaint_tickets(
        self,
        principal: Principal,
        first: date,
        last: date,
        group_by: Sequence[TicketDimension],
        province: str | None = None,
    ) -> list[StatRow]:
        """Submitted tickets by the day first submitted, province, category, current status."""
        scope = principal.list_scope(_READ, province)
        check_range(first, last)
        dimensions = check_dimensions(group_by)
        return to_rows(self.read_model.complaint_tickets(first, last, scope, dimensions))

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
