"""Projection runner: follows the stores live, one leader per projection.

LISTEN/NOTIFY only wakes a runner; polling the events table is the truth. A session-level
advisory lock per projection makes exactly one process the leader. The runner steps the
`ProjectionEngine` (`projections.engine`), which applies each page in one transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import Connection, sql

from projections.engine import ProjectionEngine

log = logging.getLogger(__name__)

BATCH_BACKLOG = 5  # events found by one step that make the next wait (ProjectionRunner)


class ProjectionRunner:
    """Follows the stores live for a set of projections, as leader where it wins the lock."""

    def __init__(
        self, engine: ProjectionEngine, poll_seconds: float = 1.0, batch_seconds: float = 0.0
    ) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        # When a step finds a backlog (events arrive faster than the runner steps one by one),
        # the next one waits until batch_seconds after it, so one page (one transaction) serves
        # many events; otherwise a runner steps as soon as it is woken.
        self.batch_seconds = batch_seconds
        self._stop = threading.Event()
        self._wakeups = {name: threading.Event() for name in engine.projections}
        self._threads: list[threading.Thread] = []
        self.leading: set[str] = set()
        self.errors: dict[str, str] = {}

    def start(self) -> None:
        for store in {p.store for p in self.engine.projections.values()}:
            self._spawn(self._listen, store, f"spoa-listen-{store}")
        for name in self.engine.projections:
            self._spawn(self._follow, name, f"spoa-projection-{name}")

    def _spawn(self, target: Callable[[str], None], arg: str, thread_name: str) -> None:
        thread = threading.Thread(target=target, args=(arg,), name=thread_name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for event in self._wakeups.values():
            event.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    @property
    def healthy(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def _listen(self, store: str) -> None:
        channel = self.engine.sources[store].table
        names = [n for n, p in self.engine.projections.items() if p.store == store]
        while not self._stop.is_set():
            try:
                with self.engine.connect() as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            for name in names:
                                self._wakeups[name].set()
            except psycopg.Error as exc:  # polling keeps working meanwhile
                log.warning("listen connection lost: %s", exc)
                self._stop.wait(self.poll_seconds)

    def _follow(self, name: str) -> None:
        while not self._stop.is_set():
            try:
                with self.engine.connect() as conn:
                    self._lead(conn, name)
            except Exception as exc:  # a runner must outlive database hiccups
                self.leading.discard(name)
                self.errors[name] = str(exc)
                log.exception("projection %s failed; retrying", name)
                self._stop.wait(self.poll_seconds)
        # Stopped: the connection (and with it the advisory lock) is gone, so we lead nothing.
        self.leading.discard(name)

    def _lead(self, conn: Connection[Any], name: str) -> None:
        with conn.cursor() as cur:
            while not self._stop.is_set():
                cur.execute("SELECT pg_try_advisory_lock(hashtext('spoa-leader:' || %s))", (name,))
                row = cur.fetchone()
                if row and row[0]:
                    break
                self._stop.wait(self.poll_seconds)  # standby: another process leads
            else:
                return
        self.leading.add(name)
        self.errors.pop(name, None)
        wakeup = self._wakeups[name]
        projection = self.engine.projections[name]
        limit = projection.page_size or self.engine.page_size
        while not self._stop.is_set():
            wakeup.clear()
            stepped_at = time.monotonic()
            moved = self.engine.step(conn, name)
            if moved >= limit:
                continue  # maybe a full page: more are waiting
            # Caught up with what the read saw. An event committed after it notifies after the
            # clear above, so the wait returns at once; polling stays the safety net.
            wakeup.wait(self.poll_seconds)
            if moved >= BATCH_BACKLOG:
                delay = stepped_at + self.batch_seconds - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)


def wait_for_position(
    engine: ProjectionEngine, names: Sequence[str], position: int, timeout: float
) -> bool:
    """Wait (bounded) until every named projection has applied `position`."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        positions = engine.positions(names)
        if positions and all(positions.get(n, 0) >= position for n in names):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
