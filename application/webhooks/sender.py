"""One endpoint's sender: `concurrency` workers POST what the loop reads as due; the loop
keeps them fed (due deliveries read in batches, their events decoded at once) and records
their outcomes in batches, so the database is asked a few times per hundred deliveries and
never while a worker could be sending. It sleeps until something is due, it is woken, or the
poll passes.

Per-stream order comes from the queue: it offers only the earliest PENDING delivery of each
stream (parking the ones behind it), and a delivery stays PENDING until its outcome is
recorded, so a later event of a stream is never sent before the earlier one is DELIVERED,
FAILED or DEAD here; other streams flow meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import datetime
from typing import Any
from uuid import UUID

from application.webhooks.attempt import Job, SenderTools, attempt
from application.webhooks.ports import EndpointConfig, EndpointQueue, Outcome


class EndpointSender:
    def __init__(
        self, tools: SenderTools, endpoint_id: UUID, queue: EndpointQueue, wakeup: asyncio.Event
    ) -> None:
        self.tools = tools
        self.endpoint_id = endpoint_id
        self.policy = tools.policy
        self.queue = queue
        self.wakeup = wakeup
        self.jobs: asyncio.Queue[Job] = asyncio.Queue()
        #: read as due and not yet recorded (queued, in flight or finished): not offered again
        self.busy: set[UUID] = set()
        self.sending = 0
        self.finished: list[Outcome] = []
        self.oldest_finished = 0.0
        self.progress = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        await self.queue.release_parked()
        workers = [asyncio.create_task(self._work()) for _ in range(self.policy.concurrency)]
        config: EndpointConfig | None = None
        config_read = 0.0
        check_due = True
        due_at: datetime | None = None
        try:
            while not stop.is_set():
                woken = self.wakeup.is_set()
                self.wakeup.clear()
                self.progress.clear()
                if self._record_now():
                    await self._record()
                    check_due = True
                if (
                    woken
                    or config is None
                    or time.monotonic() - config_read >= self.policy.poll_seconds
                ):
                    config = await self.queue.config()
                    config_read = time.monotonic()
                    check_due = True
                    if config is None or not config.enabled:
                        self._forget_queued()
                now = self.tools.clock.now()
                if due_at is not None and now >= due_at:
                    check_due, due_at = True, None
                if check_due and config is not None and config.enabled and self._hungry():
                    due_at = await self._fetch(config, now)
                    # A full batch: more may be due, read when the workers are hungry again.
                    check_due = due_at is None and not self.jobs.empty()
                await self._wait(stop, due_at)
        finally:
            self._forget_queued()
            await self._drain(workers)

    def _hungry(self) -> bool:
        """Fewer jobs are waiting than workers: read more (the batch ahead of them)."""
        return self.jobs.qsize() < self.policy.concurrency

    def _record_now(self) -> bool:
        if not self.finished:
            return False
        idle = self.sending == 0 and self.jobs.empty()
        late = time.monotonic() - self.oldest_finished >= self.policy.flush_seconds
        return idle or late or len(self.finished) >= self.policy.record_batch

    async def _fetch(self, config: EndpointConfig, now: datetime) -> datetime | None:
        """Queue what is due; when less than asked was due, when more will be (None: ask
        again once the workers have taken some)."""
        limit = self.policy.fetch_batch - self.jobs.qsize()
        due = await self.queue.due(now, limit, self.busy)
        if due:
            self.busy.update(d.id for d in due)
            messages = await asyncio.to_thread(self.tools.messages, [d.position for d in due])
            signing = self.tools.signing_secrets(config, now)
            for delivery in due:
                self.jobs.put_nowait(
                    Job(delivery, messages.get(delivery.position), config, signing)
                )
        if len(due) < limit:
            return await self.queue.next_due_at(self.busy)
        return None

    async def _work(self) -> None:
        while True:
            job = await self.jobs.get()
            self.sending += 1
            try:
                outcome = await attempt(self.tools, job)
            finally:
                self.sending -= 1
            if not self.finished:
                self.oldest_finished = time.monotonic()
            self.finished.append(outcome)
            self.progress.set()

    async def _record(self) -> None:
        outcomes, self.finished = self.finished, []
        await self.queue.record(outcomes)
        self.busy.difference_update(o.id for o in outcomes)
        observer = self.tools.observer
        if observer is not None:
            for outcome in outcomes:
                kind = "retry" if outcome.status == "PENDING" else outcome.status.lower()
                observer.attempted(self.endpoint_id, kind)

    def _forget_queued(self) -> None:
        """Jobs not yet started go back to the database's care (disabled, or stopping)."""
        while not self.jobs.empty():
            self.busy.discard(self.jobs.get_nowait().delivery.id)

    async def _wait(self, stop: asyncio.Event, due_at: datetime | None) -> None:
        """Until a worker finishes (when its outcome should be recorded or more read), a
        wake-up, the stop, the next due time, the flush of finished outcomes, or the poll."""
        timeout = self.policy.poll_seconds
        if due_at is not None:
            timeout = min(timeout, max((due_at - self.tools.clock.now()).total_seconds(), 0.0))
        if self.finished:
            flush_at = self.oldest_finished + self.policy.flush_seconds
            timeout = min(timeout, max(flush_at - time.monotonic(), 0.0))
        signals: list[Awaitable[Any]] = [self.wakeup.wait(), stop.wait(), self.progress.wait()]
        tasks = [asyncio.ensure_future(s) for s in signals]
        try:
            await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()

    async def _drain(self, workers: list[asyncio.Task[None]]) -> None:
        """On the way out: let the attempts in flight finish (bounded by their timeout) and
        record them, so a clean stop never leaves one to be sent again."""
        deadline = time.monotonic() + self.policy.timeout_seconds + 1
        while self.sending and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self.finished:
            await self._record()
