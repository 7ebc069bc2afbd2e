"""A generated core-event history for the statistics benchmark: staff accounts, subscribers
with their proxy settings, and tickets through their lifecycle, written through the domain."""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from domain.access.account import Account
from domain.access.permissions import Role
from domain.access.provinces import PROVINCES
from domain.shared import SYSTEM_ACTOR, Actor, ChangeMeta, DomainError
from domain.subscribers.alias_claim import claim_alias
from domain.subscribers.rules import NotificationMode, SmsBlacklistLevel
from domain.subscribers.subscriber import Subscriber
from domain.support.lifecycle import TicketState
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import TicketCategory, TicketPriority

PROVINCE_CODES = list(PROVINCES)
# Big provinces get more subscribers (a rough shape, not data).
PROVINCE_WEIGHTS = [6 if p in {"GD", "JS", "SD", "ZJ", "HA", "SC"} else 2 for p in PROVINCE_CODES]
PLANS = ("FREE", "PLUS_5", "VIP_20")
POLICY = SlaPolicy()


def _meta(account: Account) -> ChangeMeta:
    actor = Actor(str(account.id), account.username, account.role.value, account.province)
    return ChangeMeta(actor, correlation_id=f"bench-{random.getrandbits(64):016x}")


class History:
    """A year of core-store history, produced step by step through the aggregates."""

    def __init__(self, seed: int, start: datetime, span: timedelta, events: int) -> None:
        self.rng = random.Random(seed)
        self.start, self.span = start, span
        self.now = start
        self.mean_gap = span.total_seconds() / events
        self.accounts: list[Account] = []
        self.agents: dict[str, list[Account]] = {}
        system = ChangeMeta(SYSTEM_ACTOR)
        self.pending: list[Any] = []
        for province in PROVINCE_CODES:
            for n in range(2):
                self._account(f"{province.lower()}.agent{n}", Role.PROVINCE_AGENT, province, system)
        self.second = [self._account(f"second{n}", Role.SECOND_LINE_AGENT, None, system)
                       for n in range(6)]  # fmt: skip
        self.admins = [self._account(f"admin{n}", Role.SUPER_ADMIN, None, system) for n in range(2)]
        self.platform = self._account("platform", Role.INTEGRATION, None, system)
        self.subscribers: list[Subscriber] = []
        self.open_tickets: list[Ticket] = []
        self.serial = 0

    def _account(
        self, username: str, role: Role, province: str | None, meta: ChangeMeta
    ) -> Account:
        account = Account.register(
            username=username,
            display_name=username,
            role=role,
            province=province,
            password_hash="$bench$",
            meta=meta,
        )
        self.accounts.append(account)
        if province is not None:
            self.agents.setdefault(province, []).append(account)
        self.pending.append(account)
        return account

    def _staff(self, province: str) -> Account:
        r = self.rng.random()
        if r < 0.70:
            return self.rng.choice(self.agents[province])
        if r < 0.95:
            return self.rng.choice(self.second)
        return self.rng.choice(self.admins)

    def step(self, done: float) -> None:
        """One command, `done` (0..1) of the way through the history; its aggregates go to
        `pending` (a command the rules refuse writes nothing)."""
        rng = self.rng
        # Time follows the share of events written, so the history ends at the span's end.
        paced = self.start + self.span * done
        jitter = rng.expovariate(2 / self.mean_gap)  # half a gap: the pace leads
        self.now = max(self.now, paced) + timedelta(seconds=jitter)
        r = rng.random()
        try:
            if r < 0.05 or not self.subscribers:
                self._register()
            elif r < 0.66:
                self._proxy_setting()
            elif r < 0.70:
                account = rng.choice(self.accounts)
                account.login_succeeded(self.now, "password", _meta(account))
                self.pending.append(account)
            else:
                self._ticket_step()
        except DomainError:
            pass  # e.g. NO_CHANGE on a random pick: no event this time

    def _register(self) -> None:
        self.serial += 1
        province = self.rng.choices(PROVINCE_CODES, PROVINCE_WEIGHTS)[0]
        actor = self.platform if self.rng.random() < 0.1 else self._staff(province)
        s = Subscriber.register(
            msisdn=f"1{self.rng.choice('3578')}{self.serial:09d}",
            province=province,
            plan_code=self.rng.choice(PLANS),
            at=self.now,
            meta=_meta(actor),
        )
        self.subscribers.append(s)
        self.pending.append(s)

    def _proxy_setting(self) -> None:
        rng, now = self.rng, self.now
        s = rng.choice(self.subscribers)
        actor = self.platform if rng.random() < 0.12 else self._staff(s.province)
        meta = _meta(actor)
        on = rng.random() < 0.5
        if s.status == "DEREGISTERED":
            s.reregister(s.province, rng.choice(PLANS), now, meta)
        elif s.status == "FROZEN":
            s.unfreeze(now, meta)
        else:
            op = rng.randrange(12)
            if op == 0:
                s.change_plan(rng.choice(PLANS), now, meta)
            elif op == 1:
                s.set_companion(on, now, meta)
            elif op == 2:
                s.set_bill_delivery(on, now, meta)
            elif op == 3:
                s.set_arrival_notification(on, NotificationMode.SMS, "08:00", "22:00", now, meta)
            elif op == 4:
                s.set_login_reminder(on, now, meta)
            elif op == 5:
                alias = f"u{self.serial}x{rng.randrange(10**6)}"
                s.set_alias(alias, now, meta)
                self.pending.append(claim_alias(None, alias, s.id, s.msisdn, now, meta))
            elif op in (6, 7):
                s.change_password(f"$argon2id$bench${rng.getrandbits(64):x}", now, meta)
            elif op == 8:
                level = rng.choice(list(SmsBlacklistLevel))
                s.set_sms_blacklist(level, now, meta)
            elif op == 9 and rng.random() < 0.3:
                s.freeze("异地登录", now, _meta(self.platform))
            elif op == 10 and rng.random() < 0.2:
                s.deregister(now, meta)
            else:
                s.change_plan(rng.choice(PLANS), now, meta)
        self.pending.append(s)

    def _ticket_step(self) -> None:
        rng, now = self.rng, self.now
        if rng.random() < 0.22 or not self.open_tickets:
            province = rng.choices(PROVINCE_CODES, PROVINCE_WEIGHTS)[0]
            agent = rng.choice(self.agents[province])
            content = DraftContent.clean(
                title="用户反映邮箱无法登录",
                body="网页版登录失败，提示密码错误，用户确认密码无误。",
                category=rng.choice(list(TicketCategory)),
                priority=rng.choice(list(TicketPriority)),
                msisdn=None,
            )
            t = Ticket.draft(province=province, content=content, at=now, meta=_meta(agent))
            self.open_tickets.append(t)
            self.pending.append(t)
            return
        index = rng.randrange(len(self.open_tickets))
        t = self.open_tickets[index]
        first = _meta(rng.choice(self.agents[t.province]))
        second = _meta(rng.choice(self.second))
        if t.status is TicketState.DRAFT:
            if rng.random() < 0.05:
                t.discard(at=now, meta=first)
            else:
                self.serial += 1
                t.submit(at=now, sla=POLICY, allocate_number=lambda: f"{t.province}-{self.serial}",
                         meta=first)  # fmt: skip
        elif t.status in (TicketState.SUBMITTED, TicketState.RESUBMITTED):
            t.answer(body="请清除浏览器缓存后重试", at=now, calendar=POLICY.calendar, meta=second)
        elif t.status is TicketState.ANSWERED:
            if rng.random() < 0.3:
                t.resubmit(body="仍然无法登录", at=now, calendar=POLICY.calendar, meta=first)
            else:
                t.rate(score=rng.randint(1, 5), comment=None, at=now, meta=first)
        elif t.status is TicketState.CLOSED:
            t.update_archive(resolution="已解决", tags=["登录"], at=now, meta=second)
        if t.status in (TicketState.DISCARDED,) or t.archive.resolution is not None:
            self.open_tickets[index] = self.open_tickets[-1]
            self.open_tickets.pop()
        self.pending.append(t)

    def drain(self) -> list[Any]:
        """The events of this step's changed aggregates, in the order they happened."""
        events = [e for aggregate in self.pending for e in aggregate.collect_events()]
        self.pending.clear()
        return events
