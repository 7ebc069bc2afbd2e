"""Requests without a bearer token, per client address: a token bucket in front of everything.

A flood of anonymous calls (wrong passwords, most of all) is refused by the login throttle in
memory, yet each refusal still costs an HTTP, JSON and GraphQL round; hundreds a second crowd
out the staff who are logged in. This answers 429 before any body is read. Callers with a
token are never counted: they are held by their own account's limits.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send

from api.client_address import ClientAddresses

LIMITED_PATHS = frozenset({"/graphql", "/sso/spoa"})
MAX_ADDRESSES = 50_000  # buckets kept; the least recently used address is forgotten first


class AnonymousRateLimit:
    """At most `rate` anonymous requests a second per address, `burst` at once (0: off)."""

    def __init__(self, app: ASGIApp, addresses: ClientAddresses, rate: float, burst: int) -> None:
        self.app = app
        self.addresses = addresses
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.rate <= 0
            or scope["type"] != "http"
            or scope["path"] not in LIMITED_PATHS
            or any(name == b"authorization" for name, _ in scope.get("headers") or ())
        ):
            await self.app(scope, receive, send)
            return
        wait = self._take(self.addresses.of(scope) or "unknown")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": "too many requests without a session from this address;"
                        f" try again in {retry_after} s",
                        "extensions": {"code": "RATE_LIMITED", "retryAfter": retry_after},
                    }
                ]
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(retry_after).encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _take(self, address: str) -> float:
        """Take a token: 0 when one was there, else the seconds until one will be."""
        now = time.monotonic()
        tokens, stamp = self._buckets.pop(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        if tokens >= 1:
            self._buckets[address] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[address] = (tokens, now)
            wait = (1 - tokens) / self.rate
        while len(self._buckets) > MAX_ADDRESSES:
            self._buckets.popitem(last=False)
        return wait
