"""SLA arithmetic in business hours, as properties: weekends, nights, holidays, pauses,
windows that span days, and a daylight-saving time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.support.lifecycle import TicketState
from domain.support.sla import BusinessCalendar, SlaPolicy
from domain.support.ticket import Ticket
from domain.support.values import TicketPriority
from tests.unit.support_builders import FIRST, SECOND, content

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT = BusinessCalendar()
CALENDARS = [
    DEFAULT,
    BusinessCalendar(holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2)})),
    BusinessCalendar(
        opens=time(8, 30), closes=time(17, 45), weekdays=frozenset({1, 2, 3, 4, 5, 6})
    ),
    # A zone with daylight saving, to keep the arithmetic honest across DST changes.
    BusinessCalendar(timezone="Europe/Berlin", opens=time(1, 0), closes=time(4, 0)),
]

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=200 * 3600).map(lambda s: timedelta(seconds=s))
calendars = st.sampled_from(CALENDARS)


def local(y: int, m: int, d: int, h: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=SHANGHAI)


@given(calendars, instants, instants)
def test_business_time_is_bounded_by_wall_time(
    cal: BusinessCalendar, a: datetime, b: datetime
) -> None:
    spent = cal.business_time(a, b)
    assert timedelta(0) <= spent <= max(b - a, timedelta(0))
    if b <= a:
        assert spent == timedelta(0)


@given(calendars, instants, instants, instants)
def test_business_time_adds_up_over_consecutive_windows(
    cal: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert cal.business_time(a, c) == cal.business_time(a, b) + cal.business_time(b, c)


@given(calendars, instants, durations)
def test_adding_business_time_is_the_inverse_and_the_earliest(
    cal: BusinessCalendar, start: datetime, amount: timedelta
) -> None:
    due = cal.add_business_time(start, amount)
    assert due >= start
    assert cal.business_time(start, due) == amount
    if amount > timedelta(0):
        assert cal.business_time(start, due - timedelta(microseconds=1)) < amount
        # The due instant lies inside (or at the closing edge of) a business window.
        day = due.astimezone(cal.tz).date()
        opens, closes = cal.window(day)
        assert cal.is_business_day(day) and opens < due <= closes


@given(calendars, instants, durations, durations)
def test_adding_in_two_steps_equals_adding_once(
    cal: BusinessCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    once = cal.add_business_time(start, first + second)
    twice = cal.add_business_time(cal.add_business_time(start, first), second)
    assert once == twice


@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
def test_nights_and_weekends_do_not_count(day: date) -> None:
    evening = datetime.combine(day, time(18, 0), tzinfo=SHANGHAI)
    next_morning = datetime.combine(day + timedelta(days=1), time(9, 0), tzinfo=SHANGHAI)
    assert DEFAULT.business_time(evening, next_morning) == timedelta(0)
    whole_day = DEFAULT.business_time(
        datetime.combine(day, time(0), tzinfo=SHANGHAI),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI),
    )
    assert whole_day == (timedelta(hours=9) if day.isoweekday() <= 5 else timedelta(0))


def test_examples() -> None:
    # Friday 17:00 + 2 h → Monday 10:00 (the weekend does not count).
    assert DEFAULT.add_business_time(local(2026, 11, 27, 17), timedelta(hours=2)) == local(
        2026, 11, 30, 10
    )
    # Saturday night + 2 h → Monday 11:00.
    assert DEFAULT.add_business_time(local(2026, 11, 28, 23), timedelta(hours=2)) == local(
        2026, 11, 30, 11
    )
    # Monday 09:00 + 24 h NORMAL → Monday 9 h, Tuesday 9 h, Wednesday 6 h → Wednesday 15:00.
    assert DEFAULT.add_business_time(local(2026, 11, 23, 9), timedelta(hours=24)) == local(
        2026, 11, 25, 15
    )
    # Monday 08:00 + 72 h LOW → eight business days → the second Wednesday 18:00.
    assert DEFAULT.add_business_time(local(2026, 11, 23, 8), timedelta(hours=72)) == local(
        2026, 12, 2, 18
    )
    # Holidays are skipped: 2026-10-01 (Thu) and 10-02 (Fri) closed.
    holidays = CALENDARS[1]
    assert holidays.add_business_time(local(2026, 9, 30, 17), timedelta(hours=2)) == local(
        2026, 10, 5, 10
    )


def test_an_unknown_or_empty_calendar_is_refused() -> None:
    with pytest.raises(ValueError):
        BusinessCalendar(weekdays=frozenset())
    with pytest.raises(ValueError):
        BusinessCalendar(opens=time(18), closes=time(9))
    with pytest.raises(Exception):  # noqa: B017 - zoneinfo raises its own error type
        BusinessCalendar(timezone="Mars/Olympus")


@given(
    instants,
    st.sampled_from(list(TicketPriority)),
    st.integers(min_value=0, max_value=120 * 3600),
    st.integers(min_value=0, max_value=240 * 3600),
)
def test_the_clock_pauses_while_answered(
    submitted_at: datetime, priority: TicketPriority, wait: int, paused: int
) -> None:
    """Business time used before the answer plus the time left at resubmission is the budget:
    the time the ticket spent ANSWERED never counts."""
    policy = SlaPolicy()
    cal = policy.calendar
    ticket = Ticket.draft(
        province="GD", content=content(priority=priority), at=submitted_at, meta=FIRST
    )
    ticket.submit(at=submitted_at, sla=policy, allocate_number=lambda: "GD-1", meta=FIRST)
    budget = policy.budget(priority)
    assert ticket.due_at == cal.add_business_time(submitted_at, budget)
    answered_at = submitted_at + timedelta(seconds=wait)
    ticket.answer(body="答复", at=answered_at, calendar=cal, meta=SECOND)
    assert ticket.due_at is None and not ticket.is_overdue(answered_at + timedelta(days=30))
    used = cal.business_time(submitted_at, answered_at)
    resubmitted_at = answered_at + timedelta(seconds=paused)
    ticket.resubmit(body="还不行", at=resubmitted_at, calendar=cal, meta=FIRST)
    assert ticket.status is TicketState.RESUBMITTED
    assert ticket.due_at is not None
    left = cal.business_time(resubmitted_at, ticket.due_at)
    used_whole = timedelta(seconds=int(used.total_seconds()))
    assert left == max(budget - used_whole, timedelta(0))
    assert ticket.is_overdue(ticket.due_at + timedelta(microseconds=1))
    assert not ticket.is_overdue(ticket.due_at)
