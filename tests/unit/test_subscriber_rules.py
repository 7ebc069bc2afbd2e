"""Given events / when a command / then events (or an error code and nothing stored), for every
rule of the subscribers context. Runs the application service on an in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from application.subscribers.commands import ChangeContext, SubscriberService
from domain.shared import DomainError, PermissionDeniedError
from domain.subscribers.alias_claim import alias_claim_id_for
from domain.subscribers.plans import PLANS, plan_for
from domain.subscribers.rules import NotificationMode as Mode
from domain.subscribers.rules import SmsBlacklistLevel as Level
from domain.subscribers.rules import in_window, validate_msisdn
from domain.subscribers.subscriber import Subscriber, subscriber_id_for
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import TicketCategory, TicketPriority
from tests.subscriber_helpers import (
    BJ_NUMBER,
    GD_NUMBER,
    PRINCIPALS,
    MemoryCore,
    memory_commands,
    stored_event_types,
)

ADMIN = PRINCIPALS["admin"]
OTHER = "13700137000"


@pytest.fixture
def world() -> tuple[SubscriberService, MemoryCore]:
    return memory_commands()


def given(commands: SubscriberService, msisdn: str = GD_NUMBER, province: str = "GD") -> None:
    commands.register(ADMIN, msisdn, province, "FREE")


def load(store: MemoryCore, msisdn: str = GD_NUMBER) -> Subscriber:
    subscriber: Subscriber = store.repository.get(subscriber_id_for(msisdn))
    return subscriber


def then_error(
    store: MemoryCore, code: str, when: Callable[[], Any], msisdn: str = GD_NUMBER
) -> DomainError:
    """The command fails with `code` and stores nothing."""
    before = stored_event_types(store, msisdn)
    with pytest.raises(DomainError) as caught:
        when()
    assert caught.value.code == code, caught.value.message
    assert stored_event_types(store, msisdn) == before
    return caught.value


def last_event(store: MemoryCore, msisdn: str = GD_NUMBER) -> Any:
    return list(store.events.get(subscriber_id_for(msisdn)))[-1]


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
    ticket = Ticket.draft(province="GD", content=content, at=datetime.now(UTC), meta=ADMIN.meta())
    store.save(ticket)
    result = commands.register(
        PRINCIPALS["gd.agent"],
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
COMMANDS: dict[str, Callable[[SubscriberService], Any]] = {
    "deregisterMailbox": lambda c: c.deregister(ADMIN, GD_NUMBER),
    "changePlan": lambda c: c.change_plan(ADMIN, GD_NUMBER, "VIP_20"),
    "setCompanion": lambda c: c.set_companion(ADMIN, GD_NUMBER, True),
    "setBillDelivery": lambda c: c.set_bill_delivery(ADMIN, GD_NUMBER, True),
    "setArrivalNotification": lambda c: c.set_arrival_notification(
        ADMIN, GD_NUMBER, True, Mode.SMS, "08:00", "22:00"
    ),
    "setLoginReminder": lambda c: c.set_login_reminder(ADMIN, GD_NUMBER, True),
    "setAlias": lambda c: c.set_alias(ADMIN, GD_NUMBER, "lily.chen"),
    "changePassword": lambda c: c.change_password(ADMIN, GD_NUMBER, "abc12345"),
    "unfreezeMailbox": lambda c: c.unfreeze(ADMIN, GD_NUMBER),
    "freezeMailbox": lambda c: c.freeze(ADMIN, GD_NUMBER, "phishing reported"),
    "setSmsBlacklist": lambda c: c.set_sms_blacklist(ADMIN, GD_NUMBER, Level.NO_MARKETING),
}
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


# ---------------------------------------------------------------------- settings
def test_change_plan_records_before_and_after(world: Any) -> None:
    commands, store = world
    given(commands)
    s = commands.change_plan(PRINCIPALS["second"], GD_NUMBER, "PLUS_5").subscriber
    assert s.plan.monthly_fee_fen == 500
    event = last_event(store)
    assert (type(event).__name__, event.previous_plan_code, event.plan_code) == (
        "PlanChanged",
        "FREE",
        "PLUS_5",
    )


def test_change_to_an_unknown_plan(world: Any) -> None:
    commands, store = world
    given(commands)
    then_error(store, "UNKNOWN_PLAN", lambda: commands.change_plan(ADMIN, GD_NUMBER, "GOLD"))


@pytest.mark.parametrize(
    ("call", "event_type", "before_after"),
    [
        (
            lambda c: c.set_companion(ADMIN, GD_NUMBER, True),
            "CompanionChanged",
            ("previous_enabled", "enabled"),
        ),
        (
            lambda c: c.set_bill_delivery(ADMIN, GD_NUMBER, True),
            "BillDeliveryChanged",
            ("previous_subscribed", "subscribed"),
        ),
        (
            lambda c: c.set_login_reminder(ADMIN, GD_NUMBER, True),
            "LoginReminderChanged",
            ("previous_enabled", "enabled"),
        ),
    ],
)
def test_switches_record_before_and_after(
    world: Any, call: Callable[[SubscriberService], Any], event_type: str, before_after: Any
) -> None:
    commands, store = world
    given(commands)
    call(commands)
    event = last_event(store)
    assert type(event).__name__ == event_type
    assert (getattr(event, before_after[0]), getattr(event, before_after[1])) == (False, True)


def test_sms_blacklist_levels(world: Any) -> None:
    commands, store = world
    given(commands)
    s = commands.set_sms_blacklist(ADMIN, GD_NUMBER, Level.ALL_BLOCKED).subscriber
    assert s.sms_blacklist_level == "ALL_BLOCKED"
    commands.set_sms_blacklist(ADMIN, GD_NUMBER, Level.ESSENTIAL_ONLY)
    event = last_event(store)
    assert (event.previous_level, event.level) == ("ALL_BLOCKED", "ESSENTIAL_ONLY")


# ---------------------------------------------------------------------- arrival notification
def test_arrival_notification_with_a_window_that_wraps_midnight(world: Any) -> None:
    commands, store = world
    given(commands)
    s = commands.set_arrival_notification(
        ADMIN, GD_NUMBER, True, Mode.WAP_PUSH, "22:00", "07:30"
    ).subscriber
    assert (s.arrival_enabled, s.arrival_mode, s.arrival_window_start, s.arrival_window_end) == (
        True,
        "WAP_PUSH",
        "22:00",
        "07:30",
    )
    commands.set_arrival_notification(ADMIN, GD_NUMBER, True, Mode.SMS, None, None)
    event = last_event(store)
    assert (event.previous_mode, event.mode) == ("WAP_PUSH", "SMS")
    assert (event.previous_window_start, event.window_start) == ("22:00", None)


def test_disabling_the_arrival_notification_clears_mode_and_window(world: Any) -> None:
    commands, store = world
    given(commands)
    commands.set_arrival_notification(ADMIN, GD_NUMBER, True, Mode.MMS, "08:00", "18:00")
    s = commands.set_arrival_notification(ADMIN, GD_NUMBER, False, Mode.MMS, "08:00", "18:00")
    sub = s.subscriber
    assert (sub.arrival_enabled, sub.arrival_mode, sub.arrival_window_start) == (False, None, None)
    event = last_event(store)
    assert (event.previous_enabled, event.previous_mode, event.enabled) == (True, "MMS", False)


def test_enabling_the_arrival_notification_needs_a_mode(world: Any) -> None:
    commands, store = world
    given(commands)
    error = then_error(
        store,
        "MODE_REQUIRED",
        lambda: commands.set_arrival_notification(ADMIN, GD_NUMBER, True, None, "08:00", "18:00"),
    )
    assert error.field == ["mode"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("08:00", "08:00"),
        ("08:00", None),
        (None, "18:00"),
        ("24:00", "08:00"),
        ("8:00", "18:00"),
        ("08:60", "09:00"),
        ("0800", "1800"),
    ],
)
def test_arrival_window_rules(world: Any, start: str | None, end: str | None) -> None:
    commands, store = world
    given(commands)
    then_error(
        store,
        "INVALID_WINDOW",
        lambda: commands.set_arrival_notification(ADMIN, GD_NUMBER, True, Mode.SMS, start, end),
    )


# ---------------------------------------------------------------------- alias
@pytest.mark.parametrize(
    "alias",
    [
        "ab",
        "a" * 21,
        "Lily",
        "1lily",
        "12345",
        "_lily",
        "lily chen",
        "lily@139",
        "admin",
        "postmaster",
        "root",
        "lily!",
    ],
)
def test_invalid_aliases(world: Any, alias: str) -> None:
    commands, store = world
    given(commands)
    error = then_error(store, "INVALID_ALIAS", lambda: commands.set_alias(ADMIN, GD_NUMBER, alias))
    assert error.field == ["alias"]


@pytest.mark.parametrize("alias", ["abc", "a" * 20, "lily.chen", "l_1-2.3"])
def test_valid_aliases(world: Any, alias: str) -> None:
    commands, _ = world
    given(commands)
    assert commands.set_alias(ADMIN, GD_NUMBER, alias).subscriber.alias == alias


def test_an_alias_held_by_another_mailbox_is_taken(world: Any) -> None:
    commands, store = world
    given(commands)
    given(commands, OTHER)
    commands.set_alias(ADMIN, OTHER, "lily.chen")
    then_error(store, "ALIAS_TAKEN", lambda: commands.set_alias(ADMIN, GD_NUMBER, "lily.chen"))
    claim = store.repository.get(alias_claim_id_for("lily.chen"))
    assert claim.holder_msisdn == OTHER


def test_changing_and_clearing_an_alias_frees_the_old_one(world: Any) -> None:
    commands, store = world
    given(commands)
    given(commands, OTHER)
    commands.set_alias(ADMIN, GD_NUMBER, "first.name")
    commands.set_alias(ADMIN, GD_NUMBER, "second.name")
    event = last_event(store)
    assert (event.previous_alias, event.alias) == ("first.name", "second.name")
    assert commands.set_alias(ADMIN, OTHER, "first.name").subscriber.alias == "first.name"
    commands.set_alias(ADMIN, GD_NUMBER, None)
    assert commands.set_alias(ADMIN, OTHER, "second.name").subscriber.alias == "second.name"
    claim_types = [type(e).__name__ for e in store.events.get(alias_claim_id_for("first.name"))]
    # claimed by GD_NUMBER, released, re-claimed by OTHER, released when OTHER moved on
    assert claim_types == ["AliasClaimed", "AliasReleased", "AliasReclaimed", "AliasReleased"]


def test_alias_claims_are_saved_with_the_subscriber(world: Any) -> None:
    commands, store = world
    given(commands)
    result = commands.set_alias(ADMIN, GD_NUMBER, "lily.chen")
    claim = store.repository.get(alias_claim_id_for("lily.chen"))
    assert claim.holder_id == str(result.subscriber.id)
    assert claim.holder_msisdn == GD_NUMBER


# ---------------------------------------------------------------------- password
@pytest.mark.parametrize(
    "password",
    [
        "ab123",
        "abcdefgh12345678x",
        "abc 1234",
        "abc-1234",
        "12345678",
        "abcdefgh",
        f"a{GD_NUMBER}",
        "密码abc123",
    ],
)
def test_password_rules(world: Any, password: str) -> None:
    commands, store = world
    given(commands)
    error = then_error(
        store, "INVALID_PASSWORD", lambda: commands.change_password(ADMIN, GD_NUMBER, password)
    )
    assert error.field == ["newPassword"]


def test_only_a_hash_of_the_password_is_stored(world: Any) -> None:
    commands, store = world
    given(commands)
    s = commands.change_password(ADMIN, GD_NUMBER, "Secret2026").subscriber
    assert s.password_changed_at is not None
    event = last_event(store)
    assert type(event).__name__ == "PasswordChanged"
    assert event.password_hash.startswith("$fake$")
    assert "Secret2026" not in repr(vars(event))
    assert commands.hasher.verify(s.password_hash, "Secret2026")


# ---------------------------------------------------------------------- versions and context
def test_a_stale_expected_version_is_a_conflict_and_stores_nothing(world: Any) -> None:
    commands, store = world
    given(commands)
    commands.set_companion(ADMIN, GD_NUMBER, True)
    error = then_error(
        store,
        "VERSION_CONFLICT",
        lambda: commands.set_login_reminder(
            ADMIN, GD_NUMBER, True, ChangeContext(expected_version=1)
        ),
    )
    assert error.field == ["expectedVersion"]
    result = commands.set_login_reminder(ADMIN, GD_NUMBER, True, ChangeContext(expected_version=2))
    assert result.subscriber.version == 3


def test_an_expected_version_on_a_new_registration_must_be_zero(world: Any) -> None:
    commands, store = world
    then_error(
        store,
        "VERSION_CONFLICT",
        lambda: commands.register(
            ADMIN, GD_NUMBER, "GD", "FREE", ChangeContext(expected_version=3)
        ),
    )
    assert (
        commands.register(
            ADMIN, GD_NUMBER, "GD", "FREE", ChangeContext(expected_version=0)
        ).subscriber.version
        == 1
    )


def test_reason_and_ticket_limits(world: Any) -> None:
    commands, store = world
    given(commands)
    then_error(
        store,
        "INVALID_REASON",
        lambda: commands.set_companion(ADMIN, GD_NUMBER, True, ChangeContext(reason="x" * 501)),
    )
    then_error(
        store,
        "INVALID_TICKET_ID",
        lambda: commands.set_companion(ADMIN, GD_NUMBER, True, ChangeContext(ticket_id="x" * 65)),
    )


# ---------------------------------------------------------------------- who may
@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("who", ["viewer", "gd.viewer", "auditor", "bj.agent"])
def test_roles_without_the_grant_or_province_are_forbidden(world: Any, name: str, who: str) -> None:
    commands, store = world
    given(commands)
    call = COMMANDS[name]
    as_who = _as(commands, who)
    before = stored_event_types(store, GD_NUMBER)
    with pytest.raises(PermissionDeniedError):
        call(as_who)
    assert stored_event_types(store, GD_NUMBER) == before


def _as(commands: SubscriberService, who: str) -> SubscriberService:
    """The same commands, with ADMIN replaced by `who` (the lambdas above use ADMIN)."""
    proxy = PRINCIPALS[who]

    class As:
        def __getattr__(self, name: str) -> Any:
            method = getattr(commands, name)
            return lambda _principal, *args, **kwargs: method(proxy, *args, **kwargs)

    return As()  # type: ignore[return-value]


@pytest.mark.parametrize("who", ["admin", "second", "gd.agent", "platform"])
def test_proxy_settings_by_every_role_that_has_the_grant(world: Any, who: str) -> None:
    commands, _ = world
    given(commands)
    result = _as(commands, who).set_companion(ADMIN, GD_NUMBER, True)
    assert result.subscriber.companion_enabled
