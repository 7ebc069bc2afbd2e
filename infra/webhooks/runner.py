"""The thread the dispatcher's event loop runs on, and its wake-ups.

Every step of the `webhooks` projection (which creates deliveries) notifies
`spoa_projection` with `webhooks:<position>` at commit, from whichever process runs it; a
listening connection here wakes the senders then. Notifications are the wake-up; the senders'
polling (SPOA_PROJECTION_POLL_SECONDS) is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import psycopg

log = logging.getLogger(__name__)

POSITIONS_CHANNEL = "spoa_projection"  # (projections.runtime.engine.POSITIONS_CHANNEL)
PREFIX = "webhooks:"


class Dispatcher(Protocol):
    """application.webhooks.dispatcher.Dispatcher, as this thread drives it."""

    leading: set[Any]

    async def run(self, stop: asyncio.Event) -> None: ...

    def wake(self) -> None: ...


class WebhookDispatcherThread:
    def __init__(
        self,
        dispatcher: Dispatcher,
        conninfo: str,
        close: Callable[[], Any],
        poll_seconds: float,
    ) -> None:
        self.dispatcher = dispatcher
        self.conninfo = conninfo
        self._close = close  # the transport's and the queue's (a coroutine function)
        self.poll_seconds = poll_seconds
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spoa-webhooks", daemon=True)
        self._thread.start()
        self._started.wait(5)

    @property
    def healthy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def leading(self) -> set[Any]:
        return set(self.dispatcher.leading)

    def _run(self) -> None:
        try:
            import uvloop

            loop = uvloop.new_event_loop()
        except ImportError:  # (not on Windows)
            loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._started.set()
        listener = asyncio.create_task(self._listen(self._stop))
        try:
            await self.dispatcher.run(self._stop)
        finally:
            listener.cancel()
            try:
                await self._close()
            except Exception:  # closing is best effort at shutdown
                log.warning("webhook dispatcher: closing failed", exc_info=True)

    async def _listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self.dispatcher.leading:
                # Nothing led here: no connection held for nothing (the senders poll anyway).
                await asyncio.sleep(self.poll_seconds)
                continue
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, application_name="spoa-webhooks-listen"
                ) as conn:
                    await conn.execute(f"LISTEN {POSITIONS_CHANNEL}")
                    while not stop.is_set() and self.dispatcher.leading:
                        async for notify in conn.notifies(timeout=self.poll_seconds):
                            if notify.payload.startswith(PREFIX):
                                self.dispatcher.wake()
            except psycopg.Error as exc:  # polling keeps working meanwhile
                log.warning("webhook dispatcher: listen connection lost: %s", exc)
                await asyncio.sleep(self.poll_seconds)

    def stop(self, timeout: float = 15.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
