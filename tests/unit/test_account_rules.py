"""Account rules, as given events / when command / then events: formats and commands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from domain.access.account import (
    Account,
    account_id_for,
    validate_password,
    validate_username,
)
from domain.access.permissions import Role
from domain.shared import DomainError, NoChangeError, ValidationError
from tests.unit.account_steps import (
    META,
    T0,
    THRESHOLD,
    TTL,
    Step,
    change_password,
    disable,
    enable,
    end_session,
    fail_at,
    fail_times,
    given,
    new_account,
    revoke,
    role_to,
    succeed_at,
    then_events,
)


# ---------------------------------------------------------------- format rules
@pytest.mark.parametrize(
    "username",
    ["abc", "a.b-c_d", "x" * 32, "agent.gd01", "0-0"],
)
def test_valid_usernames_are_accepted(username: str) -> None:
    validate_username(username)
    assert new_account(username).username == username


@pytest.mark.parametrize(
    "username",
    ["ab", "x" * 33, "Alice", "has space", "ümlaut", "semi;colon", "", "abc\n", "管理员"],
)
def test_malformed_usernames_are_refused(username: str) -> None:
    with pytest.raises(ValidationError) as caught:
        new_account(username)
    assert caught.value.code == "INVALID_USERNAME"
    assert caught.value.field == ["username"]


@pytest.mark.parametrize(
    ("password", "username", "ok"),
    [
        ("0123456789", "alice", True),  # exactly ten characters
        ("012345678", "alice", False),  # nine
        ("", "alice", False),
        ("x" * 128, "alice", True),
        ("x" * 129, "alice", False),  # absurdly long: refused before hashing
        ("longusername", "longusername", False),  # the username itself
        ("LongUserName", "longusername", False),  # ... in any case
        (" longusername ", "longusername", False),  # ... padded
        ("longusername1", "longusername", True),
        ("密码密码密码密码密码", "alice", True),  # ten characters, not ten bytes
    ],
)
def test_password_policy(password: str, username: str, ok: bool) -> None:
    if ok:
        validate_password(password, username)
        return
    with pytest.raises(ValidationError) as caught:
        validate_password(password, username, field="initialPassword")
    assert caught.value.code == "WEAK_PASSWORD"
    assert caught.value.field == ["initialPassword"]


@pytest.mark.parametrize(
    ("role", "province", "code"),
    [
        (Role.PROVINCE_AGENT, None, "PROVINCE_REQUIRED"),
        (Role.PROVINCE_AGENT, "XX", "UNKNOWN_PROVINCE"),
        (Role.PROVINCE_AGENT, "CN-GD", "UNKNOWN_PROVINCE"),
        (Role.PROVINCE_AGENT, "gd", "UNKNOWN_PROVINCE"),
        (Role.VIEWER, "TW", "UNKNOWN_PROVINCE"),  # not one of the 31 mainland divisions
        (Role.SUPER_ADMIN, "HK", "UNKNOWN_PROVINCE"),
        (Role.PROVINCE_AGENT, "GD", None),
        (Role.VIEWER, "BJ", None),
        (Role.VIEWER, None, None),
        (Role.AUDITOR, None, None),
    ],
)
def test_role_and_province_rules_on_creation(
    role: Role, province: str | None, code: str | None
) -> None:
    if code is None:
        account = new_account(role=role, province=province)
        assert (account.role, account.province) == (role, province)
        assert then_events(account) == ["AccountCreated"]
        return
    with pytest.raises(ValidationError) as caught:
        new_account(role=role, province=province)
    assert caught.value.code == code
    assert caught.value.field == ["province"]


@pytest.mark.parametrize(
    "display_name",
    ["", "   ", "x" * 65, "bad\x07bell", "two\nlines", "gpj.\u202eexe", "x\ud800", "\x85"],
)
def test_display_name_must_be_one_printable_line_and_short(display_name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Account.register(
            username="alice",
            display_name=display_name,
            role=Role.VIEWER,
            province=None,
            password_hash="h",
            meta=META,
        )
    assert (caught.value.code, caught.value.field) == ("INVALID_DISPLAY_NAME", ["displayName"])


def test_a_disable_reason_follows_the_text_rule() -> None:
    account = new_account()
    with pytest.raises(ValidationError) as caught:
        account.disable("left\x00", META)
    assert (caught.value.code, caught.value.field) == ("INVALID_REASON", ["reason"])
    assert account.enabled
    account.disable("  e\u0301 left  ", META)
    assert account.disabled_reason == "\u00e9 left"


def test_account_id_is_the_uuid5_of_the_username() -> None:
    assert new_account("alice").id == account_id_for("alice")
    assert account_id_for("alice") != account_id_for("bob")
    assert Account.create_id("alice") == account_id_for("alice")


def test_created_account_is_enabled_with_a_fresh_stamp_and_no_ended_session() -> None:
    account = new_account()
    assert account.enabled
    assert account.ended_sessions == {}
    assert not account.has_ended("any")
    assert account.security_stamp == 0
    assert account.last_login_at is None
    assert account.password_hash == "hash-0"


# ---------------------------------------------------------------- commands: then events
@dataclass
class Case:
    """Given these steps, when this command, then these events (or this error)."""

    id: str
    when: Step
    then: list[str] = field(default_factory=list)
    given: list[Step] = field(default_factory=list)
    error: str | None = None
    role: Role = Role.VIEWER
    province: str | None = None
    check: Callable[[Account], Any] | None = None


CASES = [
    Case(
        "change role",
        when=role_to(Role.PROVINCE_AGENT, "GD"),
        then=["RoleChanged"],
        check=lambda a: (a.role, a.province) == (Role.PROVINCE_AGENT, "GD"),
    ),
    Case(
        "change only the province",
        role=Role.PROVINCE_AGENT,
        province="GD",
        when=role_to(Role.PROVINCE_AGENT, "BJ"),
        then=["RoleChanged"],
        check=lambda a: a.province == "BJ",
    ),
    Case(
        "same role and province is no change",
        role=Role.PROVINCE_AGENT,
        province="GD",
        when=role_to(Role.PROVINCE_AGENT, "GD"),
        error="NO_CHANGE",
    ),
    Case(
        "province agent needs a province",
        when=role_to(Role.PROVINCE_AGENT),
        error="PROVINCE_REQUIRED",
    ),
    Case("unknown province", when=role_to(Role.VIEWER, "ZZ"), error="UNKNOWN_PROVINCE"),
    Case(
        "dropping the province of a viewer is a change",
        province="GD",
        when=role_to(Role.VIEWER, None),
        then=["RoleChanged"],
        check=lambda a: a.province is None,
    ),
    Case(
        "disable",
        when=disable,
        then=["AccountDisabled"],
        check=lambda a: not a.enabled and a.disabled_reason == "left the company",
    ),
    Case("disable twice is no change", given=[disable], when=disable, error="NO_CHANGE"),
    Case("enable an enabled account is no change", when=enable, error="NO_CHANGE"),
    Case(
        "enable clears the reason",
        given=[*fail_times(THRESHOLD), disable],
        when=enable,
        then=["AccountEnabled"],
        check=lambda a: a.enabled and a.disabled_reason is None,
    ),
    Case(
        "change password",
        when=change_password,
        then=["PasswordChanged"],
        check=lambda a: a.password_hash == "hash-new",
    ),
    Case(
        "login success records the time",
        when=succeed_at(T0),
        then=["LoginSucceeded"],
        check=lambda a: a.last_login_at == T0,
    ),
    Case(
        "a stored lock-out event changes nothing any more",
        given=fail_times(THRESHOLD - 1),
        when=fail_at(T0 + timedelta(minutes=1), THRESHOLD),
        then=["LoginFailed"],
        check=lambda a: a.enabled and not hasattr(a, "locked_until"),
    ),
    Case(
        "logout ends that one session",
        given=[end_session("older")],
        when=end_session("s1"),
        then=["SessionEnded"],
        check=lambda a: a.has_ended("s1") and a.has_ended("older") and not a.has_ended("s2"),
    ),
    Case(
        "ending an ended session is no change",
        given=[end_session("s1")],
        when=end_session("s1"),
        error="NO_CHANGE",
    ),
    Case(
        "sessions past their expiry are forgotten",
        given=[end_session("old", T0 - TTL - timedelta(seconds=1))],
        when=end_session("s1"),
        then=["SessionEnded"],
        check=lambda a: a.ended_sessions == {"s1": int((T0 + TTL).timestamp())},
    ),
    Case(
        "revoking sessions voids every token",
        given=[end_session("s1")],
        when=revoke,
        then=["SessionsRevoked"],
        check=lambda a: a.security_stamp == 1 and a.ended_sessions == {},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_account_commands(case: Case) -> None:
    account = given(*case.given, role=case.role, province=case.province)
    before = account.version
    if case.error is not None:
        with pytest.raises(DomainError) as caught:
            case.when(account)
        assert caught.value.code == case.error
        assert then_events(account) == []
        assert account.version == before
        return
    case.when(account)
    assert then_events(account) == case.then
    if case.check is not None:
        assert case.check(account), vars(account)


def test_no_change_errors_are_typed() -> None:
    with pytest.raises(NoChangeError):
        given(disable).disable(None, META)
