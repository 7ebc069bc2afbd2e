"""Projection runner: follows the stores live, one leader per projection.

LISTEN/NOTIFY only wakes a runner; polling the events table is the truth. A session-level
advisory lock per projection makes exactly one process the leader. The runner steps the
`ProjectionEngine` (`projections.runtime.engine`), which applies each page in one transaction.

Versions: when a leader's step finds the serving tables older than the projection's code
(`Projection.version`), the runner rebuilds the projection blue/green in a background thread
(`ProjectionEngine.rebuild_if_outdated`) while the leader keeps applying to the old tables, which
serve until the swap. The rebuild lock makes one process build; the others see it done. Tables
newer than the code are never applied to: such a runner steps aside for a newer process.

Failures: a leader whose step raises keeps its leadership and retries with a backoff (the poll
interval doubling up to a cap), logs each new error once, and puts the failure on record for
every process (`projections.runtime.failures`); a good step takes it off. A lost connection
makes it reconnect, with the same backoff. A background rebuild that fails is retried likewise,
from RETRY_POLLS polls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import Connection, sql

from projections.runtime.engine import ProjectionEngine
from projections.runtime.failures import (
    MAX_RETRY_SECONDS,
    Failure,
    FailureTracker,
    clear_failure,
    error_text,
    record_failure,
)
from projections.runtime.rebuild import Rebuilds
from projections.runtime.registry import ProjectionVersionError
from projections.runtime.status import ProjectionStatus

log = logging.getLogger(__name__)

BATCH_BACKLOG = 5  # events found by one step that make the next wait (ProjectionRunner)
RETRY_POLLS = 10  # polls to wait before trying a version rebuild again, or leading newer tables
PROGRESS_LOG_SECONDS = 30.0  # how often a background rebuild logs its progress


class RebuildStoppedError(RuntimeError):
    """The runner stopped during a background rebuild (it resumes on the next start)."""


class ProjectionRunner:
    """Follows the stores live for a set of projections, as leader where it wins the lock."""

    def __init__(
        self,
        engine: ProjectionEngine,
        poll_seconds: float = 1.0,
        batch_seconds: float = 0.0,
        auto_rebuild: bool = True,
        max_retry_seconds: float = MAX_RETRY_SECONDS,
    ) -> None:
        self.engine = engine
        self.rebuilds = Rebuilds(engine)
        self.poll_seconds = poll_seconds
        # When a step finds a backlog (events arrive faster than the runner steps one by one),
        # the next one waits until batch_seconds after it, so one page (one transaction) serves
        # many events; otherwise a runner steps as soon as it is woken.
        self.batch_seconds = batch_seconds
        # Rebuild, as leader, a projection whose tables are older than its code (else it waits
        # for `spoa projections rebuild NAME`, and the old tables serve meanwhile).
        self.auto_rebuild = auto_rebuild
        self.tracker = FailureTracker(poll_seconds, max_retry_seconds)
        self.rebuild_tracker = FailureTracker(poll_seconds * RETRY_POLLS, max_retry_seconds)
        self._stop = threading.Event()
        self._wakeups = {name: threading.Event() for name in engine.projections}
        self._threads: list[threading.Thread] = []
        self._rebuilds: dict[str, threading.Thread] = {}
        self._rebuild_after: dict[str, float] = {}
        self._rebuilds_lock = threading.Lock()
        self.leading: set[str] = set()
        self.errors: dict[str, str] = {}
        #: generations this runner's background rebuilds swapped in, by projection
        self.rebuilt: dict[str, int] = {}

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
        with self._rebuilds_lock:
            rebuilds = list(self._rebuilds.values())
            self._rebuilds.clear()
        for thread in rebuilds:
            thread.join(timeout)  # it stops at its next page; the rebuild resumes next time

    @property
    def failures(self) -> dict[str, Failure]:
        """This process's record of the projections it fails to step, by name."""
        return self.tracker.failures

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
            except ProjectionVersionError as exc:
                # Tables of a newer version: step aside (the connection, and with it the
                # leadership, is gone) long enough for a process running that version to lead.
                self.leading.discard(name)
                self.errors[name] = str(exc)
                log.error("%s", exc)
                self._stop.wait(self.poll_seconds * RETRY_POLLS)
            except Exception as exc:  # a runner must outlive database hiccups
                self.leading.discard(name)
                self._failed(name, exc)
                self._stop.wait(self.tracker.delay(name))
        # Stopped: the connection (and with it the advisory lock) is gone, so we lead nothing.
        self.leading.discard(name)

    def _lead(self, conn: Connection[Any], name: str) -> None:
        with conn.cursor() as cur:
            while not self._stop.is_set():
                cur.execute("SELECT pg_try_advisory_lock(hashtext('spoa-leader:' || %s))", (name,))
                row = cur.fetchone()
                if row and row[0]:
                    break
                # Standby: another process leads, and its failures (if any) are on record.
                self.tracker.succeeded(name)
                self._stop.wait(self.poll_seconds)
            else:
                return
        self.leading.add(name)
        wakeup = self._wakeups[name]
        projection = self.engine.projections[name]
        limit = projection.page_size or self.engine.page_size
        on_record = True  # (maybe: a previous leader may have left a failure on record)
        while not self._stop.is_set():
            wakeup.clear()
            stepped_at = time.monotonic()
            try:
                moved = self.engine.step(conn, name)
                if on_record:
                    clear_failure(conn, name)
                    on_record = False
            except ProjectionVersionError:
                raise
            except Exception as exc:
                if conn.broken or conn.closed:
                    raise  # reconnect (_follow), leadership lost with the connection
                # Keep the leadership while backing off, so that no other process hammers
                # the same failing step meanwhile.
                on_record = self._failed(name, exc, conn) or on_record
                self._stop.wait(self.tracker.delay(name))
                continue
            finally:
                # Also when the step failed: the new code may not apply to the old tables.
                if self.auto_rebuild and self.engine.needs_rebuild(name):
                    self._start_rebuild(name)
            self._recovered(name)
            if moved >= limit:
                continue  # maybe a full page: more are waiting
            # Caught up with what the read saw. An event committed after it notifies after the
            # clear above, so the wait returns at once; polling stays the safety net.
            wakeup.wait(self.poll_seconds)
            if moved >= BATCH_BACKLOG:
                delay = stepped_at + self.batch_seconds - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)

    # ------------------------------------------------------------- failures
    def _failed(self, name: str, exc: Exception, conn: Connection[Any] | None = None) -> bool:
        """Count a failure, log it if its error is new, and put it on record through `conn`
        (when there is one). Returns whether it is on record."""
        error = error_text(exc)
        self.errors[name] = error
        failure, changed = self.tracker.failed(name, error, time.monotonic())
        if changed:
            log.error(
                "projection %s failed (retrying with backoff; logged again only when the"
                " error changes): %s",
                name,
                error,
                exc_info=exc,
            )
        else:
            log.debug("projection %s failed again (%d in a row): %s", name, failure.count, error)
        if conn is None:
            return False
        try:
            record_failure(conn, name, error)
        except psycopg.Error as record_exc:  # the next failure, or success, records again
            log.warning("projection %s: cannot record its failure: %s", name, record_exc)
            return False
        return True

    def _recovered(self, name: str) -> None:
        failure = self.tracker.succeeded(name)
        self.errors.pop(name, None)
        if failure is not None:
            log.warning(
                "projection %s recovered after %d failures in %.1f s",
                name,
                failure.count,
                time.monotonic() - failure.since,
            )

    # ------------------------------------------------------------- version rebuilds
    def _start_rebuild(self, name: str) -> None:
        """Start the background rebuild of `name` unless one runs or failed a moment ago."""
        with self._rebuilds_lock:
            if self._stop.is_set():
                return
            running = self._rebuilds.get(name)
            if running is not None and running.is_alive():
                return
            if time.monotonic() < self._rebuild_after.get(name, 0.0):
                return
            thread = threading.Thread(
                target=self._rebuild, args=(name,), name=f"spoa-rebuild-{name}", daemon=True
            )
            self._rebuilds[name] = thread
            thread.start()

    def _rebuild(self, name: str) -> None:
        generation: int | None = None
        try:
            generation = self.rebuilds.rebuild_if_outdated(name, progress=self._progress(name))
        except RebuildStoppedError:
            log.info("projection %s: rebuild stopped; it resumes on the next start", name)
            return
        except Exception as exc:  # the leader starts it again later, backing off
            error = error_text(exc)
            self.errors[f"{name} (rebuild)"] = error
            if self.rebuild_tracker.failed(name, error, time.monotonic())[1]:
                log.error(
                    "projection %s: rebuild to its new version failed (retrying with backoff;"
                    " logged again only when the error changes): %s",
                    name,
                    error,
                    exc_info=exc,
                )
        if generation is None:
            # Failed, or another process holds the rebuild lock (then its swap makes the
            # version current and we never try again).
            with self._rebuilds_lock:
                delay = self.rebuild_tracker.delay(name)
                self._rebuild_after[name] = time.monotonic() + delay
            return
        self.rebuild_tracker.succeeded(name)
        self.errors.pop(f"{name} (rebuild)", None)
        self.rebuilt[name] = generation

    def _progress(self, name: str) -> Callable[[int, int], None]:
        logged = [time.monotonic()]

        def report(done: int, total: int) -> None:
            if self._stop.is_set() and done < total:  # (not once it has swapped)
                raise RebuildStoppedError(name)
            now = time.monotonic()
            if now - logged[0] >= PROGRESS_LOG_SECONDS:
                logged[0] = now
                log.info("projection %s: rebuilding, %d of %d events", name, done, total)

        return report


def wait_for_position(
    status: ProjectionStatus, names: Sequence[str], position: int, timeout: float
) -> bool:
    """Wait (bounded) until every named projection has applied `position`."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        positions = status.positions(names)
        if positions and all(positions.get(n, 0) >= position for n in names):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
