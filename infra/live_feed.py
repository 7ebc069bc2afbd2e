"""The core log, followed for live updates (GraphQL subscriptions): one feed per serving process.

Like a projection, the feed follows the log with its own positions (design decision 11): for
each read model it follows (`tickets`, `announcements`, ...), it reads the events of that read
model's topics once that read model has applied them, in position order, and hands each batch
to its handler. So an update is never about an event that was not committed, a follow-up query
with `consistentWith: <position>` finds the read model at least there, and no committed event
is skipped (positions are read in ranges up to what the read model has applied).

The wake-up is the projection waiter's own LISTEN connection (`infra.consistency`): no polling
per socket and no second listener; the waiter's re-reads every poll interval are the truth, so
a lost notification delays updates by at most that interval. The feed starts at the positions
the read models had when it started (a socket hears of what happens after it subscribed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import AsyncConnection, sql

from infra.consistency import ProjectionWaiter
from projections.runtime.base import StoreSource

log = logging.getLogger(__name__)

PAGE = 500  # events read at once; a backlog is read page by page
RETRY_SECONDS = 1.0

_POSITIONS = (
    "SELECT r.name, t.position FROM projection_registry r JOIN projection_tracking t"
    " ON t.name = r.name AND t.generation = r.active_generation"
)


@dataclass(frozen=True)
class LiveEvent:
    """One committed event the followed read model has applied."""

    position: int
    originator_id: UUID
    topic: str
    event: Any


Handler = Callable[[list[LiveEvent]], Awaitable[None]]


@dataclass
class _Follower:
    projection: str
    topics: list[str]
    handler: Handler
    active: Callable[[], bool]
    cursor: int = 0


class LiveFeed:
    """Follows the core store for the live-update hub of one process."""

    def __init__(
        self,
        conninfo: str,
        source: StoreSource,
        waiter: ProjectionWaiter,
        topics: dict[str, frozenset[str]],
        poll_seconds: float,
    ) -> None:
        self._conninfo = conninfo
        self._source = source
        self._waiter = waiter
        self._topics = topics  # each followable read model's topics
        self._poll = poll_seconds
        self._followers: list[_Follower] = []
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._unwatch: Callable[[], None] | None = None
        self._conn: AsyncConnection[Any] | None = None

    def follow(
        self,
        projection: str,
        handler: Handler,
        *,
        topics: frozenset[str] | None = None,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        """Hand `handler` every event of `projection`'s topics (or of `topics`, a subset) once
        that projection has applied it; while `active()` is false the events are skipped
        unread (nobody listens). Call before `start`."""
        wanted = self._topics[projection] if topics is None else topics
        self._followers.append(_Follower(projection, sorted(wanted), handler, active))

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        positions = await self._positions()
        for follower in self._followers:
            follower.cursor = positions.get(follower.projection, 0)
        self._unwatch = self._waiter.watch(self._moved)
        self._task = asyncio.create_task(self._run(), name="spoa-live-feed")

    async def stop(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):
                await conn.close()

    def _moved(self, name: str, _position: int) -> None:
        """From the waiter's listener (maybe another loop): wake the feed."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        if not any(f.projection == name for f in self._followers):
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()
            self._wake.clear()
            try:
                for follower in self._followers:
                    await self._catch_up(follower)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: the positions stay, retry
                log.warning("live updates: reading the log failed (%s); retrying", exc)
                await self._drop_connection()
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()

    async def _catch_up(self, follower: _Follower) -> None:
        ready = self._waiter.applied(follower.projection)
        while follower.cursor < ready:
            if not follower.active():
                follower.cursor = ready  # nobody listens: nothing to read
                return
            events, last = await self._read(follower, ready)
            follower.cursor = last
            if events:
                try:
                    await follower.handler(events)
                except asyncio.CancelledError:
                    raise
                except Exception:  # one handler's failure must not stop the others
                    log.exception("live updates: a %s handler failed", follower.projection)

    async def _read(self, follower: _Follower, ready: int) -> tuple[list[LiveEvent], int]:
        """The events after the follower's cursor up to `ready` (a page), and where it ends."""
        conn = await self._connection()
        query = sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}"
            " WHERE notification_id > %s AND notification_id <= %s AND topic = ANY(%s)"
            " ORDER BY notification_id LIMIT %s"
        ).format(sql.Identifier(self._source.table))
        cur = await conn.execute(query, (follower.cursor, ready, follower.topics, PAGE))
        rows = await cur.fetchall()
        last = rows[-1][0] if len(rows) == PAGE else ready
        mapper = self._source.mapper
        events = [
            LiveEvent(
                position=row[0],
                originator_id=row[1],
                topic=row[3],
                event=mapper.to_domain_event(
                    StoredEvent(
                        originator_id=row[1],
                        originator_version=row[2],
                        topic=row[3],
                        state=bytes(row[4]),
                    )
                ),
            )
            for row in rows
        ]
        return events, last

    async def _positions(self) -> dict[str, int]:
        conn = await self._connection()
        cur = await conn.execute(_POSITIONS)
        return {name: int(position) for name, position in await cur.fetchall()}

    async def _connection(self) -> AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await AsyncConnection.connect(
                self._conninfo, autocommit=True, application_name="spoa-live-feed"
            )
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):
                await conn.close()
