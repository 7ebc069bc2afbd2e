"""Generated subscribers with realistic change histories: demo data and benchmark fixtures.

Histories go through the real domain methods (so every rule holds) with times in the past
(`recorded_at`), in one global time order across subscribers, and are saved in batches of many
aggregates per transaction. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from application.authz import Principal
from application.ports import PasswordHasher
from application.unit_of_work import get_or_none, save
from domain.access.provinces import PROVINCES
from domain.shared import ChangeMeta, DomainError
from domain.subscribers.alias_claim import AliasClaim, alias_claim_id_for, claim_alias
from domain.subscribers.plans import PLANS
from domain.subscribers.recording import recorded_at
from domain.subscribers.rules import NotificationMode, SmsBlacklistLevel
from domain.subscribers.subscriber import Subscriber, subscriber_id_for

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


@dataclass
class _Generation:
    store: Application[UUID]
    staff: Staff
    rng: random.Random
    password_hashes: list[str]
    claims: dict[str, AliasClaim] = field(default_factory=dict)
    subscribers: dict[str, Subscriber] = field(default_factory=dict)

    def meta(self, principal: Principal) -> ChangeMeta:
        # No ticket is cited here: a cited ticket must exist (domain/support/citation.py); the
        # demo's changes that answer real demo tickets come with the support desk.
        return principal.meta(reason=self.rng.choice(REASONS))

    def claim(self, alias: str) -> AliasClaim | None:
        if alias not in self.claims:
            existing: AliasClaim | None = get_or_none(self.store, alias_claim_id_for(alias))
            if existing is None:
                return None
            self.claims[alias] = existing
        return self.claims[alias]

    def act(self, s: Subscriber, at: datetime) -> list[Any]:
        """One plausible change to `s` at `at`; returns the aggregates it touched."""
        rng = self.rng
        agent = self.staff.agent_for(rng, s.province)
        meta = self.meta(agent)
        if s.status == "DEREGISTERED":
            if rng.random() < 0.3:
                s.reregister(s.province, rng.choice(PLANS).code, at, meta)
                return [s]
            return []
        if s.status == "FROZEN":
            if rng.random() < 0.6:
                s.unfreeze(at, meta)
            else:
                s.change_password(rng.choice(self.password_hashes), at, meta)
            return [s]
        roll = rng.random()
        if roll < 0.16:
            s.change_plan(rng.choice([p.code for p in PLANS if p.code != s.plan_code]), meta)
        elif roll < 0.28:
            s.set_companion(not s.companion_enabled, meta)
        elif roll < 0.40:
            s.set_bill_delivery(not s.bill_delivery, meta)
        elif roll < 0.52:
            start, end = rng.choice(WINDOWS)
            mode = rng.choice(list(NotificationMode))
            s.set_arrival_notification(not s.arrival_enabled, mode, start, end, meta)
        elif roll < 0.60:
            s.set_login_reminder(not s.login_reminder, meta)
        elif roll < 0.70:
            return self.set_alias(s, meta)
        elif roll < 0.80:
            s.change_password(rng.choice(self.password_hashes), at, meta)
        elif roll < 0.90:
            levels = [lv for lv in SmsBlacklistLevel if lv.value != s.sms_blacklist_level]
            s.set_sms_blacklist(rng.choice(levels), meta)
        elif roll < 0.96:
            reason = rng.choice(["异地登录 unusual login", "spam sent", "phishing"])
            s.freeze(reason, at, self.staff.platform.meta(reason=reason))
        else:
            released = s.alias
            s.deregister(at, meta)
            return [s, *self.release(released, s, meta)]
        return [s]

    def set_alias(self, s: Subscriber, meta: ChangeMeta) -> list[Any]:
        rng = self.rng
        alias: str | None
        if s.alias is not None and rng.random() < 0.3:
            alias = None
        else:
            alias = (
                f"{rng.choice(ALIAS_WORDS)}{rng.choice(['', '.', '_'])}{rng.choice(ALIAS_WORDS)}"
            )
            if rng.random() < 0.5:
                alias += str(rng.randrange(10, 99))
            held = self.claim(alias)
            if held is not None and held.held:
                return []
        previous = s.alias
        s.set_alias(alias, meta)
        touched: list[Any] = [s, *self.release(previous, s, meta)]
        if alias is not None:
            claim = claim_alias(self.claim(alias), alias, s.id, s.msisdn, meta)
            self.claims[alias] = claim
            touched.append(claim)
        return touched

    def release(self, alias: str | None, s: Subscriber, meta: ChangeMeta) -> list[Any]:
        claim = self.claim(alias) if alias else None
        if claim is None:
            return []
        claim.release(s.id, meta)
        return [claim]


def generate_histories(
    store: Application[UUID],
    staff: Staff,
    hasher: PasswordHasher,
    *,
    count: int,
    start: datetime,
    end: datetime,
    seed: int = 139,
    changes_per_subscriber: tuple[int, int] = (2, 14),
    province_weights: dict[str, float] | None = None,
    fixed_numbers: Iterable[tuple[str, str]] = (),
    batch: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Register `count` subscribers between `start` and `end` and give each a history of
    changes up to `end`; returns their numbers. Numbers already in the store are skipped."""
    rng = random.Random(seed)
    weights = province_weights or {"GD": 40.0, "BJ": 25.0, "SH": 10.0, "ZJ": 8.0, "JS": 8.0}
    # Hashing is deliberately slow; a few hashed demo passwords serve every history.
    generation = _Generation(store, staff, rng, [hasher.hash(p) for p in DEMO_PASSWORDS])
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
    pending: dict[UUID, Any] = {}
    for done, (at, _, _, msisdn, province) in enumerate(plan, 1):
        with recorded_at(at):
            touched = _step(generation, msisdn, province, at, created)
        for aggregate in touched:
            pending[aggregate.id] = aggregate
        if len(pending) >= batch:
            save(store, *pending.values())
            pending.clear()
            if progress:
                progress(done, len(plan))
    if pending:
        save(store, *pending.values())
    if progress:
        progress(len(plan), len(plan))
    return created


def _step(
    generation: _Generation, msisdn: str, province: str | None, at: datetime, created: list[str]
) -> list[Any]:
    if province is not None:  # registration
        if get_or_none(generation.store, subscriber_id_for(msisdn)) is not None:
            return []
        agent = generation.staff.agent_for(generation.rng, province)
        subscriber = Subscriber.register(
            msisdn=msisdn,
            province=province,
            plan_code=generation.rng.choices([p.code for p in PLANS], [6, 3, 1])[0],
            at=at,
            meta=generation.meta(agent),
        )
        generation.subscribers[msisdn] = subscriber
        created.append(msisdn)
        return [subscriber]
    found = generation.subscribers.get(msisdn)
    if found is None:
        return []
    try:
        return generation.act(found, at)
    except DomainError:  # e.g. NO_CHANGE on a random pick: simply no event this time
        return []


# Numbers the README and the demo listing point at, so a demo has known places to look.
DEMO_SHOWCASE = [("13800138000", "GD"), ("13900139000", "BJ"), ("13700137000", "GD"),
                 ("13600136000", "SH"), ("15800158000", "GD"), ("18800188000", "BJ")]  # fmt: skip
DEMO_COUNT = 300


def load_demo_subscribers(
    store: Application[UUID],
    hasher: PasswordHasher,
    staff: Staff,
    now: datetime,
    count: int = DEMO_COUNT,
) -> list[str]:
    """A few hundred subscribers across provinces with half a year of history; a no-op
    (returns []) when the demo subscribers are already there."""
    if get_or_none(store, subscriber_id_for(DEMO_SHOWCASE[0][0])) is not None:
        return []
    created = generate_histories(
        store,
        staff,
        hasher,
        count=count,
        start=now - timedelta(days=180),
        end=now - timedelta(minutes=5),
        seed=2009,
        fixed_numbers=DEMO_SHOWCASE,
        batch=300,
    )
    _settle_showcase(store, staff, now - timedelta(minutes=1))
    return created


def _settle_showcase(store: Application[UUID], staff: Staff, at: datetime) -> None:
    """Leave the first showcase numbers active, frozen and deregistered, whatever the dice."""
    agent = staff.second_line[0]
    wanted = {
        "13800138000": "ACTIVE",
        "13900139000": "ACTIVE",  # the demo ticket changes (demo/loader.py) need it open
        "13700137000": "FROZEN",
        "13600136000": "DEREGISTERED",
    }
    for msisdn, status in wanted.items():
        s: Subscriber = store.repository.get(subscriber_id_for(msisdn))
        touched: list[Any] = [s]
        with recorded_at(at):
            if s.status == "DEREGISTERED" and status != "DEREGISTERED":
                s.reregister(s.province, s.plan_code, at, agent.meta(reason="demo"))
            if s.status == "FROZEN" and status != "FROZEN":
                s.unfreeze(at, agent.meta(reason="demo"))
            if s.status == "ACTIVE" and status == "FROZEN":
                reason = "异地登录 unusual login"
                s.freeze(reason, at, staff.platform.meta(reason=reason))
            if s.status != "DEREGISTERED" and status == "DEREGISTERED":
                if s.alias is not None:
                    claim: AliasClaim = store.repository.get(alias_claim_id_for(s.alias))
                    claim.release(s.id, agent.meta(reason="demo"))
                    touched.append(claim)
                s.deregister(at, agent.meta(reason="customer closed the mailbox"))
        save(store, *touched)
