"""Random command sequences across several subscribers (Hypothesis RuleBasedStateMachine).

Checked after every step: replaying a subscriber's events (no snapshots) gives the state the
command left it in, and so does loading it (with snapshots); no alias is held by two mailboxes
and every alias claim agrees with its mailbox; a deregistered mailbox accepts nothing but
registration; a refused command stores nothing.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from application.subscribers.commands import ChangeContext
from domain.shared import DomainError
from domain.subscribers.alias_claim import AliasClaim, alias_claim_id_for
from domain.subscribers.rules import NotificationMode, SmsBlacklistLevel
from domain.subscribers.subscriber import Subscriber, subscriber_id_for
from tests.subscriber_helpers import PRINCIPALS, memory_commands

NUMBERS = ["13800138000", "13900139000", "15000150000", "18600186000"]
PROVINCE_OF = dict(zip(NUMBERS, ["GD", "BJ", "GD", "SH"], strict=True))
ALIASES = ["alpha", "bravo", "charlie.d", "echo-5"]
STAFF = ["admin", "second", "platform"]  # every province; gd.agent is added for GD numbers

numbers = st.sampled_from(NUMBERS)
aliases = st.one_of(st.none(), st.sampled_from(ALIASES))
windows = st.sampled_from(
    [(None, None), ("08:00", "22:00"), ("22:00", "07:00"), ("09:30", "09:00")]
)
modes = st.sampled_from(list(NotificationMode))
levels = st.sampled_from(list(SmsBlacklistLevel))
plans = st.sampled_from(["FREE", "PLUS_5", "VIP_20", "GOLD"])
passwords = st.sampled_from(["abc123", "Passw0rd2026", "short", "13800138000x"])
actor_picks = st.integers(min_value=0, max_value=3)
stale = st.sampled_from([False, False, False, False, True])  # mostly current versions

ALLOWED_WHEN_FROZEN = {"deregister", "change_password", "unfreeze"}
FORMAT_CODES = {
    "INVALID_PASSWORD",
    "INVALID_WINDOW",
    "INVALID_ALIAS",
    "UNKNOWN_PLAN",
    "MODE_REQUIRED",
    "REASON_REQUIRED",
}


def state_of(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


class SubscriberMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.commands, self.store = memory_commands()
        self.live: dict[str, Subscriber] = {}  # the aggregate each last successful command left

    # ------------------------------------------------------------------ helpers
    def actor(self, msisdn: str, pick: int) -> Any:
        staff = [*STAFF, "gd.agent"] if PROVINCE_OF[msisdn] == "GD" else STAFF
        return PRINCIPALS[staff[pick % len(staff)]]

    def version(self, msisdn: str) -> int:
        return len(list(self.store.events.get(subscriber_id_for(msisdn))))

    def run(self, name: str, msisdn: str, call: Any, stale_version: bool = False) -> None:
        before = self.version(msisdn)
        status = self.live[msisdn].status if msisdn in self.live else None
        context = ChangeContext(expected_version=before - 1 if stale_version else before)
        try:
            result = call(context)
        except DomainError as error:
            assert self.version(msisdn) == before, f"{name} failed with {error.code} but stored"
            if error.code in FORMAT_CODES:
                return  # malformed input is refused before the mailbox is even looked at
            if stale_version and before > 0:
                assert error.code == "VERSION_CONFLICT"
            elif status is None and name != "register":
                assert error.code == "NOT_FOUND"
            elif status == "DEREGISTERED" and name != "register":
                assert error.code == "MAILBOX_DEREGISTERED", error.code
            elif status == "FROZEN" and name not in ALLOWED_WHEN_FROZEN | {"register"}:
                assert error.code == "MAILBOX_FROZEN", error.code
            else:
                assert error.code in {
                    "NO_CHANGE",
                    "NOT_FROZEN",
                    "ALREADY_REGISTERED",
                    "ALIAS_TAKEN",
                }
            return
        assert not (stale_version and before > 0), f"{name} accepted a stale version"
        assert status != "DEREGISTERED" or name == "register", f"{name} changed a closed mailbox"
        assert status != "FROZEN" or name in ALLOWED_WHEN_FROZEN, f"{name} changed a frozen one"
        assert result.subscriber.version == before + 1
        self.live[msisdn] = result.subscriber

    # ------------------------------------------------------------------ rules
    @initialize()
    def some_mailboxes_exist(self) -> None:
        for msisdn in NUMBERS[:3]:
            self.live[msisdn] = self.commands.register(
                PRINCIPALS["admin"], msisdn, PROVINCE_OF[msisdn], "FREE"
            ).subscriber

    @rule(msisdn=numbers, plan=plans, pick=actor_picks)
    def register(self, msisdn: str, plan: str, pick: int) -> None:
        self.run(
            "register",
            msisdn,
            lambda ctx: self.commands.register(
                self.actor(msisdn, pick), msisdn, PROVINCE_OF[msisdn], plan, ctx
            ),
        )

    @rule(msisdn=numbers, pick=actor_picks, stale_version=stale)
    def deregister(self, msisdn: str, pick: int, stale_version: bool) -> None:
        self.run(
            "deregister",
            msisdn,
            lambda ctx: self.commands.deregister(self.actor(msisdn, pick), msisdn, ctx),
            stale_version,
        )

    @rule(msisdn=numbers, plan=plans, pick=actor_picks)
    def change_plan(self, msisdn: str, plan: str, pick: int) -> None:
        self.run(
            "change_plan",
            msisdn,
            lambda ctx: self.commands.change_plan(self.actor(msisdn, pick), msisdn, plan, ctx),
        )

    @rule(msisdn=numbers, on=st.booleans(), which=st.sampled_from(["companion", "bill", "login"]))
    def switch(self, msisdn: str, on: bool, which: str) -> None:
        method = {
            "companion": self.commands.set_companion,
            "bill": self.commands.set_bill_delivery,
            "login": self.commands.set_login_reminder,
        }[which]
        self.run(which, msisdn, lambda ctx: method(PRINCIPALS["admin"], msisdn, on, ctx))

    @rule(msisdn=numbers, on=st.booleans(), mode=st.one_of(st.none(), modes), window=windows)
    def arrival(self, msisdn: str, on: bool, mode: Any, window: Any) -> None:
        self.run(
            "arrival",
            msisdn,
            lambda ctx: self.commands.set_arrival_notification(
                PRINCIPALS["second"], msisdn, on, mode, window[0], window[1], ctx
            ),
        )

    @rule(msisdn=numbers, alias=aliases, pick=actor_picks, stale_version=stale)
    def set_alias(self, msisdn: str, alias: str | None, pick: int, stale_version: bool) -> None:
        holder = next((n for n, s in self.live.items() if alias and s.alias == alias), None)
        before = self.version(msisdn)
        self.run(
            "set_alias",
            msisdn,
            lambda ctx: self.commands.set_alias(self.actor(msisdn, pick), msisdn, alias, ctx),
            stale_version,
        )
        if holder is not None and holder != msisdn:
            assert self.version(msisdn) == before, "took an alias another mailbox holds"

    @rule(msisdn=numbers, password=passwords)
    def change_password(self, msisdn: str, password: str) -> None:
        self.run(
            "change_password",
            msisdn,
            lambda ctx: self.commands.change_password(PRINCIPALS["admin"], msisdn, password, ctx),
        )

    @rule(msisdn=numbers, reason=st.sampled_from(["phishing", "", "spam wave"]))
    def freeze(self, msisdn: str, reason: str) -> None:
        self.run(
            "freeze",
            msisdn,
            lambda ctx: self.commands.freeze(PRINCIPALS["platform"], msisdn, reason, ctx),
        )

    @rule(msisdn=numbers, pick=actor_picks)
    def unfreeze(self, msisdn: str, pick: int) -> None:
        self.run(
            "unfreeze",
            msisdn,
            lambda ctx: self.commands.unfreeze(self.actor(msisdn, pick), msisdn, ctx),
        )

    @rule(msisdn=numbers, level=levels)
    def blacklist(self, msisdn: str, level: SmsBlacklistLevel) -> None:
        self.run(
            "blacklist",
            msisdn,
            lambda ctx: self.commands.set_sms_blacklist(PRINCIPALS["admin"], msisdn, level, ctx),
        )

    # ------------------------------------------------------------------ invariants
    @invariant()
    def replayed_state_equals_live_state(self) -> None:
        for msisdn, live in self.live.items():
            events = list(self.store.events.get(subscriber_id_for(msisdn)))
            replayed: Any = None
            for event in events:
                replayed = event.mutate(replayed)
            loaded = self.store.repository.get(subscriber_id_for(msisdn))  # via snapshots
            assert state_of(replayed) == state_of(live)
            assert state_of(loaded) == state_of(live)

    @invariant()
    def no_alias_is_held_by_two_mailboxes(self) -> None:
        held = [s.alias for s in self.live.values() if s.alias is not None]
        assert len(held) == len(set(held)), held
        for alias in ALIASES:
            claim: AliasClaim | None
            try:
                claim = self.store.repository.get(alias_claim_id_for(alias))
            except Exception:
                claim = None
            holders = [n for n, s in self.live.items() if s.alias == alias]
            if claim is None or claim.holder_msisdn is None:
                assert holders == [], (alias, holders)
            else:
                assert holders == [claim.holder_msisdn], (alias, holders, claim.holder_msisdn)

    @invariant()
    def deregistered_mailboxes_hold_nothing(self) -> None:
        for live in self.live.values():
            if live.status == "DEREGISTERED":
                assert live.alias is None and live.frozen_at is None


SubscriberMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
test_subscriber_state_machine = SubscriberMachine.TestCase
