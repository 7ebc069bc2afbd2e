"""Building blocks every bounded context shares: errors, change metadata, natural-key ids."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Namespace for uuid5 natural keys; never change it, stored ids depend on it.
SPOA_NAMESPACE = uuid.UUID("6f0c6a43-2f5e-4b59-9a3e-6b1f1b8f3a01")


def natural_id(kind: str, key: str) -> uuid.UUID:
    """A stable aggregate id derived from a natural key (e.g. an account's username)."""
    return uuid.uuid5(SPOA_NAMESPACE, f"{kind}:{key}")


class DomainError(Exception):
    """A business rule was broken. `code` is stable and machine-readable."""

    code = "DOMAIN_ERROR"

    def __init__(self, message: str, *, code: str | None = None, field: list[str] | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Input that breaks a format rule."""

    code = "INVALID_INPUT"


class NotFoundError(DomainError):
    code = "NOT_FOUND"


class VersionConflictError(DomainError):
    code = "VERSION_CONFLICT"


class PermissionDeniedError(DomainError):
    """The actor may not do this (maps to a FORBIDDEN GraphQL error, not a userError)."""

    code = "FORBIDDEN"


class NoChangeError(DomainError):
    code = "NO_CHANGE"


@dataclass(frozen=True)
class Actor:
    """Who did something, as they were at that moment."""

    account_id: str
    username: str
    role: str
    province: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "username": self.username,
            "role": self.role,
            "province": self.province,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Actor:
        """The actor as stored; a key an older event lacks reads as empty."""
        get = data.get
        return cls(
            str(get("account_id") or ""),
            str(get("username") or ""),
            str(get("role") or ""),
            get("province"),
        )


SYSTEM_ACTOR = Actor(account_id="", username="system", role="SYSTEM", province=None)


@dataclass(frozen=True)
class ChangeMeta:
    """Recorded on every core event: who, in which request, why, for which ticket."""

    actor: Actor
    correlation_id: str | None = None
    reason: str | None = None
    ticket_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.as_dict(),
            "correlation_id": self.correlation_id,
            "reason": self.reason,
            "ticket_id": self.ticket_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeMeta:
        """The metadata as stored; a key an older event lacks reads as empty (a missing or
        null actor as an actor with empty fields)."""
        get = data.get
        actor = get("actor")
        actor = Actor.from_dict(actor if isinstance(actor, dict) else {})
        return cls(actor, get("correlation_id"), get("reason"), get("ticket_id"))


def check_expected_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise VersionConflictError(
            f"expected version {expected}, but the current version is {current}",
            field=["expectedVersion"],
        )
