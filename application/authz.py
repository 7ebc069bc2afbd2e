"""Who is calling, and whether they may: the one place requests meet the permission table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.access.permissions import Permission, Role, province_scope
from domain.shared import Actor, ChangeMeta, PermissionDeniedError, natural_id
from domain.text import REASON


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as their account is now (re-checked on every request)."""

    account_id: UUID
    username: str
    role: Role
    province: str | None
    correlation_id: str | None = None
    # The session the request came with (None: not from a session token, e.g. the CLI).
    session_id: str | None = None
    session_expires_at: datetime | None = None

    @property
    def actor(self) -> Actor:
        return Actor(
            account_id=str(self.account_id),
            username=self.username,
            role=self.role.value,
            province=self.province,
        )

    def meta(self, reason: str | None = None, ticket_id: str | None = None) -> ChangeMeta:
        """What the caller's events record; the reason follows the text rule (domain.text)."""
        return ChangeMeta(
            actor=self.actor,
            correlation_id=self.correlation_id,
            reason=REASON.optional(reason),
            ticket_id=ticket_id,
        )

    def require(self, permission: Permission) -> str | None:
        """Check the permission; return the province it is limited to (None: every province)."""
        try:
            return province_scope(self.role, self.province, permission)
        except LookupError:
            raise PermissionDeniedError(
                f"{self.role.value} may not do this ({permission.value})"
            ) from None

    def require_in_province(self, permission: Permission, province: str) -> None:
        """For one object: FORBIDDEN when it lies outside the caller's province."""
        scope = self.require(permission)
        if scope is not None and scope != province:
            raise PermissionDeniedError("this belongs to another province")

    def list_scope(self, permission: Permission, requested: str | None) -> str | None:
        """The province a list or count is filtered to.

        A scoped caller asking for another province explicitly gets FORBIDDEN; asking for
        nothing gets their own province silently.
        """
        scope = self.require(permission)
        if scope is None:
            return requested
        if requested is not None and requested != scope:
            raise PermissionDeniedError("this belongs to another province")
        return scope


def operator_principal(username: str, role: Role) -> Principal:
    """An operator acting through the CLI with database access (no staff account behind it);
    recorded as its own actor so audit trails show who ran the command."""
    return Principal(
        account_id=natural_id("operator", username), username=username, role=role, province=None
    )
