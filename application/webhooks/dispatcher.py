"""The dispatcher: one sender per endpoint this process leads (one leader per endpoint
across processes), woken when the log follower creates deliveries, polling as the truth.

It runs on an event loop of its own (infra.webhooks.runner), inside `spoa serve` by default
and on its own as `spoa webhooks run`. Deliveries are created by the `webhooks` projection
(projections.webhooks), exactly once with its tracked position; this only sends them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any
from uuid import UUID

from application.webhooks.attempt import SenderTools
from application.webhooks.ports import DeliveryQueue
from application.webhooks.sender import EndpointSender

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, queue: DeliveryQueue, tools: SenderTools) -> None:
        self.queue = queue
        self.tools = tools
        self.poll_seconds = tools.policy.poll_seconds
        self.leading: set[UUID] = set()
        self.errors: dict[UUID | None, str] = {}
        self._wakeups: set[asyncio.Event] = set()

    def wake(self) -> None:
        """Deliveries may have been created: every sender looks (call on the loop's thread)."""
        for event in self._wakeups:
            event.set()

    async def run(self, stop: asyncio.Event) -> None:
        leaders: dict[UUID, asyncio.Task[None]] = {}
        wakeup = asyncio.Event()
        self._wakeups.add(wakeup)
        try:
            while not stop.is_set():
                wakeup.clear()
                try:
                    endpoints = await self.queue.endpoint_ids()
                    self._recovered(None)
                except Exception as exc:  # the database is back on a later poll
                    self._failed(None, exc)
                    endpoints = []
                for endpoint_id in endpoints:
                    task = leaders.get(endpoint_id)
                    if task is None or task.done():
                        leaders[endpoint_id] = asyncio.create_task(
                            self._lead(endpoint_id, stop), name=f"webhooks-{endpoint_id}"
                        )
                # A new endpoint shows on the next poll or wake-up.
                await _first(stop.wait(), wakeup.wait(), timeout=self.poll_seconds)
        finally:
            self._wakeups.discard(wakeup)
            if leaders:
                await asyncio.wait(leaders.values(), timeout=self.tools.policy.timeout_seconds + 5)
            for task in leaders.values():
                task.cancel()

    async def _lead(self, endpoint_id: UUID, stop: asyncio.Event) -> None:
        wakeup = asyncio.Event()
        self._wakeups.add(wakeup)
        try:
            async with self.queue.lead(endpoint_id) as queue:
                if queue is None:
                    return  # another process leads it; tried again on the next poll
                self.leading.add(endpoint_id)
                log.info("leading webhook endpoint %s", endpoint_id)
                sender = EndpointSender(self.tools, endpoint_id, queue, wakeup)
                await sender.run(stop)
            self._recovered(endpoint_id)
        except Exception as exc:  # leadership is lost with the connection; the next poll retries
            self._failed(endpoint_id, exc)
            await _first(stop.wait(), timeout=self.poll_seconds)
        finally:
            self.leading.discard(endpoint_id)
            self._wakeups.discard(wakeup)

    def _failed(self, endpoint_id: UUID | None, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:500]
        if self.errors.get(endpoint_id) != error:
            what = f"endpoint {endpoint_id}" if endpoint_id else "listing endpoints"
            log.error("webhook dispatcher: %s failed (retrying): %s", what, error, exc_info=exc)
        self.errors[endpoint_id] = error

    def _recovered(self, endpoint_id: UUID | None) -> None:
        if self.errors.pop(endpoint_id, None) is not None:
            log.warning("webhook dispatcher: %s recovered", endpoint_id or "listing endpoints")


async def _first(*waits: Awaitable[Any], timeout: float) -> None:
    """Until the first of these awaitables completes, or the timeout."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
