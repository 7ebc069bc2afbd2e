"""Account and SuperAdminRoster rules, as given events / when command / then events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.unit_of_work import save
from domain.access.account import (
    Account,
    LastSuperAdminError,
    SuperAdminRoster,
    account_id_for,
    validate_password,
    validate_username,
)
from domain.access.permissions import Role
from domain.shared import Actor, ChangeMeta, DomainError, NoChangeError, ValidationError
from infra.stores import CoreStore

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
META = ChangeMeta(Actor(account_id="", username="test", role="", province=None))
THRESHOLD = 5  # the old lock-out's: its fifth LoginFailed carried a locked_until
LOCKOUT = timedelta(minutes=15)
TTL = timedelta(hours=8)

Step = Callable[[Account], None]


def new_account(
    username: str = "alice", role: Role = Role.VIEWER, province: str | None = None
) -> Account:
    return Account.register(
        username=username,
        display_name="Alice",
        role=role,
        province=province,
        password_hash="hash-0",
        meta=META,
    )


def given(*steps: Step, role: Role = Role.VIEWER, province: str | None = None) -> Account:
    """An account that has been through `steps`, with its history already saved."""
    account = new_account(role=role, province=province)
    for step in steps:
        step(account)
    account.collect_events()
    return account


def then_events(account: Account) -> list[str]:
    return [type(e).__name__ for e in account.collect_events()]


# ---------------------------------------------------------------- steps (given / when)
def fail_at(at: datetime, failures: int = 1) -> Step:
    """A LoginFailed as the lock-out stored them: such events must still decode and apply."""
    locked_until = at + LOCKOUT if failures >= THRESHOLD else None
    return lambda a: a._login_failed(at=at, failures=failures, locked_until=locked_until, meta=META)


def fail_times(n: int, at: datetime = T0) -> list[Step]:
    return [fail_at(at + timedelta(seconds=i), i + 1) for i in range(n)]


def end_session(session_id: str, at: datetime = T0) -> Step:
    return lambda a: a.end_session(session_id, at + TTL, at, META)


def revoke(a: Account) -> None:
    a.revoke_sessions(META)


def succeed_at(at: datetime) -> Step:
    return lambda a: a.login_succeeded(at=at, channel="PASSWORD", meta=META)


def disable(a: Account) -> None:
    a.disable("left the company", META)


def enable(a: Account) -> None:
    a.enable(META)


def reset(a: Account) -> None:
    a.reset_password("hash-reset", META)


def change_password(a: Account) -> None:
    a.change_password("hash-new", META)


def role_to(role: Role, province: str | None = None) -> Step:
    return lambda a: a.change_role(role, province, META)


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


@pytest.mark.parametrize("display_name", ["", "   ", "x" * 65, "bad\x07bell"])
def test_display_name_must_be_printable_and_short(display_name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Account.register(
            username="alice",
            display_name=display_name,
            role=Role.VIEWER,
            province=None,
            password_hash="h",
            meta=META,
        )
    assert caught.value.code == "INVALID_DISPLAY_NAME"


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


# ---------------------------------------------------------------- the old lock-out's events
def test_stored_lock_out_events_replay_to_an_account_that_is_not_locked() -> None:
    store = CoreStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    account = new_account()
    for step in fail_times(THRESHOLD + 2):
        step(account)
    save(store, account)
    replayed = store.repository.get(account.id)
    assert replayed.version == 1 + THRESHOLD + 2
    assert replayed.enabled and replayed.security_stamp == 0
    assert not {"failed_logins", "locked_until"} & set(vars(replayed))


# ---------------------------------------------------------------- security stamp
@pytest.mark.parametrize(
    ("command", "bumps"),
    [
        (role_to(Role.AUDITOR), True),
        (disable, True),
        (change_password, True),
        (reset, True),
        (succeed_at(T0), False),
        (fail_at(T0, THRESHOLD), False),
        (end_session("s1"), False),
        (revoke, True),
    ],
    ids=[
        "role",
        "disable",
        "change password",
        "reset",
        "login ok",
        "stored login failed",
        "logout",
        "revoke sessions",
    ],
)
def test_security_stamp_voids_tokens_when_credentials_or_standing_change(
    command: Step, bumps: bool
) -> None:
    account = given()
    command(account)
    assert account.security_stamp == (1 if bumps else 0)


def test_enabling_keeps_the_stamp_that_disabling_bumped() -> None:
    account = given(disable)
    account.enable(META)
    assert account.security_stamp == 1  # tokens from before the disable stay void


# ---------------------------------------------------------------- super-admin roster
def test_roster_refuses_to_lose_its_last_member() -> None:
    roster = SuperAdminRoster()
    first, second = account_id_for("root"), account_id_for("deputy")
    roster.add(first)
    roster.add(second)
    roster.remove(first)
    with pytest.raises(LastSuperAdminError) as caught:
        roster.remove(second)
    assert caught.value.code == "LAST_SUPER_ADMIN"
    assert roster.members == [str(second)]


def test_roster_add_and_remove_are_idempotent() -> None:
    roster = SuperAdminRoster()
    roster.collect_events()
    member, stranger = account_id_for("root"), account_id_for("nobody")
    roster.add(member)
    roster.add(member)
    roster.remove(stranger)  # not a member: nothing to do, even when the roster has one
    assert [type(e).__name__ for e in roster.collect_events()] == ["SuperAdminAdded"]
    assert roster.members == [str(member)]


def test_roster_has_a_fixed_id() -> None:
    assert SuperAdminRoster().id == SuperAdminRoster.create_id()


# ---------------------------------------------------------------- persistence round trips
def test_replayed_account_equals_the_live_one() -> None:
    store = CoreStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    account = new_account(role=Role.PROVINCE_AGENT, province="GD")
    steps = [*fail_times(THRESHOLD), reset, succeed_at(T0), end_session("s1"), revoke]
    for step in [*steps, role_to(Role.VIEWER), disable]:
        step(account)
    save(store, account)
    copy = store.repository.get(account.id)
    assert vars(copy) == vars(account)


def test_account_restored_from_a_snapshot_keeps_its_role_type() -> None:
    """Regression: the JSON snapshot turned the Role enum into a bare str, after which
    `role is Role.SUPER_ADMIN` was False and `role.value` raised (snapshot every 50 events)."""
    store = CoreStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    account = new_account("root", role=Role.SUPER_ADMIN)
    save(store, account)
    for i in range(60):
        account.login_succeeded(at=T0 + timedelta(minutes=i), channel="PASSWORD", meta=META)
        save(store, account)
    assert store.snapshots is not None
    assert list(store.snapshots.get(account.id)), "no snapshot was taken"
    restored = store.repository.get(account.id)
    assert restored.role is Role.SUPER_ADMIN
    assert restored.role.value == "SUPER_ADMIN"
    assert restored.last_login_at == T0 + timedelta(minutes=59)
    assert {k: type(v) for k, v in vars(restored).items()} == {
        k: type(v) for k, v in vars(account).items()
    }
