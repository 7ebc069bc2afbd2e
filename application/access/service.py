"""Access use cases: accounts, logins, sessions, single sign-on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application

from application.access.throttle import LoginThrottle
from application.authz import Principal
from application.consistency import wait_until_applied
from application.ports import (
    Clock,
    JtiRegistry,
    PasswordHasher,
    ReadModelWaiter,
    SsoVerifier,
    TokenService,
)
from application.unit_of_work import get_or_none, get_or_raise, run_command, save
from domain.access.account import (
    ROSTER_ID,
    USERNAME_RE,
    Account,
    SuperAdminRoster,
    account_id_for,
    validate_password,
    validate_username,
)
from domain.access.permissions import Permission, Role
from domain.shared import SYSTEM_ACTOR, ChangeMeta, DomainError, ValidationError

ACCOUNTS_PROJECTION = "accounts"


class InvalidCredentialsError(DomainError):
    code = "INVALID_CREDENTIALS"


class UsernameTakenError(DomainError):
    code = "USERNAME_TAKEN"


class UnauthenticatedError(Exception):
    """No valid session: missing, expired or revoked token, or a disabled account."""


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: datetime
    account: Account


@dataclass(frozen=True)
class AccountResult:
    account: Account
    position: int


class AccountsReadModel(Protocol):
    def list(
        self, role: str | None, province: str | None, after_username: str | None, limit: int
    ) -> tuple[list[Any], int]: ...


class AccessService:
    """Commands and queries of the access context."""

    def __init__(
        self,
        store: Application[UUID],
        hasher: PasswordHasher,
        tokens: TokenService,
        clock: Clock,
        accounts: AccountsReadModel,
        waiter: ReadModelWaiter,
        throttle: LoginThrottle | None = None,
        sso: SsoVerifier | None = None,
        jtis: JtiRegistry | None = None,
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.tokens = tokens
        self.clock = clock
        self.accounts = accounts
        self.waiter = waiter
        self.throttle = throttle or LoginThrottle()
        self.sso = sso
        self.jtis = jtis
        # Verifying against this keeps unknown usernames as slow as wrong passwords.
        self._dummy_hash = hasher.hash("not-a-real-password-for-timing")

    # ------------------------------------------------------------------ sessions
    def login(
        self,
        username: str,
        password: str,
        correlation_id: str | None = None,
        address: str | None = None,
    ) -> Session:
        """Exchange credentials for a session. Every failure looks the same to the caller, and
        slows down the next attempts from the caller's address (RateLimitedError), without
        ever holding up the account's owner elsewhere."""
        self.throttle.admit(username, address)
        account = self._account_named(username)
        if account is None:
            self.hasher.verify(self._dummy_hash, password)
            self.throttle.failed(address)
            raise InvalidCredentialsError("invalid username or password")
        ok = self.hasher.verify(account.password_hash, password)
        if not ok or not account.enabled:
            self.throttle.failed(address)
            raise InvalidCredentialsError("invalid username or password")
        self.throttle.succeeded(username, address)
        meta = self._self_meta(account, correlation_id)
        return self._open_session(account.id, self.clock.now(), "PASSWORD", meta)

    def _account_named(self, username: str) -> Account | None:
        if not USERNAME_RE.fullmatch(username):
            return None  # no such account can exist: not worth a read
        return get_or_none(self.store, account_id_for(username), Account)

    def _open_session(
        self, account_id: UUID, now: datetime, channel: str, meta: ChangeMeta
    ) -> Session:
        def act(account: Account) -> Account:
            account.login_succeeded(at=now, channel=channel, meta=meta)
            save(self.store, account)
            return account

        account = run_command(lambda: self._account(account_id), act)
        token, expires_at = self.tokens.issue(account.id, account.security_stamp)
        return Session(token=token, expires_at=expires_at, account=account)

    def sso_login(
        self, ticket: str, correlation_id: str | None = None, address: str | None = None
    ) -> Session:
        """Exchange a portal-signed SSO ticket for a session (no auto-provisioning), throttled
        like a password login."""
        if self.sso is None or self.jtis is None:
            raise InvalidCredentialsError("single sign-on is not configured")
        self.throttle.check_address(address)
        try:
            claims = self.sso.verify(ticket)
        except ValueError as exc:
            self.throttle.failed(address)
            raise InvalidCredentialsError(f"SSO ticket refused: {exc}") from None
        self.throttle.admit(claims.username, address)
        if not self.jtis.claim(claims.jti, claims.expires_at):
            self.throttle.failed(address)
            raise InvalidCredentialsError("SSO ticket refused: already used")
        account = self._account_named(claims.username)
        if account is None or not account.enabled:
            self.throttle.failed(address)
            raise InvalidCredentialsError("SSO ticket refused: no such enabled account")
        self.throttle.succeeded(claims.username, address)
        meta = self._self_meta(account, correlation_id)
        return self._open_session(account.id, self.clock.now(), "SSO", meta)

    def authenticate(self, token: str, correlation_id: str | None = None) -> Principal:
        """Re-check the account behind a token on every request: the cached aggregate is
        brought up to date with its stored events first, so a logout, a revocation or a
        disabling in any process counts on the next request."""
        claims = self.tokens.decode(token)
        if claims is None:
            raise UnauthenticatedError("invalid or expired token")
        account = get_or_none(self.store, claims.account_id, Account, read_only=True)
        if account is None or not account.enabled:
            raise UnauthenticatedError("account unknown or disabled")
        if account.security_stamp != claims.security_stamp:
            raise UnauthenticatedError("session revoked; log in again")
        if account.has_ended(claims.session_id):
            raise UnauthenticatedError("session ended; log in again")
        return principal_of(account, correlation_id, claims.session_id, claims.expires_at)

    def logout(self, principal: Principal) -> bool:
        """End the caller's own session: its token is refused from the next request on."""
        principal.require(Permission.SELF_SERVICE)
        session_id, expires_at = principal.session_id, principal.session_expires_at
        if session_id is None or expires_at is None:
            raise ValidationError("this request carries no session to end", code="NO_SESSION")

        def act(account: Account) -> None:
            if account.has_ended(session_id):
                return  # a concurrent logout of the same session got there first
            account.end_session(session_id, expires_at, self.clock.now(), principal.meta())
            save(self.store, account)

        run_command(lambda: self._account(principal.account_id), act)
        return True

    def revoke_sessions(self, principal: Principal, account_id: UUID) -> AccountResult:
        """End every session of an account (SUPER_ADMIN): tokens issued before are refused."""
        principal.require(Permission.ACCOUNT_MANAGE)

        def act(account: Account) -> AccountResult:
            account.revoke_sessions(principal.meta())
            return AccountResult(account, save(self.store, account))

        return run_command(lambda: self._account(account_id), act)

    @staticmethod
    def _self_meta(account: Account, correlation_id: str | None) -> ChangeMeta:
        return principal_of(account, correlation_id).meta()

    # ------------------------------------------------------------------ own account
    def me(self, principal: Principal) -> Account:
        principal.require(Permission.SELF_SERVICE)
        account: Account = get_or_raise(self.store, principal.account_id, Account, "account")
        return account

    def change_my_password(
        self, principal: Principal, current_password: str, new_password: str
    ) -> AccountResult:
        principal.require(Permission.SELF_SERVICE)
        account: Account = get_or_raise(self.store, principal.account_id, Account, "account")
        if not self.hasher.verify(account.password_hash, current_password):
            raise InvalidCredentialsError(
                "the current password is wrong", field=["currentPassword"]
            )
        validate_password(new_password, account.username, field="newPassword")
        if new_password == current_password:
            raise ValidationError(
                "the new password must differ from the current one",
                code="WEAK_PASSWORD",
                field=["newPassword"],
            )
        new_hash = self.hasher.hash(new_password)

        def act(fresh: Account) -> AccountResult:
            fresh.change_password(password_hash=new_hash, meta=principal.meta())
            return AccountResult(fresh, save(self.store, fresh))

        return run_command(lambda: self._account(principal.account_id), act)

    # ------------------------------------------------------------------ administration
    def create_account(
        self,
        principal: Principal | None,
        *,
        username: str,
        display_name: str,
        role: Role,
        province: str | None,
        initial_password: str,
    ) -> AccountResult:
        """Create an account. `principal` None means the operator CLI (create-admin)."""
        if principal is not None:
            principal.require(Permission.ACCOUNT_MANAGE)
            meta = principal.meta()
        else:
            meta = ChangeMeta(actor=SYSTEM_ACTOR, reason="operator CLI")
        validate_username(username)
        validate_password(initial_password, username, field="initialPassword")
        password_hash = self.hasher.hash(initial_password)

        def act(existing: Account | None) -> AccountResult:
            # Re-checked on every attempt: a concurrent create of the same username makes our
            # first-version insert conflict, and the retry then sees the winner.
            if existing is not None:
                raise UsernameTakenError("this username is taken", field=["username"])
            account = Account.register(
                username=username,
                display_name=display_name,
                role=role,
                province=province,
                password_hash=password_hash,
                meta=meta,
            )
            pending: list[Any] = [account]
            if role is Role.SUPER_ADMIN:
                roster = get_or_none(self.store, ROSTER_ID, SuperAdminRoster) or SuperAdminRoster()
                roster.add(account.id)
                pending.append(roster)
            return AccountResult(account, save(self.store, *pending))

        return run_command(lambda: get_or_none(self.store, account_id_for(username), Account), act)

    def change_role(
        self,
        principal: Principal,
        account_id: UUID,
        role: Role,
        province: str | None,
        expected_version: int | None,
    ) -> AccountResult:
        principal.require(Permission.ACCOUNT_MANAGE)

        def act(account: Account) -> AccountResult:
            was_admin = account.role is Role.SUPER_ADMIN and account.enabled
            account.change_role(role, province, principal.meta())
            is_admin = account.role is Role.SUPER_ADMIN and account.enabled
            return AccountResult(account, self._save_with_roster(account, was_admin, is_admin))

        return run_command(
            lambda: self._account(account_id), act, expected_version=expected_version
        )

    def disable(self, principal: Principal, account_id: UUID, reason: str | None) -> AccountResult:
        principal.require(Permission.ACCOUNT_MANAGE)

        def act(account: Account) -> AccountResult:
            was_admin = account.role is Role.SUPER_ADMIN and account.enabled
            account.disable(reason, principal.meta(reason=reason))
            return AccountResult(account, self._save_with_roster(account, was_admin, False))

        return run_command(lambda: self._account(account_id), act)

    def enable(self, principal: Principal, account_id: UUID) -> AccountResult:
        principal.require(Permission.ACCOUNT_MANAGE)

        def act(account: Account) -> AccountResult:
            account.enable(principal.meta())
            is_admin = account.role is Role.SUPER_ADMIN
            return AccountResult(account, self._save_with_roster(account, False, is_admin))

        return run_command(lambda: self._account(account_id), act)

    def reset_password(
        self, principal: Principal, account_id: UUID, new_password: str
    ) -> AccountResult:
        principal.require(Permission.ACCOUNT_MANAGE)
        account: Account = get_or_raise(self.store, account_id, Account, "account")
        validate_password(new_password, account.username, field="newPassword")
        new_hash = self.hasher.hash(new_password)

        def act(fresh: Account) -> AccountResult:
            fresh.reset_password(password_hash=new_hash, meta=principal.meta())
            return AccountResult(fresh, save(self.store, fresh))

        return run_command(lambda: self._account(account_id), act)

    def _account(self, account_id: UUID) -> Account:
        return get_or_raise(self.store, account_id, Account, "account")

    def _save_with_roster(self, account: Account, was_admin: bool, is_admin: bool) -> int:
        """Save the account, and the super-admin roster in the same transaction if it moved."""
        if was_admin == is_admin:
            return save(self.store, account)
        roster = get_or_none(self.store, ROSTER_ID, SuperAdminRoster) or SuperAdminRoster()
        if is_admin:
            roster.add(account.id)
        else:
            roster.remove(account.id)
        return save(self.store, account, roster)

    # ------------------------------------------------------------------ queries
    def account(self, principal: Principal, account_id: UUID) -> Account | None:
        if principal.account_id != account_id:
            principal.require(Permission.ACCOUNT_READ)
        return get_or_none(self.store, account_id, Account)

    def actor_account(self, account_id: UUID) -> Account | None:
        """The account behind an event's actor; whoever may see the event may see who did it."""
        return get_or_none(self.store, account_id, Account)

    async def wait_for_accounts(self, principal: Principal, consistent_with: int | None) -> None:
        """Before `list_accounts`: who may not list is refused at once; else wait until the
        accounts list has applied `consistent_with`."""
        principal.require(Permission.ACCOUNT_READ)
        await wait_until_applied(self.waiter, [ACCOUNTS_PROJECTION], consistent_with)

    def list_accounts(
        self,
        principal: Principal,
        role: Role | None,
        province: str | None,
        after_username: str | None,
        limit: int,
    ) -> tuple[list[Any], int]:
        principal.require(Permission.ACCOUNT_READ)
        return self.accounts.list(role.value if role else None, province, after_username, limit)


def principal_of(
    account: Account,
    correlation_id: str | None = None,
    session_id: str | None = None,
    session_expires_at: datetime | None = None,
) -> Principal:
    return Principal(
        account_id=account.id,
        username=account.username,
        role=account.role,
        province=account.province,
        correlation_id=correlation_id,
        session_id=session_id,
        session_expires_at=session_expires_at,
    )
