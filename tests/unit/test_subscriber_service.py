"""SubscriberService on an in-memory store, command by command: who may (from the living
permissions.md), bad input, wrong state, stale expectedVersion, unknown number; every failure
leaves the whole store (every stream, alias claims included) as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from application.authz import Principal
from application.subscribers.commands import ChangeContext, SubscriberResult, SubscriberService
from domain.shared import DomainError
from domain.subscribers.rules import NotificationMode as Mode
from domain.subscribers.rules import SmsBlacklistLevel as Level
from domain.subscribers.subscriber import Subscriber, subscriber_id_for
from infra.stores import CoreStore
from tests.memory_store import FakeClock, may, memory_store, stored
from tests.memory_store import refused as assert_refused
from tests.subscriber_helpers import GD_NUMBER, PRINCIPALS, FakeHasher

ADMIN = PRINCIPALS["admin"]
OTHER = "13700137000"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class World:
    service: SubscriberService
    store: CoreStore
    clock: FakeClock

    def subscriber(self, msisdn: str = GD_NUMBER) -> Subscriber:
        found: Subscriber = self.store.repository.get(subscriber_id_for(msisdn))
        return found


def build() -> World:
    """The one place the service is constructed (its signature changes in one line here)."""
    store, clock = memory_store(), FakeClock(T0)
    return World(SubscriberService(store, FakeHasher(), clock), store, clock)


# ---------------------------------------------------------------- states to start from
def nothing(w: World) -> None:
    """No mailbox for the number yet."""


def active(w: World) -> None:
    w.service.register(ADMIN, GD_NUMBER, "GD", "FREE")


def frozen(w: World) -> None:
    active(w)
    w.service.freeze(ADMIN, GD_NUMBER, "phishing reported")


def deregistered(w: World) -> None:
    active(w)
    w.service.deregister(ADMIN, GD_NUMBER)


def alias_taken(w: World) -> None:
    active(w)
    w.service.register(ADMIN, OTHER, "GD", "FREE")
    w.service.set_alias(ADMIN, OTHER, "lily.chen")


Call = Callable[[SubscriberService, Principal, str, ChangeContext], SubscriberResult]


@dataclass(frozen=True)
class Command:
    """A command with valid input, the state it passes in and the events it then stores."""

    call: Call
    passes_in: Callable[[World], None]
    stores: tuple[str, ...]
    refused_in: tuple[Callable[[World], None], str]  # a state it is refused in, and the code


C = ChangeContext
COMMANDS: dict[str, Command] = {
    "registerMailbox": Command(
        lambda s, p, m, c: s.register(p, m, "GD", "FREE", c),
        nothing,
        ("MailboxRegistered",),
        (active, "ALREADY_REGISTERED"),
    ),
    "deregisterMailbox": Command(
        lambda s, p, m, c: s.deregister(p, m, c),
        active,
        ("MailboxDeregistered",),
        (deregistered, "MAILBOX_DEREGISTERED"),
    ),
    "changePlan": Command(
        lambda s, p, m, c: s.change_plan(p, m, "VIP_20", c),
        active,
        ("PlanChanged",),
        (frozen, "MAILBOX_FROZEN"),
    ),
    "setCompanion": Command(
        lambda s, p, m, c: s.set_companion(p, m, True, c),
        active,
        ("CompanionChanged",),
        (frozen, "MAILBOX_FROZEN"),
    ),
    "setBillDelivery": Command(
        lambda s, p, m, c: s.set_bill_delivery(p, m, True, c),
        active,
        ("BillDeliveryChanged",),
        (deregistered, "MAILBOX_DEREGISTERED"),
    ),
    "setArrivalNotification": Command(
        lambda s, p, m, c: s.set_arrival_notification(p, m, True, Mode.SMS, "22:00", "07:00", c),
        active,
        ("ArrivalNotificationChanged",),
        (frozen, "MAILBOX_FROZEN"),
    ),
    "setLoginReminder": Command(
        lambda s, p, m, c: s.set_login_reminder(p, m, True, c),
        active,
        ("LoginReminderChanged",),
        (frozen, "MAILBOX_FROZEN"),
    ),
    "setAlias": Command(
        lambda s, p, m, c: s.set_alias(p, m, "lily.chen", c),
        active,
        ("AliasChanged", "AliasClaimed"),
        (alias_taken, "ALIAS_TAKEN"),
    ),
    "changePassword": Command(
        lambda s, p, m, c: s.change_password(p, m, "Secret2026", c),
        frozen,  # allowed while frozen: the way back in after a security freeze
        ("PasswordChanged",),
        (deregistered, "MAILBOX_DEREGISTERED"),
    ),
    "unfreezeMailbox": Command(
        lambda s, p, m, c: s.unfreeze(p, m, c),
        frozen,
        ("MailboxUnfrozen",),
        (active, "NOT_FROZEN"),
    ),
    "freezeMailbox": Command(
        lambda s, p, m, c: s.freeze(p, m, "phishing reported", c),
        active,
        ("MailboxFrozen",),
        (frozen, "MAILBOX_FROZEN"),
    ),
    "setSmsBlacklist": Command(
        lambda s, p, m, c: s.set_sms_blacklist(p, m, Level.NO_MARKETING, c),
        active,
        ("SmsBlacklistChanged",),
        (deregistered, "MAILBOX_DEREGISTERED"),
    ),
}


def given(name: str, state: Callable[[World], None] | None = None) -> World:
    w = build()
    (state or COMMANDS[name].passes_in)(w)
    return w


def refused(w: World, code: str, when: Callable[[], Any]) -> DomainError:
    return assert_refused(w.store, code, when)


def run(w: World, name: str, who: Principal, context: ChangeContext = C()) -> SubscriberResult:
    return COMMANDS[name].call(w.service, who, GD_NUMBER, context)


# ---------------------------------------------------------------- who may
@pytest.mark.parametrize("who", sorted(PRINCIPALS))
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_roles_permissions_md_allows_pass_and_the_others_are_forbidden(
    name: str, who: str
) -> None:
    w, caller = given(name), PRINCIPALS[who]
    if not may(name, caller.role.value, caller.province, "GD"):
        refused(w, "FORBIDDEN", lambda: run(w, name, caller))
        return
    before = stored(w.store)
    result = run(w, name, caller, C(reason="客户来电"))
    added = stored(w.store)[len(before) :]
    assert stored(w.store)[: len(before)] == before
    assert tuple(event for _, _, event in added) == COMMANDS[name].stores
    assert result.position == len(stored(w.store))  # the log position of its last event
    assert result.subscriber.version == w.subscriber().version
    recorded = list(w.store.events.get(subscriber_id_for(GD_NUMBER)))[-1]
    assert recorded.meta.actor.username == caller.username
    assert recorded.meta.reason == "客户来电"


def test_registering_in_another_province_is_forbidden_to_a_province_agent() -> None:
    w = build()
    refused(w, "FORBIDDEN", lambda: w.service.register(PRINCIPALS["bj.agent"], OTHER, "GD", "FREE"))
    w.service.register(PRINCIPALS["gd.agent"], OTHER, "GD", "FREE")


# ---------------------------------------------------------------- wrong state
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_command_in_a_state_that_refuses_it(name: str) -> None:
    state, code = COMMANDS[name].refused_in
    w = given(name, state)
    refused(w, code, lambda: run(w, name, ADMIN))


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"registerMailbox"}))
def test_a_command_on_a_number_without_a_mailbox_is_not_found(name: str) -> None:
    w = given(name, nothing)
    refused(w, "NOT_FOUND", lambda: run(w, name, ADMIN))


# ---------------------------------------------------------------- stale expectedVersion
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_stale_expected_version_is_a_conflict_and_the_current_one_passes(name: str) -> None:
    w = given(name)
    current = w.subscriber().version if name != "registerMailbox" else 0
    error = refused(
        w, "VERSION_CONFLICT", lambda: run(w, name, ADMIN, C(expected_version=current + 1))
    )
    assert error.field == ["expectedVersion"]
    if current:
        refused(w, "VERSION_CONFLICT", lambda: run(w, name, ADMIN, C(expected_version=current - 1)))
    assert run(w, name, ADMIN, C(expected_version=current)).subscriber.version == current + 1


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("msisdn", ["1380013800", "23800138000", "1380013800a", ""])
def test_a_malformed_number_is_invalid_for_every_command(name: str, msisdn: str) -> None:
    w = given(name)
    refused(w, "INVALID_MSISDN", lambda: COMMANDS[name].call(w.service, ADMIN, msisdn, C()))


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("context", "code"),
    [
        (C(reason="x" * 501), "INVALID_REASON"),
        (C(reason="客户\x00来电"), "INVALID_REASON"),
        (C(reason="gpj.\u202eexe"), "INVALID_REASON"),
        (C(ticket_id="x" * 65), "INVALID_TICKET_ID"),
        (C(ticket_id="GD-20260302-0001"), "INVALID_TICKET_ID"),  # a number, not an id
        (C(ticket_id="6b1f7f0e-3c1a-4c53-9a43-1f2d3c4b5a69"), "TICKET_NOT_FOUND"),
    ],
)
def test_a_bad_change_context_is_refused_for_every_command(
    name: str, context: ChangeContext, code: str
) -> None:
    w = given(name)
    refused(w, code, lambda: run(w, name, ADMIN, context))


BAD_INPUT: list[tuple[str, Call, str, list[str] | None]] = [
    ("registerMailbox", lambda s, p, m, c: s.register(p, m, "XX", "FREE", c), "UNKNOWN_PROVINCE",
     ["province"]),
    ("registerMailbox", lambda s, p, m, c: s.register(p, m, "GD", "GOLD", c), "UNKNOWN_PLAN",
     ["planCode"]),
    ("changePlan", lambda s, p, m, c: s.change_plan(p, m, "GOLD", c), "UNKNOWN_PLAN",
     ["planCode"]),
    ("changePlan", lambda s, p, m, c: s.change_plan(p, m, "FREE", c), "NO_CHANGE", None),
    ("setCompanion", lambda s, p, m, c: s.set_companion(p, m, False, c), "NO_CHANGE", None),
    ("setArrivalNotification",
     lambda s, p, m, c: s.set_arrival_notification(p, m, True, None, None, None, c),
     "MODE_REQUIRED", ["mode"]),
    ("setArrivalNotification",
     lambda s, p, m, c: s.set_arrival_notification(p, m, True, Mode.SMS, "25:00", "07:00", c),
     "INVALID_WINDOW", ["windowStart"]),
    ("setArrivalNotification",
     lambda s, p, m, c: s.set_arrival_notification(p, m, True, Mode.SMS, "08:00", "08:00", c),
     "INVALID_WINDOW", ["windowEnd"]),
    ("setAlias", lambda s, p, m, c: s.set_alias(p, m, "a b", c), "INVALID_ALIAS", ["alias"]),
    ("setAlias", lambda s, p, m, c: s.set_alias(p, m, None, c), "NO_CHANGE", None),
    ("changePassword", lambda s, p, m, c: s.change_password(p, m, "short", c),
     "INVALID_PASSWORD", ["newPassword"]),
    ("freezeMailbox", lambda s, p, m, c: s.freeze(p, m, "   ", c), "REASON_REQUIRED",
     ["reason"]),
    ("freezeMailbox", lambda s, p, m, c: s.freeze(p, m, "x" * 10_000, c), "INVALID_REASON",
     ["reason"]),
    ("freezeMailbox", lambda s, p, m, c: s.freeze(p, m, "a\x00b", c), "INVALID_REASON",
     ["reason"]),
    ("freezeMailbox", lambda s, p, m, c: s.freeze(p, m, "csi\x9b", C(reason="ok")),
     "INVALID_REASON", ["reason"]),
    ("setCompanion", lambda s, p, m, c: s.set_companion(p, m, True, C(reason="\x07")),
     "INVALID_REASON", ["context", "reason"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "call", "code", "field"),
    BAD_INPUT,
    ids=[f"{n}-{c}-{i}" for i, (n, _, c, _) in enumerate(BAD_INPUT)],
)
def test_bad_input_is_refused(name: str, call: Call, code: str, field: list[str] | None) -> None:
    w = given(name)
    error = refused(w, code, lambda: call(w.service, ADMIN, GD_NUMBER, C()))
    assert error.field == field


def test_a_refused_alias_change_leaves_both_claims_as_they_were() -> None:
    """The mailbox, its old claim and the contested claim are one transaction."""
    w = given("setAlias", alias_taken)
    w.service.set_alias(ADMIN, GD_NUMBER, "old.name")
    refused(w, "ALIAS_TAKEN", lambda: w.service.set_alias(ADMIN, GD_NUMBER, "lily.chen"))
    assert w.subscriber().alias == "old.name"
    result = w.service.set_alias(ADMIN, GD_NUMBER, "new.name")
    added = [event for _, _, event in stored(w.store)[-3:]]
    assert added == ["AliasChanged", "AliasReleased", "AliasClaimed"]
    assert result.position == len(stored(w.store))


def test_a_freeze_reason_is_stored_as_the_text_rule_cleans_it_and_is_the_changes_reason() -> None:
    w = given("freezeMailbox")
    w.service.freeze(ADMIN, GD_NUMBER, "  e\u0301 异常登录\r\n  ")
    *_, event = w.store.events.get(subscriber_id_for(GD_NUMBER))
    assert w.subscriber().frozen_reason == "\u00e9 异常登录"
    assert event.meta.reason == "\u00e9 异常登录"
