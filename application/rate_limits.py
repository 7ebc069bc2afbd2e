"""The error every rate limit raises: try again later, nothing about the request was wrong."""

from __future__ import annotations

import math


class RateLimitedError(Exception):
    """Refused for now; `retry_after` is the whole number of seconds to wait (at least 1).

    Not a DomainError: it is no broken rule of the request, so the API answers it as an error
    of the whole request (GraphQL `RATE_LIMITED`, HTTP 429 with Retry-After), not a userError.
    """

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, math.ceil(retry_after))
