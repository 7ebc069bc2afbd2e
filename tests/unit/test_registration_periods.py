"""Registration periods from a Subscriber's own events, the windows reads get from them, and
who may read beyond the current period (application rule with permissions.md's grants)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.subscribers.queries import SubscriberQueryService
from domain.access.permissions import PERMISSION_TABLE, Grant, Permission, Role
from domain.shared import SYSTEM_ACTOR, ChangeMeta, PermissionDeniedError
from domain.subscribers.periods import (
    EVERYTHING,
    PeriodWindow,
    SubscriberPeriods,
    as_of_version,
    periods_of,
)
from domain.subscribers.subscriber import Subscriber
from projections.history_queries import split_days
from tests.subscriber_helpers import PRINCIPALS

META = ChangeMeta(SYSTEM_ACTOR)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NUMBER = "13609054103"


def recycled() -> tuple[Subscriber, list[Any]]:
    """BJ from T0 (an alias and a plan change), deregistered on day 10, registered in GD on
    day 20 (an alias again), deregistered on day 30, registered in GD again on day 40."""
    s = Subscriber.register(msisdn=NUMBER, province="BJ", plan_code="FREE", at=T0, meta=META)
    s.set_alias("bj.owner", T0 + timedelta(days=1), META)  # v2
    s.change_plan("PLUS_5", T0 + timedelta(days=2), META)  # v3
    s.deregister(T0 + timedelta(days=10), META)  # v4
    s.reregister("GD", "FREE", T0 + timedelta(days=20), META)  # v5
    s.set_alias("gd.owner", T0 + timedelta(days=21), META)  # v6
    s.deregister(T0 + timedelta(days=30), META)  # v7
    s.reregister("GD", "VIP_20", T0 + timedelta(days=40), META)  # v8
    return s, list(s.collect_events())


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_periods_come_from_the_registration_and_deregistration_events() -> None:
    _, events = recycled()
    periods = periods_of(events)
    assert [(p.number, p.province, p.start, p.end) for p in periods] == [
        (1, "BJ", T0, day(10)),
        (2, "GD", day(20), day(30)),
        (3, "GD", day(40), None),
    ]
    assert [p.versions for p in periods] == [(1, 4), (5, 7), (8, None)]
    # The first reaches back before its registration; a closed one until the next one.
    assert [p.span for p in periods] == [(None, day(20)), (day(20), day(40)), (day(40), None)]


def test_a_number_never_recycled_has_one_period_that_covers_everything() -> None:
    s = Subscriber.register(msisdn=NUMBER, province="GD", plan_code="FREE", at=T0, meta=META)
    s.deregister(day(3), META)
    periods = periods_of(s.collect_events())
    assert [(p.start, p.end, p.span, p.versions) for p in periods] == [
        (T0, day(3), (None, None), (1, None))
    ]
    assert SubscriberPeriods(tuple(periods), own=1, version=2).window() == EVERYTHING


def test_the_own_window_is_the_views_period_and_all_periods_are_everything() -> None:
    subscriber, events = recycled()
    every = tuple(periods_of(events))
    now = SubscriberPeriods(every, own=subscriber.registrations, version=subscriber.version)
    assert now.window() == PeriodWindow(((day(40), None),), ((8, None),))
    assert now.window([1, 2, 3]) == EVERYTHING
    # An as-of view in the BJ period: its own period's, bounded by the next registration.
    past = SubscriberPeriods(every, own=1, version=3)
    assert past.window() == PeriodWindow(((None, day(20)),), ((1, 4),))
    # Adjacent periods merge; others stay apart.
    assert now.window([2, 3]) == PeriodWindow(((day(20), None),), ((5, None),))
    assert now.window([1, 3]) == PeriodWindow(
        ((None, day(20)), (day(40), None)), ((1, 4), (8, None))
    )
    assert now.window([]).nothing


def test_the_listed_periods_are_as_the_view_saw_them() -> None:
    _, events = recycled()
    every = periods_of(events)
    assert [(p.province, p.end) for p in as_of_version(every, 3)] == [("BJ", None)]
    assert [(p.province, p.end) for p in as_of_version(every, 4)] == [("BJ", day(10))]
    assert [(p.province, p.end) for p in as_of_version(every, 6)] == [
        ("BJ", day(10)),
        ("GD", None),
    ]
    assert SubscriberPeriods(tuple(every), own=1, version=3).listed == as_of_version(every, 3)


def test_clipping_a_window_to_a_range() -> None:
    window = PeriodWindow(((None, day(20)), (day(40), None)), ((1, 4), (8, None)))
    assert window.clip(day(15), day(45)) == ((day(15), day(20)), (day(40), day(45)))
    assert window.clip(day(25), day(30)) == ()
    assert window.clip(None, None) == window.spans
    assert EVERYTHING.clip(None, None) is None
    assert EVERYTHING.clip(day(1), None) == ((day(1), None),)


def test_version_ranges_newest_first_below_a_version() -> None:
    window = PeriodWindow(((None, day(20)), (day(40), None)), ((1, 4), (8, None)))
    assert window.version_ranges(11) == [(8, 10), (1, 4)]
    assert window.version_ranges(4) == [(1, 3)]
    assert EVERYTHING.version_ranges(6) == [(1, 5)]


@given(
    steps=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=12),
    moments=st.lists(st.integers(min_value=-50, max_value=400), max_size=20),
)
def test_the_periods_split_every_time_and_every_version_between_them(
    steps: list[int], moments: list[int]
) -> None:
    """Whatever the registrations and deregistrations, each record time and each version
    lies in exactly one period's window, and all periods together are everything."""
    at = T0
    s = Subscriber.register(msisdn=NUMBER, province="BJ", plan_code="FREE", at=at, meta=META)
    for n, gap in enumerate(steps):
        at += timedelta(days=gap)
        if s.status == "DEREGISTERED":
            s.reregister("GD" if n % 2 else "BJ", "FREE", at, META)
        elif n % 3 == 2:
            s.change_plan("VIP_20" if s.plan_code != "VIP_20" else "FREE", at, META)
        else:
            s.deregister(at, META)
    periods = tuple(periods_of(s.collect_events()))
    views = [SubscriberPeriods(periods, own=p.number, version=s.version) for p in periods]
    for moment in moments:
        when = T0 + timedelta(days=moment)
        inside = [v for v in views if v.window().clip(when, when + timedelta(seconds=1)) != ()]
        assert len(inside) == 1, when
    for version in range(1, s.version + 1):
        holding = [v for v in views if holds(v.window(), version)]
        assert len(holding) == 1, version
    assert views[0].window([p.number for p in periods]) == EVERYTHING


def holds(window: PeriodWindow, version: int) -> bool:
    return any(first <= version <= last for first, last in window.version_ranges(version + 1))


# ---------------------------------------------------------------- who may read which periods
def service() -> SubscriberQueryService:
    return SubscriberQueryService(store=None, log=None)  # type: ignore[arg-type]


def views() -> SubscriberPeriods:
    subscriber, events = recycled()
    every = tuple(periods_of(events))
    return SubscriberPeriods(every, own=subscriber.registrations, version=subscriber.version)


@pytest.mark.parametrize("who", ["admin", "auditor"])
def test_auditors_and_super_admins_may_read_every_period(who: str) -> None:
    assert service().window(PRINCIPALS[who], views(), all_periods=True) == EVERYTHING


@pytest.mark.parametrize("who", ["second", "gd.agent", "bj.agent", "viewer", "gd.viewer"])
def test_every_other_role_passing_all_periods_is_forbidden(who: str) -> None:
    with pytest.raises(PermissionDeniedError):
        service().window(PRINCIPALS[who], views(), all_periods=True)


@pytest.mark.parametrize("who", ["admin", "auditor", "second", "gd.agent", "viewer"])
def test_without_all_periods_everyone_gets_the_current_period(who: str) -> None:
    assert service().window(PRINCIPALS[who], views(), all_periods=False) == PeriodWindow(
        ((day(40), None),), ((8, None),)
    )


def test_each_period_is_checked_against_the_callers_province_scope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were a province-scoped role granted all periods, a GD agent would get the GD periods
    only, never the BJ one (the rule reads the grant, whichever roles it names)."""
    grants = {**PERMISSION_TABLE[Permission.SUBSCRIBER_READ_ALL_PERIODS]}
    grants[Role.PROVINCE_AGENT] = Grant.OWN_PROVINCE
    monkeypatch.setitem(PERMISSION_TABLE, Permission.SUBSCRIBER_READ_ALL_PERIODS, grants)
    window = service().window(PRINCIPALS["gd.agent"], views(), all_periods=True)
    assert window == PeriodWindow(((day(20), None),), ((5, None),))
    assert window.clip(day(5), day(6)) == ()  # a BJ-era record stays out
    bj = service().window(PRINCIPALS["bj.agent"], views(), all_periods=True)
    assert bj == PeriodWindow(((None, day(20)),), ((1, 4),))


# ---------------------------------------------------------------- usage counts across a boundary
def test_a_period_boundary_inside_a_day_splits_that_day() -> None:
    boundary = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)  # 14:30 in Shanghai, on the 10th
    whole, parts = split_days(date(2026, 3, 9), date(2026, 3, 11), [(boundary, None)])
    assert whole == [date(2026, 3, 11)]
    assert parts == [(boundary, datetime(2026, 3, 10, 16, 0, tzinfo=UTC))]
    whole, parts = split_days(date(2026, 3, 9), date(2026, 3, 11), [(None, boundary)])
    assert whole == [date(2026, 3, 9)]
    assert parts == [(datetime(2026, 3, 9, 16, 0, tzinfo=UTC), boundary)]
    assert split_days(date(2026, 3, 9), date(2026, 3, 9), []) == ([], [])
