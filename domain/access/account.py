"""The staff Account aggregate and the super-admin roster that guards the last admin."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.access.permissions import Role
from domain.access.provinces import validate_province
from domain.shared import ChangeMeta, DomainError, NoChangeError, ValidationError, natural_id
from domain.text import REASON, Text

USERNAME_RE = re.compile(r"[a-z0-9._-]{3,32}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
MAX_DISPLAY_NAME = 64


class LastSuperAdminError(DomainError):
    code = "LAST_SUPER_ADMIN"


class AccountDisabledError(DomainError):
    code = "ACCOUNT_DISABLED"


def account_id_for(username: str) -> UUID:
    return natural_id("account", username)


def validate_username(username: str) -> None:
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(
            "username must be 3-32 characters of a-z, 0-9, '.', '_' or '-'",
            code="INVALID_USERNAME",
            field=["username"],
        )


def validate_password(password: str, username: str, field: str = "password") -> None:
    """Staff password policy: long enough, not absurdly long, not the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters",
            code="WEAK_PASSWORD",
            field=[field],
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            f"password must be at most {MAX_PASSWORD_LENGTH} characters",
            code="WEAK_PASSWORD",
            field=[field],
        )
    if password.strip().lower() == username.lower():
        raise ValidationError(
            "password must not be the username", code="WEAK_PASSWORD", field=[field]
        )


# One line of text (domain.text); every violation keeps the code it always had.
DISPLAY_NAME = Text(
    "displayName", MAX_DISPLAY_NAME, line=True, what="display name", code="INVALID_DISPLAY_NAME"
)


def validate_display_name(display_name: str) -> str:
    return DISPLAY_NAME.clean(display_name, required=True)


def validate_role_province(role: Role, province: str | None) -> None:
    if province is not None:
        validate_province(province)
    if role is Role.PROVINCE_AGENT and province is None:
        raise ValidationError(
            "a PROVINCE_AGENT needs a province", code="PROVINCE_REQUIRED", field=["province"]
        )


class Account(Aggregate):
    """A person or service that uses SPOA. Passwords are stored only as argon2id hashes."""

    TOPIC = "spoa.access:Account"

    class Event(Aggregate.Event):
        TOPIC = "spoa.access:Account.Event"

    @staticmethod
    def create_id(username: str) -> UUID:
        return account_id_for(username)

    # The role is kept as its plain value: snapshots restore attributes through JSON, which
    # would turn a Role into a bare str (then `role is Role.SUPER_ADMIN` is silently False).
    @property
    def role(self) -> Role:
        return Role(self.role_value)

    @role.setter
    def role(self, role: Role) -> None:
        self.role_value = role.value

    @event("AccountCreated", topic="spoa.access:Account.AccountCreated")
    def __init__(
        self,
        username: str,
        display_name: str,
        role: str,
        province: str | None,
        password_hash: str,
        meta: ChangeMeta,
    ) -> None:
        self.username = username
        self.display_name = display_name
        self.role = Role(role)
        self.province = province
        self.password_hash = password_hash
        self.enabled = True
        self.disabled_reason: str | None = None
        self.last_login_at: datetime | None = None
        # Bumped whenever credentials or standing change: tokens issued before are void.
        self.security_stamp = 0
        self.ended_sessions: dict[str, int] = {}

    @classmethod
    def register(
        cls,
        *,
        username: str,
        display_name: str,
        role: Role,
        province: str | None,
        password_hash: str,
        meta: ChangeMeta,
    ) -> Account:
        validate_username(username)
        name = validate_display_name(display_name)
        validate_role_province(role, province)
        return cls(
            username=username,
            display_name=name,
            role=role.value,
            province=province,
            password_hash=password_hash,
            meta=meta,
        )

    # ------------------------------------------------------------------ role
    def change_role(self, role: Role, province: str | None, meta: ChangeMeta) -> None:
        validate_role_province(role, province)
        if role is self.role and province == self.province:
            raise NoChangeError("the account already has this role and province")
        self._role_changed(
            role=role.value,
            province=province,
            previous_role=self.role.value,
            previous_province=self.province,
            meta=meta,
        )

    @event("RoleChanged", topic="spoa.access:Account.RoleChanged")
    def _role_changed(
        self,
        role: str,
        province: str | None,
        previous_role: str,
        previous_province: str | None,
        meta: ChangeMeta,
    ) -> None:
        self.role = Role(role)
        self.province = province
        self.security_stamp += 1

    # ------------------------------------------------------------------ standing
    def disable(self, reason: str | None, meta: ChangeMeta) -> None:
        text = REASON.optional(reason)
        if not self.enabled:
            raise NoChangeError("the account is already disabled")
        self._disabled(reason=text, meta=meta)

    @event("AccountDisabled", topic="spoa.access:Account.AccountDisabled")
    def _disabled(self, reason: str | None, meta: ChangeMeta) -> None:
        self.enabled = False
        self.disabled_reason = reason
        self.security_stamp += 1

    def enable(self, meta: ChangeMeta) -> None:
        if self.enabled:
            raise NoChangeError("the account is already enabled")
        self._enabled(meta=meta)

    @event("AccountEnabled", topic="spoa.access:Account.AccountEnabled")
    def _enabled(self, meta: ChangeMeta) -> None:
        self.enabled = True
        self.disabled_reason = None

    # ------------------------------------------------------------------ credentials
    @event("PasswordChanged", topic="spoa.access:Account.PasswordChanged")
    def change_password(self, password_hash: str, meta: ChangeMeta) -> None:
        """The holder changed their own password."""
        self.password_hash = password_hash
        self.security_stamp += 1

    @event("PasswordReset", topic="spoa.access:Account.PasswordReset")
    def reset_password(self, password_hash: str, meta: ChangeMeta) -> None:
        """An administrator set a new password."""
        self.password_hash = password_hash
        self.security_stamp += 1

    @event("LoginSucceeded", topic="spoa.access:Account.LoginSucceeded")
    def login_succeeded(self, at: datetime, channel: str, meta: ChangeMeta) -> None:
        self.last_login_at = at

    @event("LoginFailed", topic="spoa.access:Account.LoginFailed")
    def _login_failed(
        self, at: datetime, failures: int, locked_until: datetime | None, meta: ChangeMeta
    ) -> None:
        """Kept so that stored events still decode: it fed the account lock-out, which let
        anyone lock an owner out. Failed logins now slow down the address they come from
        (application/access/throttle.py) and are no longer recorded on the account."""

    # ------------------------------------------------------------------ sessions
    def has_ended(self, session_id: str | None) -> bool:
        # Snapshots taken before sessions could end restore without the attribute.
        return session_id is not None and session_id in self.__dict__.get("ended_sessions", {})

    def end_session(
        self, session_id: str, expires_at: datetime, at: datetime, meta: ChangeMeta
    ) -> None:
        """The holder logged out: this one session's token is void from now on."""
        if self.has_ended(session_id):
            raise NoChangeError("this session has already ended")
        self._session_ended(session_id=session_id, expires_at=expires_at, at=at, meta=meta)

    @event("SessionEnded", topic="spoa.access:Account.SessionEnded")
    def _session_ended(
        self, session_id: str, expires_at: datetime, at: datetime, meta: ChangeMeta
    ) -> None:
        # Only sessions whose token could still be used are remembered: the list stays short.
        now = at.timestamp()
        kept = {s: exp for s, exp in self.__dict__.get("ended_sessions", {}).items() if exp > now}
        kept[session_id] = int(expires_at.timestamp())
        self.ended_sessions = kept

    @event("SessionsRevoked", topic="spoa.access:Account.SessionsRevoked")
    def revoke_sessions(self, meta: ChangeMeta) -> None:
        """An administrator ended every session of the account (tokens issued before)."""
        self.security_stamp += 1
        self.ended_sessions = {}


ROSTER_ID = natural_id("roster", "super-admins")


class SuperAdminRoster(Aggregate):
    """The set of enabled SUPER_ADMIN accounts.

    Saved atomically with every account change that adds or removes an enabled super admin;
    optimistic concurrency on this one aggregate makes "never remove the last one" hold even
    under concurrent demotions.
    """

    TOPIC = "spoa.access:SuperAdminRoster"

    class Event(Aggregate.Event):
        TOPIC = "spoa.access:SuperAdminRoster.Event"

    @staticmethod
    def create_id() -> UUID:
        return ROSTER_ID

    @event("RosterStarted", topic="spoa.access:SuperAdminRoster.RosterStarted")
    def __init__(self) -> None:
        self.members: list[str] = []

    def add(self, account_id: UUID) -> None:
        if str(account_id) not in self.members:
            self._added(account_id=str(account_id))

    @event("SuperAdminAdded", topic="spoa.access:SuperAdminRoster.SuperAdminAdded")
    def _added(self, account_id: str) -> None:
        self.members.append(account_id)

    def remove(self, account_id: UUID) -> None:
        key = str(account_id)
        if key not in self.members:
            return
        if len(self.members) == 1:
            raise LastSuperAdminError("the last enabled SUPER_ADMIN cannot be disabled or demoted")
        self._removed(account_id=key)

    @event("SuperAdminRemoved", topic="spoa.access:SuperAdminRoster.SuperAdminRemoved")
    def _removed(self, account_id: str) -> None:
        self.members.remove(account_id)
