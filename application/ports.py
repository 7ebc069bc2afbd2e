"""What the application needs from the outside world, as protocols the composition root fills."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.shared import ValidationError


class Clock(Protocol):
    def now(self) -> datetime: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...


@dataclass(frozen=True)
class TokenClaims:
    account_id: UUID
    security_stamp: int
    expires_at: datetime
    session_id: str | None = None  # what `logout` ends


class TokenService(Protocol):
    def issue(self, account_id: UUID, security_stamp: int) -> tuple[str, datetime]: ...
    def decode(self, token: str) -> TokenClaims | None: ...


@dataclass(frozen=True)
class SsoTicket:
    username: str
    jti: str
    expires_at: datetime


class SsoVerifier(Protocol):
    def verify(self, ticket: str) -> SsoTicket:
        """Raise ValueError with a reason when the ticket is not acceptable."""
        ...


class JtiRegistry(Protocol):
    def claim(self, jti: str, expires_at: datetime) -> bool:
        """Record a ticket id; False when it was seen before (a replay)."""
        ...


@dataclass(frozen=True)
class RecordedEvent:
    """A decoded event with its global position in its store."""

    position: int
    topic: str
    event: Any


class EventLog(Protocol):
    """Read access to one event store in position order."""

    def feed(
        self, after_position: int, limit: int, topics: Sequence[str] = ()
    ) -> list[RecordedEvent]: ...

    def stream(
        self,
        originator_id: UUID,
        after_version: int,
        limit: int,
        descending: bool = False,
        *,
        topics: Sequence[str] = (),
        down_to_version: int = 1,
    ) -> list[RecordedEvent]:
        """A stream's events after `after_version` (descending: before it, down to
        `down_to_version`), only those of `topics` when given."""
        ...

    def head(self) -> int: ...

    def at(self, positions: Sequence[int]) -> list[RecordedEvent]:
        """The events at these positions, in position order (one query however many)."""
        ...

    def last_position(self, originator_id: UUID) -> int | None:
        """The position of a stream's last event, without decoding it; None if none."""
        ...


class ReadModelWaiter(Protocol):
    async def wait(self, projections: Sequence[str], position: int) -> None:
        """Return once every projection has applied `position`, awaiting on the event loop (no
        thread is held meanwhile). Raises `PositionBeyondHeadError` at once for a position no
        event holds yet, and `ConsistencyTimeoutError` once the bound has passed
        (`application.consistency`)."""
        ...


class RateLimitedError(Exception):
    """Refused for now; `retry_after` is the whole number of seconds to wait (at least 1).

    Not a DomainError: it is no broken rule of the request, so the API answers it as an error
    of the whole request (GraphQL `RATE_LIMITED`, HTTP 429 with Retry-After), not a userError.
    """

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, math.ceil(retry_after))


class PositionBeyondHeadError(ValidationError):
    """`consistentWith` names a position no event holds yet: waiting could never end well."""

    def __init__(self, position: int, head: int, store: str) -> None:
        super().__init__(
            f"consistentWith {position} is beyond the {store} store's head {head}:"
            " no event is stored at that position",
            field=["consistentWith"],
        )
        self.position = position
        self.head = head


class ConsistencyTimeoutError(Exception):
    """A read model did not apply the position within the bound; its answer would be stale."""

    def __init__(self, projection: str, reached: int, wanted: int, timeout: float) -> None:
        super().__init__(
            f"after {timeout:g} s the {projection} read model has applied up to position"
            f" {reached}, not yet {wanted}; try again"
        )
        self.projection = projection
        self.position = reached
        self.wanted = wanted
