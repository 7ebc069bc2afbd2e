"""The HTTP transport: one keep-alive httpx.AsyncClient on the dispatcher's event loop.

Redirects are not followed (a 3xx is an answer to retry), environment proxies are ignored,
and each attempt is bounded as a whole (connect, send, answer). Only the first bytes of an
answer's body are kept (lastError shows 500); a larger body is not read to its end, which
costs that connection its reuse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx

from domain.webhooks.delivery import Answer

KEEP_BODY_BYTES = 4096


class HttpxTransport:
    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self._client: httpx.AsyncClient | None = None

    def _get_client(self) -> httpx.AsyncClient:
        # Made on first use, on the loop that uses it (the dispatcher's).
        if self._client is None:
            self._client = httpx.AsyncClient(
                limits=httpx.Limits(
                    max_connections=self.max_connections,
                    max_keepalive_connections=self.max_connections,
                    keepalive_expiry=30,
                ),
                follow_redirects=False,
                trust_env=False,
                timeout=None,  # noqa: S113 - bounded per attempt below, as a whole
            )
        return self._client

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Answer:
        client = self._get_client()
        try:
            async with asyncio.timeout(timeout):
                async with client.stream("POST", url, content=body, headers=headers) as answer:
                    kept = b""
                    async for chunk in answer.aiter_raw():
                        kept += chunk
                        if len(kept) >= KEEP_BODY_BYTES:
                            break
                    return Answer(answer.status_code, kept, answer.headers.get("retry-after"))
        except TimeoutError:
            return Answer(None, error=f"no answer within {timeout:g} s")
        except httpx.HTTPError as exc:
            return Answer(None, error=f"{type(exc).__name__}: {exc}"[:500])
        except OSError as exc:
            return Answer(None, error=f"{type(exc).__name__}: {exc}"[:500])

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
