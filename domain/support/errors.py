"""Errors of the support-desk context, each with a stable code."""

from __future__ import annotations

from domain.shared import DomainError


class InvalidTransitionError(DomainError):
    """The command is not allowed in the current state; the message names that state."""

    code = "INVALID_TRANSITION"

    def __init__(self, message: str, *, state: str, field: list[str] | None = None) -> None:
        super().__init__(message, field=field)
        self.state = state
