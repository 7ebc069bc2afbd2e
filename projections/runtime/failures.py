"""A failing projection is loud: retries back off, each new error is logged once, and the
failure is on record in `projection_registry` for every process (GraphQL, metrics, /readyz).

The runner (`runner`) keeps a `FailureTracker`; it writes the record (`record_failure`) in its
own short transaction after a failed step, and clears it (`clear_failure`) after a good one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import Connection

MAX_ERROR_CHARS = 500
MAX_RETRY_SECONDS = 60.0
# Control characters (NUL above all: PostgreSQL text refuses it) would make the record of a
# failure fail the same way; they are shown escaped instead.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def retry_delay(failures: int, base: float, cap: float = MAX_RETRY_SECONDS) -> float:
    """Seconds to wait after the `failures`-th consecutive failure: base, 2 base, 4 base, ...
    up to cap."""
    if failures <= 0:
        return base
    # (the exponent is bounded so that a long outage cannot overflow the float)
    return min(base * 2.0 ** min(failures - 1, 64), max(cap, base))


def error_text(exc: BaseException, limit: int = MAX_ERROR_CHARS) -> str:
    """A one-line, bounded description of an error that PostgreSQL text can hold."""
    message = str(exc).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\n", " "))
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Failure:
    """One projection's run of consecutive failures in this process."""

    error: str
    since: float  # time.monotonic() at the first failure
    since_wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    count: int = 1


class FailureTracker:
    """Per projection: failing since when, the last error, how many failures in a row.

    Each projection is stepped by one thread, which alone writes its entry.
    """

    def __init__(self, base_seconds: float, max_seconds: float = MAX_RETRY_SECONDS) -> None:
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.failures: dict[str, Failure] = {}

    def failed(self, name: str, error: str, now: float) -> tuple[Failure, bool]:
        """Count a failure; returns its record and whether the error is new (to be logged)."""
        failure = self.failures.get(name)
        if failure is None:
            failure = self.failures[name] = Failure(error=error, since=now)
            return failure, True
        failure.count += 1
        changed = failure.error != error
        failure.error = error
        return failure, changed

    def delay(self, name: str) -> float:
        """How long to wait before the next attempt (the base when not failing)."""
        failure = self.failures.get(name)
        return retry_delay(failure.count if failure else 0, self.base_seconds, self.max_seconds)

    def succeeded(self, name: str) -> Failure | None:
        """Forget the failures of `name`; returns them if it was failing."""
        return self.failures.pop(name, None)


def record_failure(conn: Connection[Any], name: str, error: str) -> None:
    """Put a failure on record (keeping when it began), in its own short transaction."""
    with conn.transaction():
        conn.execute(
            "UPDATE projection_registry SET failing_since = coalesce(failing_since, now()),"
            " last_error = %s WHERE name = %s",
            (error, name),
        )


def clear_failure(conn: Connection[Any], name: str) -> None:
    """Take a failure off the record, if there is one (another leader's, say)."""
    with conn.transaction():
        conn.execute(
            "UPDATE projection_registry SET failing_since = NULL, last_error = NULL"
            " WHERE name = %s AND failing_since IS NOT NULL",
            (name,),
        )
