"""Account standing, as given events / when command / then events: stored lock-out events, the
security stamp, the super-admin roster, and persistence round trips."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.unit_of_work import save
from domain.access.account import (
    LastSuperAdminError,
    SuperAdminRoster,
    account_id_for,
)
from domain.access.permissions import Role
from infra.stores import CoreStore
from tests.unit.account_steps import (
    META,
    T0,
    THRESHOLD,
    Step,
    change_password,
    disable,
    end_session,
    fail_at,
    fail_times,
    given,
    new_account,
    reset,
    revoke,
    role_to,
    succeed_at,
)


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
