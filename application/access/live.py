"""What a live connection (a GraphQL subscription socket) re-checks, and when: the account
changes that can end its session or change what it may see, and the check itself."""

from __future__ import annotations

from typing import Any

from application.access.service import AccessService, UnauthenticatedError
from application.authz import Principal
from domain.access.account import Account

_A: Any = Account
#: Account events after which every open connection of that account is checked again.
SESSION_CHANGES: frozenset[str] = frozenset(
    cls.TOPIC
    for cls in (
        _A.RoleChanged,
        _A.AccountDisabled,
        _A.PasswordChanged,
        _A.PasswordReset,
        _A.SessionEnded,
        _A.SessionsRevoked,
    )
)


def recheck(access: AccessService, token: str, held: Principal) -> Principal:
    """The connection's caller as now: UnauthenticatedError when its session no longer holds
    (disabled, logged out, revoked, expired) or its role or province changed since it
    connected (what it follows was scoped by them: it must connect again)."""
    fresh = access.authenticate(token, held.correlation_id)
    if (fresh.role, fresh.province) != (held.role, held.province):
        raise UnauthenticatedError("the account's role changed; connect again")
    return fresh
