"""Random histories for the statistics tests, and a brute-force oracle to check them against.

A `World` runs random steps through the real aggregates (every rule holds; a step the rules
refuse simply stores nothing). The oracle recomputes every statistic from the decoded events
the simplest way there is: replay each aggregate and count, independent of projections/.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any

from hypothesis import strategies as st

from domain.shared import Actor, ChangeMeta, DomainError
from domain.subscribers.rules import NotificationMode, SmsBlacklistLevel
from domain.subscribers.subscriber import Subscriber
from domain.support.lifecycle import CLOCK_RUNS_IN, TicketState
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import EntryKind, TicketCategory, TicketPriority

PROVINCES = ("GD", "BJ", "SH")
#: (username, role, province): staff, the platform, the system, and a name a CSV must quote.
ACTORS: tuple[tuple[str, str, str | None], ...] = (
    ("gd.agent", "PROVINCE_AGENT", "GD"),
    ("second", "SECOND_LINE_AGENT", None),
    ("admin", "SUPER_ADMIN", None),
    ("platform", "INTEGRATION", None),
    ("system", "SYSTEM", None),
    ('li, "wei"\nzhang', "PROVINCE_AGENT", "BJ"),
    ("=cmd", "VIEWER", None),
)
SUBSCRIBER_OPS = (
    "register",
    "deregister",
    "plan",
    "companion",
    "bill",
    "arrival",
    "reminder",
    "alias",
    "password",
    "freeze",
    "unfreeze",
    "blacklist",
)
# "next" takes the ticket one step along its e-flow, so histories get far; the rest is noise.
TICKET_OPS = ("draft", "next", "next", "next", "next", "edit", "archive", "discard", "answer")
# Saturday 2026-03-07 23:30 Asia/Shanghai: days, weekends and business hours all get crossed.
START = datetime(2026, 3, 7, 15, 30, tzinfo=UTC)
NUMBERS = tuple(f"1380013800{i}" for i in range(5))

# The oracle's own names for the proxy settings (by event class name), written out here rather
# than imported, so a wrong mapping in projections/ shows up.
ORACLE_OPERATIONS = {
    "MailboxRegistered": "registerMailbox",
    "MailboxReregistered": "registerMailbox",
    "MailboxDeregistered": "deregisterMailbox",
    "PlanChanged": "changePlan",
    "CompanionChanged": "setCompanion",
    "BillDeliveryChanged": "setBillDelivery",
    "ArrivalNotificationChanged": "setArrivalNotification",
    "LoginReminderChanged": "setLoginReminder",
    "AliasChanged": "setAlias",
    "PasswordChanged": "changePassword",
    "MailboxUnfrozen": "unfreezeMailbox",
    "SmsBlacklistChanged": "setSmsBlacklist",
}
ORACLE_STAFF = {"SUPER_ADMIN", "SECOND_LINE_AGENT", "PROVINCE_AGENT", "VIEWER", "AUDITOR"}
PROXY_DIMENSIONS = ("DAY", "PROVINCE", "OPERATION", "OPERATOR")
TICKET_DIMENSIONS = ("DAY", "PROVINCE", "CATEGORY", "STATUS")


def meta_of(actor: tuple[str, str, str | None]) -> ChangeMeta:
    username, role, province = actor
    return ChangeMeta(
        Actor(account_id=f"id-{username}", username=username, role=role, province=province)
    )


def steps(max_size: int = 40) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """Random steps: (kind, target, operation, actor, minutes later, a free choice)."""
    minutes = st.one_of(st.integers(0, 90), st.integers(0, 4 * 24 * 60))
    step = st.one_of(
        st.tuples(
            st.just("sub"),
            st.integers(0, len(NUMBERS) - 1),
            st.sampled_from(SUBSCRIBER_OPS),
            st.integers(0, len(ACTORS) - 1),
            minutes,
            st.integers(0, 11),
        ),
        st.tuples(
            st.just("ticket"),
            st.integers(0, 7),
            st.sampled_from(TICKET_OPS),
            st.integers(0, len(ACTORS) - 1),
            minutes,
            st.integers(0, 11),
        ),
    )
    return st.lists(step, min_size=max_size // 3, max_size=max_size)


@dataclass
class World:
    """Aggregates in memory; each step returns the aggregates it changed (to be saved)."""

    policy: SlaPolicy = field(default_factory=SlaPolicy)
    now: datetime = START
    #: the mobile numbers this world's subscribers have (one world per store: distinct ones)
    numbers: tuple[str, ...] = NUMBERS
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    tickets: list[Ticket] = field(default_factory=list)
    issued: int = 0

    def run(self, step: tuple[Any, ...]) -> list[Any]:
        kind, target, op, actor_index, minutes, choice = step
        self.now += timedelta(minutes=minutes)
        meta = meta_of(ACTORS[actor_index])
        try:
            if kind == "sub":
                return self._subscriber(self.numbers[target], op, choice, meta)
            return self._ticket(target, op, choice, meta)
        except DomainError:
            return []

    def _subscriber(self, msisdn: str, op: str, choice: int, meta: ChangeMeta) -> list[Any]:
        s = self.subscribers.get(msisdn)
        province = PROVINCES[choice % len(PROVINCES)]
        if s is None:  # whatever the step says: the number gets its mailbox first
            s = Subscriber.register(
                msisdn=msisdn, province=province, plan_code="FREE", at=self.now, meta=meta
            )
            self.subscribers[msisdn] = s
            return [s]
        at = self.now
        actions = {
            "register": lambda: s.reregister(province, "PLUS_5", at, meta),
            "deregister": lambda: s.deregister(at, meta),
            "plan": lambda: s.change_plan(("FREE", "PLUS_5", "VIP_20")[choice % 3], at, meta),
            "companion": lambda: s.set_companion(choice % 2 == 0, at, meta),
            "bill": lambda: s.set_bill_delivery(choice % 2 == 0, at, meta),
            "arrival": lambda: s.set_arrival_notification(
                choice % 2 == 0, NotificationMode.SMS, None, None, at, meta
            ),
            "reminder": lambda: s.set_login_reminder(choice % 2 == 0, at, meta),
            "alias": lambda: s.set_alias(f"alias{choice}", at, meta),
            "password": lambda: s.change_password(f"$fake${choice}", at, meta),
            "freeze": lambda: s.freeze("suspicious logins", at, meta),
            "unfreeze": lambda: s.unfreeze(at, meta),
            "blacklist": lambda: s.set_sms_blacklist(
                list(SmsBlacklistLevel)[choice % len(SmsBlacklistLevel)], at, meta
            ),
        }
        actions[op]()
        return [s]

    def _number(self) -> str:
        self.issued += 1
        return f"T-{self.issued:06d}"

    def _ticket(self, target: int, op: str, choice: int, meta: ChangeMeta) -> list[Any]:
        at, cal = self.now, self.policy.calendar
        if op == "draft":
            content = DraftContent.clean(
                title="邮箱无法登录",
                body="用户反映网页版登录失败",
                category=list(TicketCategory)[choice % len(TicketCategory)],
                priority=list(TicketPriority)[choice % len(TicketPriority)],
                msisdn=None,
            )
            province = PROVINCES[choice % len(PROVINCES)]
            t = Ticket.draft(province=province, content=content, at=at, meta=meta)
            self.tickets.append(t)
            return [t]
        if not self.tickets:
            return []
        t = self.tickets[target % len(self.tickets)]
        if op == "next":
            op = {
                TicketState.DRAFT: "submit",
                TicketState.SUBMITTED: "answer",
                TicketState.ANSWERED: ("resubmit", "rate")[choice % 2],
                TicketState.RESUBMITTED: "answer",
            }.get(t.status, "archive")
        actions = {
            "edit": lambda: t.edit_draft(
                content=DraftContent.clean(
                    title=f"{t.title}+",
                    body=t.body,
                    category=list(TicketCategory)[choice % len(TicketCategory)],
                    priority=t.priority,
                    msisdn=None,
                ),
                at=at,
                meta=meta,
            ),
            "submit": lambda: t.submit(
                at=at, sla=self.policy, allocate_number=self._number, meta=meta
            ),
            "answer": lambda: t.answer(body="请重试", at=at, calendar=cal, meta=meta),
            "resubmit": lambda: t.resubmit(body="仍然不行", at=at, calendar=cal, meta=meta),
            "rate": lambda: t.rate(score=1 + choice % 5, comment=None, at=at, meta=meta),
            "archive": lambda: t.update_archive(resolution=f"r{t.version}", at=at, meta=meta),
            "discard": lambda: t.discard(at=at, meta=meta),
        }
        actions[op]()
        return [t]


# ---------------------------------------------------------------------- the oracle
def _day(moment: datetime) -> date:
    # Asia/Shanghai has been UTC+8 all year since 1991.
    return (moment.astimezone(UTC) + timedelta(hours=8)).date()


@dataclass
class Oracle:
    proxy: Counter[tuple[Any, ...]]
    tickets: Counter[tuple[Any, ...]]
    answers: list[tuple[date, str, float]]  # day first submitted, province, minutes
    waiting: list[tuple[date, str, datetime]]  # day first submitted, province, due at


def oracle(events: Iterable[Any], policy: SlaPolicy) -> Oracle:
    """Every statistic, by replaying each aggregate from its decoded events."""
    proxy: Counter[tuple[Any, ...]] = Counter()
    subscribers: dict[Any, Any] = {}
    tickets: dict[Any, Any] = {}
    for e in events:
        cls = type(e).__qualname__
        if cls.startswith("Subscriber."):
            s = subscribers[e.originator_id] = e.mutate(subscribers.get(e.originator_id))
            name = ORACLE_OPERATIONS.get(cls.split(".", 1)[1])
            actor = e.meta.actor
            if name and actor.role in ORACLE_STAFF:
                proxy[(_day(e.timestamp), s.province, name, actor.username)] += 1
        elif cls.startswith("Ticket."):
            tickets[e.originator_id] = e.mutate(tickets.get(e.originator_id))
    counts: Counter[tuple[Any, ...]] = Counter()
    answers: list[tuple[date, str, float]] = []
    waiting: list[tuple[date, str, datetime]] = []
    for t in tickets.values():
        if t.submitted_at is None or t.status is TicketState.DISCARDED:
            continue
        day = _day(t.submitted_at)
        counts[(day, t.province, t.category.value, t.status.value)] += 1
        started = None
        for entry in t.entries:
            if entry.kind in (EntryKind.SUBMISSION.value, EntryKind.RESUBMISSION.value):
                started = entry.at
            elif entry.kind == EntryKind.ANSWER.value:
                assert started is not None
                waited = policy.calendar.business_time(started, entry.at)
                answers.append((day, t.province, waited.total_seconds() / 60))
        if t.status in CLOCK_RUNS_IN:
            waiting.append((day, t.province, t.due_at))
    return Oracle(proxy, counts, answers, waiting)


def grouped(
    counts: Counter[tuple[Any, ...]],
    all_dimensions: Sequence[str],
    dimensions: Sequence[str],
    first: date,
    last: date,
    province: str | None,
) -> list[tuple[list[str], int]]:
    """The rows the API must answer, computed the slow way."""
    out: Counter[tuple[str, ...]] = Counter()
    for key, n in counts.items():
        if not first <= key[0] <= last or (province is not None and key[1] != province):
            continue
        values = dict(zip(all_dimensions, key, strict=True))
        out[tuple(str(values[d]) for d in dimensions)] += n
    rows = sorted((list(k), n) for k, n in out.items() if n > 0)
    if not dimensions:
        return [([], sum(out.values()))]
    return rows


def of_categories(
    counts: Counter[tuple[Any, ...]], categories: Sequence[str] | None
) -> Counter[tuple[Any, ...]]:
    """The ticket counts of these categories (None: COMPLAINT, what complaintTickets
    counts unless asked for more)."""
    wanted = set(categories or ["COMPLAINT"])
    return Counter({key: n for key, n in counts.items() if key[2] in wanted})


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def times(
    o: Oracle, first: date, last: date, province: str | None, now: datetime
) -> tuple[float | None, float | None, int, int]:
    def wanted(day: date, p: str) -> bool:
        return first <= day <= last and (province is None or p == province)

    minutes = [m for d, p, m in o.answers if wanted(d, p)]
    overdue = sum(1 for d, p, due in o.waiting if wanted(d, p) and now > due)
    return (
        median(minutes) if minutes else None,
        percentile(minutes, 0.9),
        len(minutes),
        overdue,
    )


def orders(dimensions: Sequence[str]) -> list[tuple[str, ...]]:
    """Every groupBy: each subset of the dimensions in each order (65 for four)."""
    return [
        p
        for k in range(len(dimensions) + 1)
        for subset in itertools.combinations(dimensions, k)
        for p in itertools.permutations(subset)
    ]
