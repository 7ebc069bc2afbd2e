"""Service levels in business hours: how much business time lies between two instants, and
which instant lies a given amount of business time after another.

Pure arithmetic over a calendar (working weekdays, opening hours, holidays, a time zone);
nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.support.values import TicketPriority

ZERO = timedelta(0)
# Enough to cross any realistic run of holidays; a calendar that never opens is refused.
_MAX_CLOSED_DAYS = 3660


@dataclass(frozen=True)
class BusinessCalendar:
    """When the service desk works: ISO weekdays (1 = Monday), daily hours, holidays."""

    timezone: str = "Asia/Shanghai"
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError("business hours must open before they close")
        if not self.weekdays or not self.weekdays <= set(range(1, 8)):
            raise ValueError("business weekdays must be a non-empty set of 1..7")
        ZoneInfo(self.timezone)  # refuse unknown zones early

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_business_day(self, day: date) -> bool:
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The business window of a local day, as UTC instants.

        UTC because Python does wall-clock arithmetic between datetimes that share a tzinfo,
        which would be wrong across a daylight-saving change.
        """
        tz = self.tz
        return (
            datetime.combine(day, self.opens, tzinfo=tz).astimezone(UTC),
            datetime.combine(day, self.closes, tzinfo=tz).astimezone(UTC),
        )

    def _windows_from(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        closed_run = 0
        while True:
            if self.is_business_day(day):
                closed_run = 0
                yield self.window(day)
            else:
                closed_run += 1
                if closed_run > _MAX_CLOSED_DAYS:
                    raise ValueError("the business calendar never opens")
            day += timedelta(days=1)

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Business time within [start, end); zero when end is not after start."""
        if end <= start:
            return ZERO
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        total = ZERO
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            if self.is_business_day(day):
                opens, closes = self.window(day)
                lo, hi = max(start, opens), min(end, closes)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant t >= start with business_time(start, t) == amount."""
        if amount <= ZERO:
            return start
        start = start.astimezone(UTC)
        remaining = amount
        for opens, closes in self._windows_from(start.astimezone(self.tz).date()):
            lo = max(start, opens)
            if closes <= lo:
                continue
            available = closes - lo
            if remaining <= available:
                return lo + remaining
            remaining -= available
        raise AssertionError("unreachable: _windows_from never ends")  # pragma: no cover


DEFAULT_HOURS: Mapping[TicketPriority, float] = {
    TicketPriority.URGENT: 2,
    TicketPriority.HIGH: 8,
    TicketPriority.NORMAL: 24,
    TicketPriority.LOW: 72,
}


@dataclass(frozen=True)
class SlaPolicy:
    """How many business hours an answer may take, per priority, on a calendar."""

    calendar: BusinessCalendar = BusinessCalendar()
    hours: Mapping[TicketPriority, float] = field(default_factory=lambda: dict(DEFAULT_HOURS))

    def budget(self, priority: TicketPriority) -> timedelta:
        return timedelta(hours=self.hours[priority])
