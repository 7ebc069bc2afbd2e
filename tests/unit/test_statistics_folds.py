"""The statistics handlers as pure folds: given events, then counts (no I/O).

The property test runs random histories through the real aggregates, feeds the events to the
folds in random page sizes (as the projection runtime would) and compares with the brute-force
oracle of tests/statistics_helpers.py.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar_days import local_day
from domain.subscribers.subscriber import Subscriber
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import TicketCategory, TicketPriority
from projections.statistics.projection import StatisticsProjection
from projections.statistics.proxy import PROXY_TOPICS, fold_proxy, provinces_needed
from projections.statistics.tickets import TICKET_TOPICS, AnswerTime, TicketStat, fold_tickets
from tests.statistics_helpers import World, meta_of, oracle, steps

AGENT = ("gd.agent", "PROVINCE_AGENT", "GD")
PLATFORM = ("platform", "INTEGRATION", None)
SYSTEM = ("system", "SYSTEM", None)


class MemoryStatistics:
    """The projection's tables as dicts, fed page by page through the folds."""

    def __init__(self) -> None:
        self.provinces: dict[UUID, str] = {}
        self.proxy: Counter[Any] = Counter()
        self.tickets: dict[UUID, TicketStat] = {}
        self.counts: Counter[Any] = Counter()
        self.answers: list[AnswerTime] = []

    def apply(self, events: list[Any]) -> None:
        wanted = [e for e in events if e.TOPIC in StatisticsProjection.topics]
        fold_proxy([e for e in wanted if e.TOPIC in PROXY_TOPICS], self.provinces, self.proxy)
        page: Counter[Any] = Counter()
        fold_tickets(
            [e for e in wanted if e.TOPIC in TICKET_TOPICS], self.tickets, page, self.answers
        )
        self.counts.update(page)


def run_world(history: list[tuple[Any, ...]]) -> tuple[World, list[Any]]:
    world = World()
    events: list[Any] = []
    for step in history:
        for aggregate in world.run(step):
            events.extend(aggregate.collect_events())
    return world, events


@settings(max_examples=150)
@given(history=steps(60), page=st.integers(1, 25))
def test_folds_equal_the_brute_force_counts(history: list[Any], page: int) -> None:
    world, events = run_world(history)
    memory = MemoryStatistics()
    for start in range(0, len(events), page):
        memory.apply(events[start : start + page])
    expected = oracle(events, world.policy)
    assert +memory.proxy == expected.proxy
    assert +memory.counts == expected.tickets
    assert sorted((a.day, a.province, a.seconds / 60) for a in memory.answers) == sorted(
        expected.answers
    )
    waiting = [(t.day, t.province, t.due_at) for t in memory.tickets.values() if t.due_at]
    assert sorted(waiting) == sorted(expected.waiting)


def test_a_registration_and_settings_by_staff_count_under_the_subscribers_province() -> None:
    # Given a mailbox registered in GD at 23:59 Shanghai time and changed a minute later
    late = datetime(2026, 3, 9, 15, 59, tzinfo=UTC)
    s = Subscriber.register(
        msisdn="13800138000", province="GD", plan_code="FREE", at=late, meta=meta_of(AGENT)
    )
    later = late + timedelta(minutes=1)
    s.set_companion(True, later, meta_of(AGENT))
    s.set_login_reminder(True, later, meta_of(PLATFORM))  # the platform: not counted
    s.freeze("suspicious", later, meta_of(("admin", "SUPER_ADMIN", None)))  # not a setting
    s.unfreeze(later, meta_of(SYSTEM))  # the system: not counted
    counts: Counter[Any] = Counter()
    # When the events are folded
    registered = fold_proxy([e for e in s.collect_events() if e.TOPIC in PROXY_TOPICS], {}, counts)
    # Then each counts under its own Shanghai day, as the mutation that made it
    assert registered == {s.id: "GD"}
    assert counts == {
        (date(2026, 3, 9), "GD", "registerMailbox", "gd.agent"): 1,
        (date(2026, 3, 10), "GD", "setCompanion", "gd.agent"): 1,
    }


def test_a_reregistration_moves_later_operations_to_the_new_province() -> None:
    at = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    s = Subscriber.register(
        msisdn="13800138000", province="GD", plan_code="FREE", at=at, meta=meta_of(AGENT)
    )
    s.deregister(at, meta_of(AGENT))
    s.reregister("BJ", "FREE", at, meta_of(AGENT))
    s.set_companion(True, at, meta_of(AGENT))
    counts: Counter[Any] = Counter()
    provinces: dict[UUID, str] = {}
    fold_proxy(s.collect_events(), provinces, counts)
    day = date(2026, 3, 9)
    assert provinces == {s.id: "BJ"}
    assert counts == {
        (day, "GD", "registerMailbox", "gd.agent"): 1,
        (day, "GD", "deregisterMailbox", "gd.agent"): 1,
        (day, "BJ", "registerMailbox", "gd.agent"): 1,
        (day, "BJ", "setCompanion", "gd.agent"): 1,
    }


def test_operations_of_an_unknown_subscriber_are_skipped() -> None:
    at = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    s = Subscriber.register(
        msisdn="13800138000", province="GD", plan_code="FREE", at=at, meta=meta_of(AGENT)
    )
    s.set_companion(True, at, meta_of(AGENT))
    counts: Counter[Any] = Counter()
    fold_proxy(s.collect_events()[1:], {}, counts)
    assert counts == {}


def _submitted_ticket(at: datetime, policy: SlaPolicy) -> Ticket:
    content = DraftContent.clean(
        title="无法登录",
        body="网页版登录失败",
        category=TicketCategory.COMPLAINT,
        priority=TicketPriority.NORMAL,
        msisdn=None,
    )
    t = Ticket.draft(province="GD", content=content, at=at, meta=meta_of(AGENT))
    t.submit(at=at, sla=policy, allocate_number=lambda: "GD-1", meta=meta_of(AGENT))
    return t


def test_a_ticket_moves_between_statuses_and_each_answer_is_timed_in_business_minutes() -> None:
    policy = SlaPolicy()
    monday_10 = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
    t = _submitted_ticket(monday_10, policy)
    cal = policy.calendar
    # answered Monday 11:30 (90 business minutes), resubmitted Monday 17:00,
    # answered Tuesday 10:00 (60 + 60 business minutes: the night does not count)
    t.answer(body="a", at=monday_10 + timedelta(minutes=90), calendar=cal, meta=meta_of(AGENT))
    t.resubmit(body="b", at=monday_10 + timedelta(hours=7), calendar=cal, meta=meta_of(AGENT))
    t.answer(body="c", at=monday_10 + timedelta(hours=24), calendar=cal, meta=meta_of(AGENT))
    t.rate(score=5, comment=None, at=monday_10 + timedelta(hours=25), meta=meta_of(AGENT))
    events = [e for e in t.collect_events() if e.TOPIC in TICKET_TOPICS]
    tickets: dict[UUID, TicketStat] = {}
    counts: Counter[Any] = Counter()
    answers: list[AnswerTime] = []
    fold_tickets(events, tickets, counts, answers)
    day = local_day(monday_10)
    assert +counts == {(day, "GD", "COMPLAINT", "CLOSED"): 1}
    assert [(a.seq, a.seconds) for a in answers] == [(1, 90 * 60), (2, 120 * 60)]
    assert tickets[t.id].due_at is None
    assert tickets[t.id].answers == 2


def test_drafts_and_discarded_drafts_never_count() -> None:
    at = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    content = DraftContent.clean(
        title="x", body="y", category=TicketCategory.FAULT, priority=TicketPriority.LOW, msisdn=None
    )
    kept = Ticket.draft(province="GD", content=content, at=at, meta=meta_of(AGENT))
    dropped = Ticket.draft(province="GD", content=content, at=at, meta=meta_of(AGENT))
    dropped.discard(at=at, meta=meta_of(AGENT))
    events = [
        e for e in kept.collect_events() + dropped.collect_events() if e.TOPIC in TICKET_TOPICS
    ]
    counts: Counter[Any] = Counter()
    fold_tickets(events, {}, counts, [])
    assert events == []
    assert counts == {}


def test_only_subscribers_with_staff_operations_before_a_registration_are_looked_up() -> None:
    at = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    known = Subscriber.register(
        msisdn="13800138001", province="GD", plan_code="FREE", at=at, meta=meta_of(AGENT)
    )
    fresh = Subscriber.register(
        msisdn="13800138002", province="GD", plan_code="FREE", at=at, meta=meta_of(AGENT)
    )
    platform_only = Subscriber.register(
        msisdn="13800138003", province="GD", plan_code="FREE", at=at, meta=meta_of(AGENT)
    )
    moved = Subscriber.register(
        msisdn="13800138004", province="GD", plan_code="FREE", at=at, meta=meta_of(AGENT)
    )
    for s in (known, fresh, platform_only, moved):
        s.collect_events()  # registered in an earlier page
    known.set_companion(True, at, meta_of(AGENT))
    platform_only.set_companion(True, at, meta_of(PLATFORM))
    moved.deregister(at, meta_of(PLATFORM))
    moved.reregister("BJ", "FREE", at, meta_of(AGENT))
    moved.set_companion(True, at, meta_of(AGENT))
    page = [e for s in (known, platform_only, moved) for e in s.collect_events()]
    assert provinces_needed(page) == {known.id}
