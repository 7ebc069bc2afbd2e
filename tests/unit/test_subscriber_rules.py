"""Given events / when a command / then events (or an error code and nothing stored): the
subscribers context's formats, registration, lifecycle, freezing and no-change rules, on an
in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from application.subscribers.commands import ChangeContext, SubscriberService
from domain.shared import DomainError, PermissionDeniedError
from domain.subscribers.plans import PLANS, plan_for
from domain.subscribers.rules import SmsBlacklistLevel as Level
from domain.subscribers.rules import in_window, validate_msisdn
from domain.subscribers.subscriber import subscriber_id_for
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import TicketCategory, TicketPriority
from tests.subscriber_helpers import (
    ADMIN,
    BJ_NUMBER,
    COMMANDS,
    GD_NUMBER,
    OTHER,
    PRINCIPALS,
    MemoryCore,
    given,
    last_event,
    load,
    memory_commands,
    stored_event_types,
    then_error,
)


@pytest.fixture
def world() -> tuple[SubscriberService, MemoryCore]:
    return memory_commands()


# ---------------------------------------------------------------------- formats
@pytest.mark.parametrize("msisdn", ["13800138000", "19912345678", "14700000000"])
def test_valid_numbers(msisdn: str) -> None:
    assert validate_msisdn(msisdn) == msisdn


@pytest.mark.parametrize(
    "msisdn",
    ["", "1380013800", "138001380000", "12800138000", "23800138000", "1380013800a", " 13800138000"],
)
def test_invalid_numbers_are_refused_with_invalid_msisdn(world: Any, msisdn: str) -> None:
    commands, _ = world
    with pytest.raises(DomainError) as caught:
        commands.register(ADMIN, msisdn, "GD", "FREE")
    assert caught.value.code == "INVALID_MSISDN"
    assert caught.value.field == ["msisdn"]


def test_plan_catalog() -> None:
    assert [(p.code, p.monthly_fee_fen) for p in PLANS][:3] == [
        ("FREE", 0),
        ("PLUS_5", 500),
        ("VIP_20", 2000),
    ]
    with pytest.raises(DomainError) as caught:
        plan_for("GOLD")
    assert caught.value.code == "UNKNOWN_PLAN"


@pytest.mark.parametrize(
    ("start", "end", "inside", "outside"),
    [("08:00", "20:00", "12:00", "21:00"), ("22:00", "07:00", "23:30", "12:00")],
)
def test_windows_may_wrap_past_midnight(start: str, end: str, inside: str, outside: str) -> None:
    assert in_window(start, end, inside)
    assert in_window(start, end, start)
    assert not in_window(start, end, end)
    assert not in_window(start, end, outside)


# ---------------------------------------------------------------------- registration
def test_register_opens_an_active_mailbox_with_defaults(world: Any) -> None:
    commands, store = world
    content = DraftContent.clean(
        "开户", "营业厅", TicketCategory.REQUEST, TicketPriority.LOW, GD_NUMBER
    )
    agent = PRINCIPALS["gd.agent"]  # citing the draft they are working on
    ticket = Ticket.draft(province="GD", content=content, at=datetime.now(UTC), meta=agent.meta())
    store.save(ticket)
    result = commands.register(
        agent,
        GD_NUMBER,
        "GD",
        "PLUS_5",
        ChangeContext(reason="walk-in customer", ticket_id=str(ticket.id)),
    )
    s = result.subscriber
    assert (s.msisdn, s.mailbox, s.province, s.status, s.plan_code) == (
        GD_NUMBER,
        f"{GD_NUMBER}@139.com",
        "GD",
        "ACTIVE",
        "PLUS_5",
    )
    assert not (s.companion_enabled or s.bill_delivery or s.arrival_enabled or s.login_reminder)
    assert (s.alias, s.sms_blacklist_level, s.password_changed_at, s.frozen_at) == (
        None,
        "NONE",
        None,
        None,
    )
    assert s.version == 1
    assert s.id == subscriber_id_for(GD_NUMBER)
    event = last_event(store)
    assert type(event).__name__ == "MailboxRegistered"
    assert event.meta.actor.username == "gd.agent"
    assert event.meta.actor.province == "GD"
    assert event.meta.reason == "walk-in customer"
    assert event.meta.ticket_id == str(ticket.id)
    assert event.meta.correlation_id == "cid-gd.agent"


def test_register_an_unknown_plan_is_refused(world: Any) -> None:
    commands, store = world
    then_error(store, "UNKNOWN_PLAN", lambda: commands.register(ADMIN, GD_NUMBER, "GD", "GOLD"))
    assert stored_event_types(store, GD_NUMBER) == []


@pytest.mark.parametrize("frozen", [False, True])
def test_register_an_active_or_frozen_number_is_already_registered(
    world: Any, frozen: bool
) -> None:
    commands, store = world
    given(commands)
    if frozen:
        commands.freeze(ADMIN, GD_NUMBER, "suspicious logins")
    then_error(
        store, "ALREADY_REGISTERED", lambda: commands.register(ADMIN, GD_NUMBER, "GD", "FREE")
    )


def test_registering_a_deregistered_number_opens_a_fresh_mailbox_and_keeps_history(
    world: Any,
) -> None:
    commands, store = world
    given(commands)
    commands.set_companion(ADMIN, GD_NUMBER, True)
    commands.set_alias(ADMIN, GD_NUMBER, "old.name")
    commands.change_password(ADMIN, GD_NUMBER, "abc12345")
    commands.deregister(ADMIN, GD_NUMBER)
    result = commands.register(ADMIN, GD_NUMBER, "GD", "VIP_20")
    s = result.subscriber
    assert s.status == "ACTIVE"
    assert s.plan_code == "VIP_20"
    assert not s.companion_enabled
    assert s.alias is None
    assert s.password_hash is None and s.password_changed_at is None
    assert s.deregistered_at is None
    assert s.registrations == 2
    assert stored_event_types(store, GD_NUMBER) == [
        "MailboxRegistered",
        "CompanionChanged",
        "AliasChanged",
        "PasswordChanged",
        "MailboxDeregistered",
        "MailboxReregistered",
    ]
    event = last_event(store)
    assert (event.previous_plan_code, event.plan_code) == ("FREE", "VIP_20")


def test_register_in_another_province_is_forbidden_for_a_province_agent(world: Any) -> None:
    commands, store = world
    with pytest.raises(PermissionDeniedError):
        commands.register(PRINCIPALS["gd.agent"], BJ_NUMBER, "BJ", "FREE")
    assert stored_event_types(store, BJ_NUMBER) == []


def test_reopening_another_provinces_deregistered_number_is_forbidden(world: Any) -> None:
    commands, store = world
    given(commands, BJ_NUMBER, "BJ")
    commands.deregister(ADMIN, BJ_NUMBER)
    with pytest.raises(PermissionDeniedError):
        commands.register(PRINCIPALS["gd.agent"], BJ_NUMBER, "GD", "FREE")
    assert load(store, BJ_NUMBER).status == "DEREGISTERED"


# ---------------------------------------------------------------------- lifecycle guards
ALLOWED_WHEN_FROZEN = {"deregisterMailbox", "changePassword", "unfreezeMailbox"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_deregistered_mailbox_accepts_nothing_but_registration(world: Any, name: str) -> None:
    commands, store = world
    given(commands)
    commands.deregister(ADMIN, GD_NUMBER)
    then_error(store, "MAILBOX_DEREGISTERED", lambda: COMMANDS[name](commands))


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - ALLOWED_WHEN_FROZEN))
def test_a_frozen_mailbox_refuses_everything_but_unfreeze_password_and_deregistration(
    world: Any, name: str
) -> None:
    commands, store = world
    given(commands)
    commands.freeze(ADMIN, GD_NUMBER, "phishing reported")
    then_error(store, "MAILBOX_FROZEN", lambda: COMMANDS[name](commands))


@pytest.mark.parametrize("name", sorted(ALLOWED_WHEN_FROZEN))
def test_a_frozen_mailbox_allows_unfreeze_password_and_deregistration(
    world: Any, name: str
) -> None:
    commands, _ = world
    given(commands)
    commands.freeze(ADMIN, GD_NUMBER, "phishing reported")
    result = COMMANDS[name](commands)
    assert result.subscriber.version == 3


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_on_an_unknown_number_is_not_found(world: Any, name: str) -> None:
    commands, store = world
    then_error(store, "NOT_FOUND", lambda: COMMANDS[name](commands))


def test_deregister_records_the_status_and_released_alias(world: Any) -> None:
    commands, store = world
    given(commands)
    commands.set_alias(ADMIN, GD_NUMBER, "lily.chen")
    commands.freeze(ADMIN, GD_NUMBER, "phishing")
    s = commands.deregister(ADMIN, GD_NUMBER, ChangeContext(reason="moved abroad")).subscriber
    assert (s.status, s.alias, s.frozen_at, s.frozen_reason) == ("DEREGISTERED", None, None, None)
    assert s.deregistered_at is not None
    event = last_event(store)
    assert (event.previous_status, event.released_alias) == ("FROZEN", "lily.chen")
    assert event.meta.reason == "moved abroad"
    # the alias is free again
    given(commands, OTHER)
    assert commands.set_alias(ADMIN, OTHER, "lily.chen").subscriber.alias == "lily.chen"


# ---------------------------------------------------------------------- freezing
def test_freeze_records_time_and_reason(world: Any) -> None:
    commands, store = world
    given(commands)
    s = commands.freeze(PRINCIPALS["platform"], GD_NUMBER, "  credential stuffing  ").subscriber
    assert (s.status, s.frozen_reason) == ("FROZEN", "credential stuffing")
    assert s.frozen_at is not None
    event = last_event(store)
    assert type(event).__name__ == "MailboxFrozen"
    assert event.meta.reason == "credential stuffing"  # no context reason: the freeze's


@pytest.mark.parametrize("reason", ["", "   "])
def test_freeze_needs_a_reason(world: Any, reason: str) -> None:
    commands, store = world
    given(commands)
    then_error(store, "REASON_REQUIRED", lambda: commands.freeze(ADMIN, GD_NUMBER, reason))


def test_freeze_reason_has_a_limit(world: Any) -> None:
    commands, store = world
    given(commands)
    then_error(store, "INVALID_REASON", lambda: commands.freeze(ADMIN, GD_NUMBER, "x" * 201))


@pytest.mark.parametrize("who", ["second", "gd.agent", "viewer", "gd.viewer", "auditor"])
def test_only_super_admin_and_integration_may_freeze(world: Any, who: str) -> None:
    commands, store = world
    given(commands)
    with pytest.raises(PermissionDeniedError):
        commands.freeze(PRINCIPALS[who], GD_NUMBER, "phishing")
    assert load(store).status == "ACTIVE"


def test_unfreeze_a_frozen_mailbox(world: Any) -> None:
    commands, store = world
    given(commands)
    frozen = commands.freeze(ADMIN, GD_NUMBER, "phishing").subscriber
    s = commands.unfreeze(PRINCIPALS["gd.agent"], GD_NUMBER).subscriber
    assert (s.status, s.frozen_at, s.frozen_reason) == ("ACTIVE", None, None)
    event = last_event(store)
    assert type(event).__name__ == "MailboxUnfrozen"
    assert (event.previous_frozen_at, event.previous_frozen_reason) == (
        frozen.frozen_at,
        "phishing",
    )


def test_unfreeze_a_mailbox_that_is_not_frozen(world: Any) -> None:
    commands, store = world
    given(commands)
    then_error(store, "NOT_FROZEN", lambda: commands.unfreeze(ADMIN, GD_NUMBER))


# ---------------------------------------------------------------------- no change
NO_CHANGE_ON_A_FRESH_MAILBOX: dict[str, Callable[[SubscriberService], Any]] = {
    "changePlan": lambda c: c.change_plan(ADMIN, GD_NUMBER, "FREE"),
    "setCompanion": lambda c: c.set_companion(ADMIN, GD_NUMBER, False),
    "setBillDelivery": lambda c: c.set_bill_delivery(ADMIN, GD_NUMBER, False),
    "setArrivalNotification": lambda c: c.set_arrival_notification(ADMIN, GD_NUMBER, False),
    "setLoginReminder": lambda c: c.set_login_reminder(ADMIN, GD_NUMBER, False),
    "setAlias": lambda c: c.set_alias(ADMIN, GD_NUMBER, None),
    "setSmsBlacklist": lambda c: c.set_sms_blacklist(ADMIN, GD_NUMBER, Level.NONE),
}


@pytest.mark.parametrize("name", sorted(NO_CHANGE_ON_A_FRESH_MAILBOX))
def test_a_change_to_the_current_value_is_no_change(world: Any, name: str) -> None:
    commands, store = world
    given(commands)
    then_error(store, "NO_CHANGE", lambda: NO_CHANGE_ON_A_FRESH_MAILBOX[name](commands))


@pytest.mark.parametrize("name", sorted(NO_CHANGE_ON_A_FRESH_MAILBOX))
def test_setting_a_new_value_twice_is_no_change_the_second_time(world: Any, name: str) -> None:
    commands, store = world
    given(commands)
    COMMANDS[name](commands)
    then_error(store, "NO_CHANGE", lambda: COMMANDS[name](commands))
