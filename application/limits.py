"""How much expensive work one account may have running at once (design decision 10).

Statistics, exports, searches and event pages hold a database connection and a worker thread
for as long as they run; one account firing many of them at once would take what the other
callers need. The count is per process: `spoa serve --workers N` allows N times as many.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from application.authz import Principal
from application.ports import RateLimitedError


class TooMuchAtOnceError(RateLimitedError):
    """The caller already has as many expensive operations running as they may."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"at most {limit} expensive operations (statistics, exports, searches, event pages)"
            " may run at once per account (SPOA_EXPENSIVE_PER_ACCOUNT): wait for one to finish",
            retry_after=1,  # no knowing when one finishes; most take well under a second
        )
        self.limit = limit


class ExpensiveWork:
    """Counts the expensive operations each account has running; thread-safe, never waits."""

    def __init__(self, per_account: int) -> None:
        if per_account < 1:
            raise ValueError("per_account must be at least 1")
        self.per_account = per_account
        self._running: dict[UUID, int] = {}
        self._lock = threading.Lock()

    def running(self, principal: Principal) -> int:
        with self._lock:
            return self._running.get(principal.account_id, 0)

    def begin(self, principal: Principal) -> None:
        """Count one more for the caller, or raise TooMuchAtOnceError (refused, not queued: a
        queue would hold the request, and its connection, all the same)."""
        key = principal.account_id
        with self._lock:
            count = self._running.get(key, 0)
            if count >= self.per_account:
                raise TooMuchAtOnceError(self.per_account)
            self._running[key] = count + 1

    def end(self, principal: Principal) -> None:
        key = principal.account_id
        with self._lock:
            count = self._running.get(key, 0) - 1
            if count > 0:
                self._running[key] = count
            else:
                self._running.pop(key, None)

    @contextmanager
    def hold(self, principal: Principal) -> Iterator[None]:
        self.begin(principal)
        try:
            yield
        finally:
            self.end(principal)
