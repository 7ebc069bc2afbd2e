"""The HTTP transport of the dispatcher: the lean keep-alive client (`infra.webhooks.http`)
on the dispatcher's event loop, each attempt bounded as a whole (connect, send, answer).
Redirects are not followed (a 3xx is an answer to retry) and no proxy is used."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from domain.webhooks.delivery import Answer
from infra.webhooks.http import HttpError, HttpPool, Target


class LeanHttpTransport:
    def __init__(self, max_connections: int) -> None:
        self._pool = HttpPool(max_connections)
        self._targets: dict[str, Target] = {}

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Answer:
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 1000:
                self._targets.clear()
            target = self._targets[url] = Target.of(url)
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        try:
            async with asyncio.timeout(timeout):
                response = await self._pool.post(target, lines.encode("latin-1"), body)
        except TimeoutError:
            return Answer(None, error=f"no answer within {timeout:g} s")
        except HttpError as exc:
            return Answer(None, error=str(exc)[:500])
        return Answer(response.status, response.body, response.retry_after)

    async def aclose(self) -> None:
        self._pool.close()
