"""A lean HTTP/1.1 client for webhook POSTs: keep-alive connections pooled per origin on the
dispatcher's event loop, http and https, Content-Length and chunked answers.

Why not httpx: its layers cost many times the CPU per request that this does (the README's
webhooks section has the figures), and the dispatcher shares a process with the API. This
does only what a webhook needs: one POST with a body, no redirects (a 3xx is an answer), no
cookies, no proxies, no HTTP/2. Only
the first KEEP_BODY_BYTES of an answer's body are kept; larger bodies are read to their end
(so the connection stays reusable) up to MAX_DRAIN_BYTES, past which the connection closes.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

KEEP_BODY_BYTES = 4096
MAX_DRAIN_BYTES = 1 << 20
MAX_HEAD_BYTES = 64 * 1024


class HttpError(Exception):
    """The exchange failed before a whole answer came (reset, closed, malformed)."""


@dataclass(frozen=True)
class Target:
    origin: tuple[str, str, int]  # (scheme, host, port)
    head: bytes  # "POST <path> HTTP/1.1\r\nHost: ...\r\n"

    @classmethod
    def of(cls, url: str) -> Target:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        shown = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            shown += f":{port}"
        head = f"POST {path} HTTP/1.1\r\nHost: {shown}\r\n".encode("ascii")
        return cls((scheme, host, port), head)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    retry_after: str | None


class Exchange(asyncio.Protocol):
    """One connection; one request at a time; the answer parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.closed = False
        self.used = False
        self._waiter: asyncio.Future[Response] | None = None
        self._reset()

    def _reset(self) -> None:
        self._buffer = bytearray()
        self._status = 0
        self._retry_after: str | None = None
        self._length: int | None = None  # body bytes still to come (None: chunked or to close)
        self._chunked = False
        self._keep_alive = True
        self._body = bytearray()
        self._seen = 0
        self._in_body = False
        self._chunk = "size"

    # ---------------------------------------------------------------- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._in_body and self._length is None and not self._chunked:
                self._finish()  # an answer delimited by the end of the connection
            else:
                waiter.set_exception(HttpError(f"connection closed{f': {exc}' if exc else ''}"))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing was asked: the server is talking out of turn
            self.close()
            return
        self._buffer += data
        try:
            self._parse()
        except HttpError as exc:
            if not self._waiter.done():
                self._waiter.set_exception(exc)
            self.close()

    # ---------------------------------------------------------------- use
    def request(self, head: bytes, body: bytes) -> asyncio.Future[Response]:
        self._reset()
        self.used = True
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + body)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    @property
    def silent(self) -> bool:
        """Nothing of an answer came (a reused connection the server had closed meanwhile)."""
        return self._status == 0 and not self._buffer

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive and not self.transport.is_closing()

    # ---------------------------------------------------------------- parsing
    def _parse(self) -> None:
        while not self._in_body:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise HttpError("answer head too large")
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            self._head(head)  # a 1xx head is interim: the loop reads the next one
            if self._waiter is None:
                return  # (finished: an answer without a body)
        if self._chunked:
            self._chunks()
        elif self._length is not None:
            take = min(self._length, len(self._buffer))
            self._keep(self._buffer[:take])
            del self._buffer[:take]
            self._length -= take
            if self._length == 0:
                self._finish()
        else:
            self._keep(self._buffer)
            self._buffer.clear()

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
        self._status = int(parts[1])
        if self._status < 200:
            return  # interim (100 Continue, 103 Early Hints): the answer follows
        self._keep_alive = parts[0] == b"HTTP/1.1"
        self._in_body = True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                try:
                    self._length = int(value)
                except ValueError:
                    raise HttpError("invalid content-length") from None
            elif name == b"transfer-encoding":
                self._chunked = b"chunked" in value.lower()
            elif name == b"connection":
                token = value.strip().lower()
                self._keep_alive = token != b"close" and (
                    self._keep_alive or token == b"keep-alive"
                )
            elif name == b"retry-after":
                self._retry_after = value.strip().decode("latin-1")
        if self._status in (204, 304):
            self._length, self._chunked = 0, False
        if self._chunked:
            self._length = None
        elif self._length is None:
            self._keep_alive = False  # the body ends with the connection
        elif self._length == 0:
            self._finish()

    def _chunks(self) -> None:
        buffer = self._buffer
        while True:
            if self._chunk == "size":
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                try:
                    size = int(bytes(buffer[:end]).split(b";")[0], 16)
                except ValueError:
                    raise HttpError("invalid chunk size") from None
                del buffer[: end + 2]
                self._chunk = "data" if size else "trailer"
                self._length = size + 2  # the chunk and its CRLF
            elif self._chunk == "data":
                remaining = self._length or 0
                take = min(remaining, len(buffer))
                self._keep(buffer[: min(take, max(remaining - 2, 0))])
                del buffer[:take]
                self._length = remaining - take
                if self._length:
                    return
                self._chunk = "size"
            else:  # trailer fields, up to an empty line
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                del buffer[: end + 2]
                if end == 0:
                    self._finish()
                    return

    def _keep(self, data: bytes | bytearray) -> None:
        room = KEEP_BODY_BYTES - len(self._body)
        if room > 0:
            self._body += data[:room]
        self._seen += len(data)
        if self._seen > MAX_DRAIN_BYTES:
            self._keep_alive = False
            self._finish()

    def _finish(self) -> None:
        waiter = self._waiter
        self._in_body = False
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self._status, bytes(self._body), self._retry_after))
        self._waiter = None
        if not self._keep_alive:
            self.close()


class HttpPool:
    """Idle keep-alive connections per origin; at most `limit` open per origin."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._idle: dict[tuple[str, str, int], deque[Exchange]] = {}
        self._slots: dict[tuple[str, str, int], asyncio.Semaphore] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, target: Target, headers: bytes, body: bytes) -> Response:
        """POST with `headers` (CRLF-terminated lines) and `body`; a reused connection that
        turns out closed is replaced once (the server may drop an idle one at any moment)."""
        origin = target.origin
        slots = self._slots.setdefault(origin, asyncio.Semaphore(self.limit))
        async with slots:
            request = target.head + headers + b"Content-Length: %d\r\n\r\n" % len(body)
            exchange = self._take(origin)
            reused = exchange is not None
            for attempt in range(2):
                if exchange is None:
                    exchange = await self._connect(origin)
                try:
                    response = await exchange.request(request, body)
                except HttpError:
                    exchange.close()
                    if reused and attempt == 0 and exchange.silent:
                        exchange, reused = None, False
                        continue
                    raise
                except BaseException:  # cancelled (a timeout): the exchange is unusable
                    exchange.close()
                    raise
                if exchange.reusable:
                    self._idle.setdefault(origin, deque()).append(exchange)
                else:
                    exchange.close()
                return response
        raise AssertionError("unreachable")

    def _take(self, origin: tuple[str, str, int]) -> Exchange | None:
        idle = self._idle.get(origin)
        while idle:
            exchange = idle.pop()
            if exchange.reusable:
                return exchange
            exchange.close()
        return None

    async def _connect(self, origin: tuple[str, str, int]) -> Exchange:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        loop = asyncio.get_running_loop()
        try:
            _, exchange = await loop.create_connection(
                Exchange, host, port, ssl=tls, server_hostname=host if tls else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise HttpError(f"cannot connect to {host}:{port}: {exc}") from exc
        return exchange

    def close(self) -> None:
        for idle in self._idle.values():
            for exchange in idle:
                exchange.close()
        self._idle.clear()
