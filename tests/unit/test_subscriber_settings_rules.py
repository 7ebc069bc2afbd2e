"""Given events / when a command / then events (or an error code and nothing stored): the
subscribers context's settings, arrival notification, alias, password, version and role rules,
on an in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from application.subscribers.commands import ChangeContext, SubscriberService
from domain.shared import PermissionDeniedError
from domain.subscribers.alias_claim import alias_claim_id_for
from domain.subscribers.rules import NotificationMode as Mode
from domain.subscribers.rules import SmsBlacklistLevel as Level
from tests.subscriber_helpers import (
    ADMIN,
    COMMANDS,
    GD_NUMBER,
    OTHER,
    PRINCIPALS,
    MemoryCore,
    given,
    last_event,
    memory_commands,
    stored_event_types,
    then_error,
)


@pytest.fixture
def world() -> tuple[SubscriberService, MemoryCore]:
    return memory_commands()


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
