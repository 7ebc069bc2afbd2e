"""Generated subscribers with realistic change histories: demo data and benchmark fixtures.

Histories are commands of SubscriberService (so every rule holds) at times in the past: the
service reads a demo clock, set before each command, in one global time order across
subscribers. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from application.authz import Principal
from application.ports import PasswordHasher
from application.subscribers.commands import ChangeContext, SubscriberResult, SubscriberService
from demo.clock import DemoClock
from domain.access.provinces import PROVINCES
from domain.shared import DomainError
from domain.subscribers.plans import PLANS
from domain.subscribers.rules import NotificationMode, SmsBlacklistLevel
from domain.subscribers.subscriber import Subscriber

PREFIXES = ["134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158",
            "159", "178", "182", "183", "184", "187", "188", "198"]  # fmt: skip
REASONS = [
    "客户来电要求 customer called in",
    "customer asked at the service hall",
    "客户投诉后处理 follow-up to a complaint",
    "changed on the customer's written request",
    "customer wants fewer SMS",
    "account recovery after a lost phone",
    None,
]
ALIAS_WORDS = ["lily", "wei", "chen", "zhang", "mail", "fang", "xiao", "ming", "hua", "jun",
               "li", "wang", "yun", "tao", "lei", "hong", "ping", "qing"]  # fmt: skip
WINDOWS = [(None, None), ("08:00", "22:00"), ("07:30", "23:00"), ("22:00", "07:00")]
DEMO_PASSWORDS = ["mail2026", "abc12345", "Qwerty789", "pass8899"]
PROGRESS_EVERY = 500


@dataclass(frozen=True)
class Staff:
    """Who makes the generated changes: agents per province, second line, the platform."""

    second_line: Sequence[Principal]
    platform: Principal
    province_agents: dict[str, Principal] = field(default_factory=dict)

    def agent_for(self, rng: random.Random, province: str) -> Principal:
        local = self.province_agents.get(province)
        if local is not None and rng.random() < 0.7:
            return local
        return rng.choice(list(self.second_line))


def msisdn_for(rng: random.Random) -> str:
    return rng.choice(PREFIXES) + f"{rng.randrange(10**8):08d}"


def pick_province(rng: random.Random, weights: dict[str, float]) -> str:
    codes = list(PROVINCES)
    return rng.choices(codes, [weights.get(c, 1.0) for c in codes])[0]


class _HashOnce:
    """Hashes each password once: hashing is slow on purpose, and a few demo passwords serve
    every history."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self.hashes: dict[str, str] = {}

    def hash(self, password: str) -> str:
        if password not in self.hashes:
            self.hashes[password] = self.hasher.hash(password)
        return self.hashes[password]

    def verify(self, password_hash: str, password: str) -> bool:
        return self.hasher.verify(password_hash, password)


class HistoryGenerator:
    """Random plausible commands by `staff`, each at the time the demo clock is set to."""

    def __init__(self, subscribers: SubscriberService, staff: Staff, seed: int = 139) -> None:
        self.clock = DemoClock(subscribers.clock.now())
        # The same service, reading the demo's clock instead of the system's.
        self.service = SubscriberService(
            subscribers.store, _HashOnce(subscribers.hasher), self.clock
        )
        self.staff = staff
        self.rng = random.Random(seed)
        #: each generated mailbox as its last command left it
        self.subscribers: dict[str, Subscriber] = {}

    def context(self) -> ChangeContext:
        # No ticket is cited here: a cited ticket must exist (domain/support/citation.py); the
        # demo's changes that answer real demo tickets come with the support desk.
        return ChangeContext(reason=self.rng.choice(REASONS))

    def keep(self, result: SubscriberResult) -> None:
        self.subscribers[result.subscriber.msisdn] = result.subscriber

    def register(self, msisdn: str, province: str) -> bool:
        """Open a mailbox on a number the store does not know yet (expectedVersion 0)."""
        rng = self.rng
        agent = self.staff.agent_for(rng, province)
        plan_code = rng.choices([p.code for p in PLANS], [6, 3, 1])[0]
        context = replace(self.context(), expected_version=0)
        try:
            self.keep(self.service.register(agent, msisdn, province, plan_code, context))
        except DomainError:  # VERSION_CONFLICT: the number has a history already
            return False
        return True

    def act(self, s: Subscriber) -> None:
        """One plausible change to `s` (a change the rules refuse raises a DomainError)."""
        rng, service, msisdn = self.rng, self.service, s.msisdn
        agent = self.staff.agent_for(rng, s.province)
        context = self.context()
        if s.status == "DEREGISTERED":
            if rng.random() < 0.3:
                plan_code = rng.choice(PLANS).code
                self.keep(service.register(agent, msisdn, s.province, plan_code, context))
            return
        if s.status == "FROZEN":
            if rng.random() < 0.6:
                self.keep(service.unfreeze(agent, msisdn, context))
            else:
                password = rng.choice(DEMO_PASSWORDS)
                self.keep(service.change_password(agent, msisdn, password, context))
            return
        roll = rng.random()
        if roll < 0.16:
            plan_code = rng.choice([p.code for p in PLANS if p.code != s.plan_code])
            result = service.change_plan(agent, msisdn, plan_code, context)
        elif roll < 0.28:
            result = service.set_companion(agent, msisdn, not s.companion_enabled, context)
        elif roll < 0.40:
            result = service.set_bill_delivery(agent, msisdn, not s.bill_delivery, context)
        elif roll < 0.52:
            start, end = rng.choice(WINDOWS)
            mode = rng.choice(list(NotificationMode))
            enabled = not s.arrival_enabled
            result = service.set_arrival_notification(
                agent, msisdn, enabled, mode, start, end, context
            )
        elif roll < 0.60:
            result = service.set_login_reminder(agent, msisdn, not s.login_reminder, context)
        elif roll < 0.70:
            result = service.set_alias(agent, msisdn, self.alias_for(s), context)
        elif roll < 0.80:
            password = rng.choice(DEMO_PASSWORDS)
            result = service.change_password(agent, msisdn, password, context)
        elif roll < 0.90:
            levels = [lv for lv in SmsBlacklistLevel if lv.value != s.sms_blacklist_level]
            result = service.set_sms_blacklist(agent, msisdn, rng.choice(levels), context)
        elif roll < 0.96:
            reason = rng.choice(["异地登录 unusual login", "spam sent", "phishing"])
            result = service.freeze(self.staff.platform, msisdn, reason)
        else:
            result = service.deregister(agent, msisdn, context)
        self.keep(result)

    def alias_for(self, s: Subscriber) -> str | None:
        """None (clear) or a made-up alias; one another mailbox holds is ALIAS_TAKEN."""
        rng = self.rng
        if s.alias is not None and rng.random() < 0.3:
            return None
        alias = f"{rng.choice(ALIAS_WORDS)}{rng.choice(['', '.', '_'])}{rng.choice(ALIAS_WORDS)}"
        if rng.random() < 0.5:
            alias += str(rng.randrange(10, 99))
        return alias


def generate_histories(
    generator: HistoryGenerator,
    *,
    count: int,
    start: datetime,
    end: datetime,
    changes_per_subscriber: tuple[int, int] = (2, 14),
    province_weights: dict[str, float] | None = None,
    fixed_numbers: Iterable[tuple[str, str]] = (),
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Register `count` subscribers between `start` and `end` and give each a history of
    changes up to `end`; returns their numbers. Numbers already in the store are skipped."""
    rng = generator.rng
    weights = province_weights or {"GD": 40.0, "BJ": 25.0, "SH": 10.0, "ZJ": 8.0, "JS": 8.0}
    plan: list[tuple[datetime, int, int, str, str | None]] = []
    numbers: list[tuple[str, str]] = list(fixed_numbers)
    seen = {n for n, _ in numbers}
    while len(numbers) < count:
        msisdn = msisdn_for(rng)
        if msisdn not in seen:
            seen.add(msisdn)
            numbers.append((msisdn, pick_province(rng, weights)))
    span = (end - start).total_seconds()
    for index, (msisdn, home) in enumerate(numbers[:count]):
        registered = start + timedelta(seconds=rng.random() * span * 0.8)
        plan.append((registered, index, 0, msisdn, home))
        moments = sorted(
            registered + timedelta(seconds=rng.random() * (end - registered).total_seconds())
            for _ in range(rng.randint(*changes_per_subscriber))
        )
        plan.extend((moment, index, k, msisdn, None) for k, moment in enumerate(moments, 1))
    plan.sort()
    created: list[str] = []
    for done, (at, _, _, msisdn, province) in enumerate(plan, 1):
        generator.clock.at = at
        if province is not None:
            if generator.register(msisdn, province):
                created.append(msisdn)
        elif msisdn in generator.subscribers:
            # A change the rules refuse (NO_CHANGE on a random pick...) simply stores nothing.
            with suppress(DomainError):
                generator.act(generator.subscribers[msisdn])
        if progress and done % PROGRESS_EVERY == 0:
            progress(done, len(plan))
    if progress:
        progress(len(plan), len(plan))
    return created


# Numbers the README and the demo listing point at, so a demo has known places to look.
DEMO_SHOWCASE = [("13800138000", "GD"), ("13900139000", "BJ"), ("13700137000", "GD"),
                 ("13600136000", "SH"), ("15800158000", "GD"), ("18800188000", "BJ")]  # fmt: skip
DEMO_COUNT = 300


def load_demo_subscribers(
    subscribers: SubscriberService, staff: Staff, now: datetime, count: int = DEMO_COUNT
) -> list[str]:
    """A few hundred subscribers across provinces with half a year of history."""
    generator = HistoryGenerator(subscribers, staff, seed=2009)
    created = generate_histories(
        generator,
        count=count,
        start=now - timedelta(days=180),
        end=now - timedelta(minutes=5),
        fixed_numbers=DEMO_SHOWCASE,
    )
    _settle_showcase(generator, now - timedelta(minutes=1))
    return created


def _settle_showcase(generator: HistoryGenerator, at: datetime) -> None:
    """Leave the first showcase numbers active, frozen and deregistered, whatever the dice."""
    service, platform = generator.service, generator.staff.platform
    agent = generator.staff.second_line[0]
    demo = ChangeContext(reason="demo")
    generator.clock.at = at
    wanted = {
        "13800138000": "ACTIVE",
        "13900139000": "ACTIVE",  # the demo ticket changes (demo/loader.py) need it open
        "13700137000": "FROZEN",
        "13600136000": "DEREGISTERED",
    }
    for msisdn, status in wanted.items():
        s = generator.subscribers.get(msisdn)
        if s is None:  # not generated now: left as it is
            continue
        if s.status == "DEREGISTERED" and status != "DEREGISTERED":
            s = service.register(agent, msisdn, s.province, s.plan_code, demo).subscriber
        if s.status == "FROZEN" and status != "FROZEN":
            s = service.unfreeze(agent, msisdn, demo).subscriber
        if s.status == "ACTIVE" and status == "FROZEN":
            s = service.freeze(platform, msisdn, "异地登录 unusual login").subscriber
        if s.status != "DEREGISTERED" and status == "DEREGISTERED":
            closed = ChangeContext(reason="customer closed the mailbox")
            service.deregister(agent, msisdn, closed)
