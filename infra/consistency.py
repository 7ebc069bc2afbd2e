"""The `consistentWith` waits of one serving process: on the event loop, holding no thread.

Every live projection step notifies `POSITIONS_CHANNEL` with the position it committed
(`projections.runtime.engine`), from whichever process leads the projection. Each serving
process keeps one LISTEN connection (started and stopped with the app's lifespan, reconnecting
after a failure) that records the latest position of every projection and wakes the waits for
it. Notifications are only the wake-up: the positions re-read on connecting and every poll
interval after are the truth, so a lost notification delays a wait by at most that interval.
Without a listener (a CLI, a test) a wait re-reads the positions itself at that interval.

A process serves from one event loop; still, an app started on another loop with the same
container (tests do) gets its own listener, and a wake-up crosses loops thread-safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from application.ports import ConsistencyTimeoutError, PositionBeyondHeadError
from projections.runtime.engine import POSITIONS_CHANNEL, ProjectionEngine

log = logging.getLogger(__name__)

LISTENER_NAME = "spoa-projection-positions"  # its application_name, for operators
# Head checks and re-reads are single quick queries; a wait that finds both connections busy
# awaits one (no thread is held).
QUERY_CONNECTIONS = 2

_POSITIONS = (
    "SELECT r.name, t.position FROM projection_registry r JOIN projection_tracking t"
    " ON t.name = r.name AND t.generation = r.active_generation"
)
_HEAD = "SELECT coalesce(max(notification_id), 0) FROM {}"


@dataclass
class _Loop:
    """What one event loop's waits and listener use: only that loop's objects."""

    loop: asyncio.AbstractEventLoop
    moved: dict[str, asyncio.Event] = field(default_factory=dict)  # set when a projection moves
    listener: asyncio.Task[None] | None = None
    pool: AsyncConnectionPool[Any] | None = None
    listening: bool = False
    #: per store, the head read under way and the one queued behind it (see _read_head)
    head_reads: dict[str, asyncio.Future[int]] = field(default_factory=dict)
    next_head_reads: dict[str, asyncio.Future[int]] = field(default_factory=dict)


class ProjectionWaiter:
    """Waits until projections have applied a store position (the application's
    `ReadModelWaiter`): at once when the known positions say so, else until a notification (or
    a re-read) says so, or `ConsistencyTimeoutError` after `timeout` seconds."""

    def __init__(self, engine: ProjectionEngine, timeout: float, resync_seconds: float) -> None:
        self._conninfo = engine.conninfo
        self._stores = {name: p.store for name, p in engine.projections.items()}
        self._tables = {store: source.table for store, source in engine.sources.items()}
        self.timeout = timeout
        self._resync = resync_seconds
        self._lock = threading.Lock()
        # Only ever raised, both: a position stays applied and a head only grows.
        self._known: dict[str, int] = {}
        self._heads: dict[str, int] = {}
        self._loops: dict[asyncio.AbstractEventLoop, _Loop] = {}
        # Called with (projection, position) whenever a known position rises (live updates).
        self._watchers: list[Callable[[str, int], None]] = []
        #: waits now pending (for tests and operators)
        self.waiting = 0

    @property
    def listening(self) -> bool:
        """A listener is connected and following the notifications (else waits re-read)."""
        with self._lock:
            return any(state.listening for state in self._loops.values())

    def applied(self, name: str) -> int:
        """The latest position `name` is known to have applied (0: none known yet)."""
        return self._known.get(name, 0)

    def watch(self, callback: Callable[[str, int], None]) -> Callable[[], None]:
        """Call `callback(projection, position)` from the listener's loop whenever a projection
        is known to have moved (notified or re-read); returns the way to stop."""
        with self._lock:
            self._watchers.append(callback)

        def unwatch() -> None:
            with self._lock, suppress(ValueError):
                self._watchers.remove(callback)

        return unwatch

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Follow the positions from the running event loop (the app's lifespan)."""
        state = self._here()
        if state.listener is not None:
            return
        state.pool = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=QUERY_CONNECTIONS,
            open=False,
            kwargs={"autocommit": True},
            name="spoa-waits",
        )
        await state.pool.open(wait=False)
        state.listener = asyncio.create_task(self._listen(state), name=LISTENER_NAME)

    async def stop(self) -> None:
        state = self._here()
        task, state.listener = state.listener, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        pool, state.pool = state.pool, None
        if pool is not None:
            await pool.close()
        with self._lock:
            self._loops.pop(state.loop, None)

    async def _listen(self, state: _Loop) -> None:
        while True:
            try:
                async with await AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name=LISTENER_NAME
                ) as conn:
                    channel = sql.Identifier(POSITIONS_CHANNEL)
                    await conn.execute(sql.SQL("LISTEN {}").format(channel))
                    while True:
                        # Read after LISTEN: a step committed meanwhile is read or notified.
                        await self._read(conn)
                        state.listening = True
                        async for note in conn.notifies(timeout=self._resync):
                            self._heard(note.payload)
            except Exception as exc:  # the waits re-read on their own until we are back
                log.warning("projection positions: listening failed (%s); reconnecting", exc)
            finally:
                state.listening = False
            await asyncio.sleep(self._resync)

    # ---------------------------------------------------------------------- waits
    async def wait(self, projections: Sequence[str], position: int) -> None:
        names = list(projections)
        if not self.listening:
            await self._refresh()
        if all(self._known.get(n, 0) >= position for n in names):
            return
        await self._check_head({self._stores[n] for n in names}, position)
        with self._lock:
            self.waiting += 1
        try:
            await self._until_applied(names, position)
        finally:
            with self._lock:
                self.waiting -= 1

    async def _until_applied(self, names: list[str], position: int) -> None:
        state = self._here()
        deadline = state.loop.time() + self.timeout
        for name in names:
            while self._known.get(name, 0) < position:
                remaining = deadline - state.loop.time()
                if remaining <= 0:
                    reached = self._known.get(name, 0)
                    raise ConsistencyTimeoutError(name, reached, position, self.timeout)
                moved = state.moved.setdefault(name, asyncio.Event())
                # Again, now that the event is registered: a listener on another loop may have
                # moved the position just before (it raises the position, then sets events).
                if self._known.get(name, 0) >= position:
                    break
                try:
                    async with asyncio.timeout(min(remaining, self._resync)):
                        await moved.wait()
                except TimeoutError:
                    if not self.listening:
                        await self._refresh()

    async def _check_head(self, stores: set[str], position: int) -> None:
        """Refuse at once a position no event holds yet: no wait for it could end well."""
        for store in sorted(stores):
            if position <= self._heads.get(store, 0):
                continue
            head = await self._read_head(store)
            self._raise(self._heads, store, head)
            if position > head:
                raise PositionBeyondHeadError(position, head, store)

    async def _read_head(self, store: str) -> int:
        """The store's head, read after this call began (a position the caller learnt from a
        commit is never judged by an older read). Callers arriving while a read is under way
        share the one queued behind it, so a flood of far positions costs two reads at once."""
        here = self._here()
        queued = here.next_head_reads.get(store)
        if queued is not None:
            return await asyncio.shield(queued)
        running = here.head_reads.get(store)
        if running is None:
            return await self._start_head_read(here, store)
        queued = here.loop.create_future()
        here.next_head_reads[store] = queued
        with contextlib.suppress(Exception):  # the queued read below answers for itself
            await asyncio.shield(running)
        here.next_head_reads.pop(store, None)
        try:
            head = await self._start_head_read(here, store)
        except Exception as exc:
            queued.set_exception(exc)
            queued.exception()  # retrieved: those sharing it re-raise their own copy
            raise
        queued.set_result(head)
        return head

    async def _start_head_read(self, here: _Loop, store: str) -> int:
        future: asyncio.Future[int] = here.loop.create_future()
        here.head_reads[store] = future
        try:
            async with self._connection() as conn:
                head = await self._head(conn, store)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: those sharing it re-raise their own copy
            raise
        finally:
            if here.head_reads.get(store) is future:
                del here.head_reads[store]
        future.set_result(head)
        return head

    def _here(self) -> _Loop:
        """The running loop's state (a closed loop's is dropped: nothing of it can run)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.get(loop)
            if state is None:
                for gone in [other for other in self._loops if other.is_closed()]:
                    del self._loops[gone]
                state = self._loops[loop] = _Loop(loop)
            return state

    # ----------------------------------------------------------------- positions
    def _heard(self, payload: str) -> None:
        name, _, position = payload.rpartition(":")
        if name in self._stores and position.isdigit():
            self._advance(name, int(position))

    def _advance(self, name: str, position: int) -> None:
        self._raise(self._heads, self._stores[name], position)
        if not self._raise(self._known, name, position):
            return
        with self._lock:
            states = list(self._loops.values())
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher(name, position)
        here = asyncio.get_running_loop()
        for state in states:
            moved = state.moved.pop(name, None)
            if moved is None:
                continue
            if state.loop is here:
                moved.set()
            else:
                with suppress(RuntimeError):  # that loop closed meanwhile
                    state.loop.call_soon_threadsafe(moved.set)

    def _raise(self, values: dict[str, int], key: str, value: int) -> bool:
        with self._lock:
            if value <= values.get(key, 0):
                return False
            values[key] = value
            return True

    async def _refresh(self) -> None:
        async with self._connection() as conn:
            await self._read(conn)

    async def _read(self, conn: AsyncConnection[Any]) -> None:
        """The truth: every store's head and every projection's position."""
        for store in self._tables:
            self._raise(self._heads, store, await self._head(conn, store))
        cur = await conn.execute(_POSITIONS)
        for name, position in await cur.fetchall():
            if name in self._stores:
                self._advance(name, int(position))

    async def _head(self, conn: AsyncConnection[Any], store: str) -> int:
        query = sql.SQL(_HEAD).format(sql.Identifier(self._tables[store]))
        cur = await conn.execute(query)
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        pool = self._here().pool
        if pool is not None:
            async with pool.connection(timeout=self.timeout) as conn:
                yield conn
        else:
            async with await AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                yield conn
