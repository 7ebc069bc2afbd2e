"""The `consistentWith` waits of one serving process: on the event loop, holding no thread.

Every live projection step notifies `POSITIONS_CHANNEL` with the position it committed
(`projections.runtime.engine`), from whichever process leads the projection. Each serving
process keeps one LISTEN connection (started and stopped with the app's lifespan, reconnecting
after a failure) that records the latest position of every projection and wakes the waits for
it. Notifications are only the wake-up: the positions re-read on connecting and every poll
interval after are the truth, so a lost notification delays a wait by at most that interval.
Without its listener (a CLI, a test) a waiter re-reads the positions itself at that interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from application.consistency import ConsistencyTimeoutError, PositionBeyondHeadError
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
        # Only ever raised, both: a position stays applied and a head only grows.
        self._known: dict[str, int] = {}
        self._heads: dict[str, int] = {}
        self._moved: dict[str, asyncio.Event] = {}  # set (and replaced) when a projection moves
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self._pool: AsyncConnectionPool[Any] | None = None
        #: connected and following the notifications (else each wait re-reads on its own)
        self.listening = False
        #: waits now pending (for tests and operators)
        self.waiting = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Follow the positions from the running event loop (the app's lifespan)."""
        if self._listener is not None:
            return
        self._pool = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=QUERY_CONNECTIONS,
            open=False,
            kwargs={"autocommit": True},
            name="spoa-waits",
        )
        await self._pool.open(wait=False)
        self._listener = asyncio.create_task(self._listen(), name=LISTENER_NAME)

    async def stop(self) -> None:
        task, self._listener = self._listener, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _listen(self) -> None:
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
                        self.listening = True
                        async for note in conn.notifies(timeout=self._resync):
                            self._heard(note.payload)
            except Exception as exc:  # the waits re-read on their own until we are back
                log.warning("projection positions: listening failed (%s); reconnecting", exc)
            finally:
                self.listening = False
            await asyncio.sleep(self._resync)

    # ---------------------------------------------------------------------- waits
    async def wait(self, projections: Sequence[str], position: int) -> None:
        names = list(projections)
        if not self.listening:
            await self._refresh()
        if all(self._known.get(n, 0) >= position for n in names):
            return
        await self._check_head({self._stores[n] for n in names}, position)
        self.waiting += 1
        try:
            await self._until_applied(names, position)
        finally:
            self.waiting -= 1

    async def _until_applied(self, names: list[str], position: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        for name in names:
            while self._known.get(name, 0) < position:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    reached = self._known.get(name, 0)
                    raise ConsistencyTimeoutError(name, reached, position, self.timeout)
                moved = self._event(name)
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
            async with self._connection() as conn:
                if position <= self._heads.get(store, 0):
                    continue  # learnt while this wait queued for the connection
                head = await self._head(conn, store)
            self._heads[store] = max(self._heads.get(store, 0), head)
            if position > head:
                raise PositionBeyondHeadError(position, head, store)

    def _event(self, name: str) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # events of another (finished) loop cannot be awaited here
            self._loop, self._moved = loop, {}
        return self._moved.setdefault(name, asyncio.Event())

    # ----------------------------------------------------------------- positions
    def _heard(self, payload: str) -> None:
        name, _, position = payload.rpartition(":")
        if name in self._stores and position.isdigit():
            self._advance(name, int(position))

    def _advance(self, name: str, position: int) -> None:
        store = self._stores[name]
        self._heads[store] = max(self._heads.get(store, 0), position)
        if position > self._known.get(name, 0):
            self._known[name] = position
            moved = self._moved.pop(name, None)
            if moved is not None:
                moved.set()

    async def _refresh(self) -> None:
        async with self._connection() as conn:
            await self._read(conn)

    async def _read(self, conn: AsyncConnection[Any]) -> None:
        """The truth: every store's head and every projection's position."""
        for store in self._tables:
            head = await self._head(conn, store)
            self._heads[store] = max(self._heads.get(store, 0), head)
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
        if self._pool is not None:
            async with self._pool.connection(timeout=self.timeout) as conn:
                yield conn
        else:
            async with await AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                yield conn
