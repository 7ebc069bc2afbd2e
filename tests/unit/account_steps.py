"""Given / when steps for the Account aggregate's rule tests: a fresh account, and commands
as steps applied to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from domain.access.account import (
    Account,
)
from domain.access.permissions import Role
from domain.shared import Actor, ChangeMeta

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
