"""A Hypothesis state machine over the AccessService on an in-memory event store.

It drives random sequences of account commands, predicts each outcome from a plain model,
and checks after every step that replaying each account from its events gives the live
state (snapshots included), that the roster matches the enabled SUPER_ADMINs, and that
there is always at least one of them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from application.access.service import (
    AccessService,
    InvalidCredentialsError,
    UnauthenticatedError,
    principal_of,
)
from application.access.throttle import LoginThrottle
from application.authz import Principal
from application.ports import TokenClaims
from domain.access.account import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ROSTER_ID,
    USERNAME_RE,
    Account,
    account_id_for,
)
from domain.access.permissions import Role
from domain.access.provinces import is_province
from domain.shared import DomainError
from infra.stores import CoreStore

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


# ---------------------------------------------------------------- fakes
class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


class FakeHasher:
    def hash(self, password: str) -> str:
        return "fake$" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "fake$" + password


class FakeTokens:
    def issue(self, account_id: UUID, security_stamp: int) -> tuple[str, datetime]:
        return f"{account_id}|{security_stamp}|{uuid4().hex}", T0 + timedelta(days=1)

    def decode(self, token: str) -> TokenClaims | None:
        try:
            account_id, stamp, sid = token.split("|")
            return TokenClaims(UUID(account_id), int(stamp), T0 + timedelta(days=1), sid)
        except ValueError:
            return None


class NoThrottle(LoginThrottle):
    """The throttle has its own tests; here every attempt gets through."""

    def check_address(self, address: str | None) -> None:
        pass

    def admit(self, username: str, address: str | None) -> None:
        pass

    def failed(self, address: str | None) -> None:
        pass


class NoAccountsList:
    def list(
        self, role: str | None, province: str | None, after_username: str | None, limit: int
    ) -> tuple[list[Any], int]:
        return [], 0

    async def wait(self, projections: Any, position: int) -> None:
        return None  # no read model behind it, so nothing to wait for


class SnappyStore(CoreStore):
    """The core store, snapshotting often so replays meet restored snapshots."""

    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Account: 3}


# ---------------------------------------------------------------- the model
@dataclass
class Expected:
    role: Role
    province: str | None
    password: str
    enabled: bool = True
    stamp: int = 0


OPERATOR = Principal(account_id=uuid4(), username="operator", role=Role.SUPER_ADMIN, province=None)

USERNAMES = st.sampled_from(["root", "ann", "bob", "longname01", "cy", "Bad Name"])
ROLES = st.sampled_from(list(Role))
PROVINCES = st.sampled_from([None, "GD", "BJ", "XX"])
PASSWORDS = st.sampled_from(["pass-word-1", "pass-word-2", "short", "longname01"])


def password_problem(password: str, username: str) -> str | None:
    too_short = len(password) < MIN_PASSWORD_LENGTH
    too_long = len(password) > MAX_PASSWORD_LENGTH
    if too_short or too_long or password.strip().lower() == username.lower():
        return "WEAK_PASSWORD"
    return None


def role_problem(role: Role, province: str | None) -> str | None:
    if province is not None and not is_province(province):
        return "UNKNOWN_PROVINCE"
    if role is Role.PROVINCE_AGENT and province is None:
        return "PROVINCE_REQUIRED"
    return None


def typed_state(aggregate: Any) -> dict[str, tuple[type, Any]]:
    """An aggregate's attributes with their types (a str is not a Role)."""
    return {k: (type(v), v) for k, v in vars(aggregate).items() if k not in {"_pending_events"}}


class AccessMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = SnappyStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.clock = FakeClock(T0)
        self.service = AccessService(
            store=self.store,
            hasher=FakeHasher(),
            tokens=FakeTokens(),
            clock=self.clock,
            accounts=NoAccountsList(),
            waiter=NoAccountsList(),
            throttle=NoThrottle(),
        )
        self.model: dict[str, Expected] = {}
        self.tokens: list[tuple[str, str, int]] = []  # username, token, stamp when issued
        self.logged_out: set[str] = set()  # tokens whose session ended

    # ------------------------------------------------------------ helpers
    def expect(self, code: str | None, command: Any) -> Any:
        """Run `command`; it must fail with `code`, or succeed when `code` is None."""
        if code is None:
            return command()
        try:
            command()
        except DomainError as exc:
            assert exc.code == code, f"expected {code}, got {exc.code}: {exc.message}"
        else:
            raise AssertionError(f"expected {code}, but the command succeeded")
        return None

    def enabled_admins(self) -> list[str]:
        return [u for u, m in self.model.items() if m.enabled and m.role is Role.SUPER_ADMIN]

    def removes_last_admin(self, username: str, still_admin: bool) -> bool:
        m = self.model[username]
        was_admin = m.enabled and m.role is Role.SUPER_ADMIN
        return was_admin and not still_admin and self.enabled_admins() == [username]

    def load(self, username: str) -> Account:
        account: Account = self.store.repository.get(account_id_for(username))
        return account

    # ------------------------------------------------------------ rules
    @initialize()
    def first_admin(self) -> None:
        self.service.create_account(
            None,
            username="root",
            display_name="Root",
            role=Role.SUPER_ADMIN,
            province=None,
            initial_password="root-password",
        )
        self.model["root"] = Expected(Role.SUPER_ADMIN, None, "root-password")

    @rule(username=USERNAMES, role=ROLES, province=PROVINCES, password=PASSWORDS)
    def create_account(
        self, username: str, role: Role, province: str | None, password: str
    ) -> None:
        code = None
        if not USERNAME_RE.fullmatch(username):
            code = "INVALID_USERNAME"
        else:
            code = (
                password_problem(password, username)
                or ("USERNAME_TAKEN" if username in self.model else None)
                or role_problem(role, province)
            )
        self.expect(
            code,
            lambda: self.service.create_account(
                OPERATOR,
                username=username,
                display_name=username,
                role=role,
                province=province,
                initial_password=password,
            ),
        )
        if code is None:
            self.model[username] = Expected(role, province, password)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), role=ROLES, province=PROVINCES, guard=st.sampled_from([None, 0, -1]))
    def change_role(
        self, data: st.DataObject, role: Role, province: str | None, guard: int | None
    ) -> None:
        username = data.draw(st.sampled_from(sorted(self.model)))
        m = self.model[username]
        expected_version = None if guard is None else self.load(username).version + guard
        code = (
            ("VERSION_CONFLICT" if guard == -1 else None)
            or role_problem(role, province)
            or ("NO_CHANGE" if (role, province) == (m.role, m.province) else None)
            or (
                "LAST_SUPER_ADMIN"
                if self.removes_last_admin(username, role is Role.SUPER_ADMIN)
                else None
            )
        )
        self.expect(
            code,
            lambda: self.service.change_role(
                OPERATOR, account_id_for(username), role, province, expected_version
            ),
        )
        if code is None:
            m.role, m.province, m.stamp = role, province, m.stamp + 1

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def disable(self, data: st.DataObject) -> None:
        username = data.draw(st.sampled_from(sorted(self.model)))
        m = self.model[username]
        code = ("NO_CHANGE" if not m.enabled else None) or (
            "LAST_SUPER_ADMIN" if self.removes_last_admin(username, False) else None
        )
        self.expect(code, lambda: self.service.disable(OPERATOR, account_id_for(username), "test"))
        if code is None:
            m.enabled, m.stamp = False, m.stamp + 1

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def enable(self, data: st.DataObject) -> None:
        username = data.draw(st.sampled_from(sorted(self.model)))
        m = self.model[username]
        code = "NO_CHANGE" if m.enabled else None
        self.expect(code, lambda: self.service.enable(OPERATOR, account_id_for(username)))
        if code is None:
            m.enabled = True

    @precondition(lambda self: self.model)
    @rule(data=st.data(), password=PASSWORDS)
    def reset_password(self, data: st.DataObject, password: str) -> None:
        username = data.draw(st.sampled_from(sorted(self.model)))
        m = self.model[username]
        code = password_problem(password, username)
        self.expect(
            code,
            lambda: self.service.reset_password(OPERATOR, account_id_for(username), password),
        )
        if code is None:
            m.password, m.stamp = password, m.stamp + 1

    @rule(username=USERNAMES, right=st.booleans(), password=PASSWORDS)
    def login(self, username: str, right: bool, password: str) -> None:
        m = self.model.get(username)
        attempt = m.password if (m is not None and right) else password
        ok = m is not None and m.enabled and attempt == m.password
        if not ok:
            try:
                self.service.login(username, attempt)
            except InvalidCredentialsError as exc:
                # Every failure looks the same: no hint whether the username exists.
                assert exc.message == "invalid username or password"
                assert exc.field is None
            else:
                raise AssertionError("login should have failed")
            return
        assert m is not None
        session = self.service.login(username, attempt)
        assert session.account.username == username
        self.tokens.append((username, session.token, m.stamp))

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def logout(self, data: st.DataObject) -> None:
        _, token, _ = data.draw(st.sampled_from(self.tokens))
        try:
            principal = self.service.authenticate(token)
        except UnauthenticatedError:
            return  # only a valid session can log out (checked by `authenticate`)
        assert self.service.logout(principal) is True
        self.logged_out.add(token)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def revoke_sessions(self, data: st.DataObject) -> None:
        username = data.draw(st.sampled_from(sorted(self.model)))
        self.service.revoke_sessions(OPERATOR, account_id_for(username))
        self.model[username].stamp += 1

    @precondition(lambda self: self.model)
    @rule(data=st.data(), right=st.booleans(), new=PASSWORDS)
    def change_my_password(self, data: st.DataObject, right: bool, new: str) -> None:
        username = data.draw(st.sampled_from(sorted(self.model)))
        m = self.model[username]
        current = m.password if right else "not-the-password"
        code = (
            ("INVALID_CREDENTIALS" if not right else None)
            or password_problem(new, username)
            or ("WEAK_PASSWORD" if new == current else None)
        )
        principal = principal_of(self.load(username))
        self.expect(code, lambda: self.service.change_my_password(principal, current, new))
        if code is None:
            m.password, m.stamp = new, m.stamp + 1

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def authenticate(self, data: st.DataObject) -> None:
        username, token, stamp = data.draw(st.sampled_from(self.tokens))
        m = self.model[username]
        valid = m.enabled and m.stamp == stamp and token not in self.logged_out
        try:
            principal = self.service.authenticate(token)
        except UnauthenticatedError:
            assert not valid, "a valid token was refused"
            return
        assert valid, "a revoked token was accepted"
        assert (principal.username, principal.role, principal.province) == (
            username,
            m.role,
            m.province,
        )

    @rule(minutes=st.sampled_from([1, 5, 16]))
    def time_passes(self, minutes: int) -> None:
        self.clock.current += timedelta(minutes=minutes)

    # ------------------------------------------------------------ invariants
    @invariant()
    def replay_equals_live_state(self) -> None:
        for username in self.model:
            account_id = account_id_for(username)
            live = self.store.repository.get(account_id)  # may start from a snapshot
            replayed = functools.reduce(
                lambda aggregate, e: e.mutate(aggregate), self.store.events.get(account_id), None
            )
            assert typed_state(replayed) == typed_state(live)

    @invariant()
    def model_matches_accounts(self) -> None:
        for username, m in self.model.items():
            a = self.load(username)
            assert a.role is m.role
            assert (a.province, a.enabled, a.security_stamp) == (m.province, m.enabled, m.stamp)
            assert a.password_hash == "fake$" + m.password

    @invariant()
    def there_is_always_an_enabled_super_admin(self) -> None:
        admins = {
            str(account_id_for(u))
            for u in self.model
            if (a := self.load(u)).enabled and a.role is Role.SUPER_ADMIN
        }
        assert admins, "the last enabled SUPER_ADMIN was lost"
        roster = self.store.repository.get(ROSTER_ID)
        assert set(roster.members) == admins
        assert len(roster.members) == len(set(roster.members))


AccessMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30)
TestAccessMachine = AccessMachine.TestCase
