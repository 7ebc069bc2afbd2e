"""The dispatcher's queue in PostgreSQL: one connection per endpoint this process leads,
holding the endpoint's advisory lock (one leader per endpoint across processes) and doing
that endpoint's reads and writes, so a sender that lost its connection lost its leadership
and can write nothing more. Outcomes are recorded in batches, one statement each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from application.webhooks.ports import DueDelivery, EndpointConfig, Outcome

_LOCK = "SELECT pg_try_advisory_lock(hashtext('spoa-webhook:' || %s))"

# Due candidates, oldest first; those behind an earlier PENDING delivery of their stream are
# parked in the same statement (and offered again when that one is final: `_RECORD`).
_DUE = """
WITH candidates AS (
    SELECT id, position, originator_id, attempts, attempts_at_requeue, next_attempt_at
    FROM webhook_deliveries
    WHERE endpoint_id = %(endpoint)s AND status = 'PENDING' AND NOT parked
      AND next_attempt_at <= %(now)s AND NOT (id = ANY(%(busy)s::uuid[]))
    ORDER BY next_attempt_at, position LIMIT %(limit)s
), checked AS (
    SELECT c.*, EXISTS (
        SELECT 1 FROM webhook_deliveries e
        WHERE e.endpoint_id = %(endpoint)s AND e.originator_id = c.originator_id
          AND e.status = 'PENDING' AND e.position < c.position
    ) AS blocked
    FROM candidates c
), parked AS (
    UPDATE webhook_deliveries d SET parked = true FROM checked
    WHERE d.id = checked.id AND checked.blocked
)
SELECT id, position, originator_id, attempts, attempts_at_requeue FROM checked
WHERE NOT blocked ORDER BY next_attempt_at, position
"""

# The outcomes, and for every stream whose delivery became final the next parked one
# (the statement's snapshot still shows the finished ones PENDING, but never parked).
_RECORD = """
WITH o AS (
    SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::int[], %s::int[], %s::text[],
        %s::timestamptz[], %s::timestamptz[], %s::timestamptz[])
        AS o(id, originator_id, status, attempts, code, error, at, next, delivered)
), updated AS (
    UPDATE webhook_deliveries d SET status = o.status, attempts = o.attempts,
        last_status_code = o.code, last_error = o.error, last_attempt_at = o.at,
        next_attempt_at = o.next, delivered_at = o.delivered
    FROM o WHERE d.id = o.id AND d.status = 'PENDING'
), released AS (
    SELECT DISTINCT ON (originator_id) id FROM webhook_deliveries
    WHERE endpoint_id = %s AND status = 'PENDING' AND parked
      AND originator_id IN (SELECT originator_id FROM o WHERE status <> 'PENDING')
    ORDER BY originator_id, position
)
UPDATE webhook_deliveries d SET parked = false FROM released WHERE d.id = released.id
"""


class PgEndpointQueue:
    def __init__(self, conn: psycopg.AsyncConnection[Any], endpoint_id: UUID) -> None:
        self.conn = conn
        self.endpoint_id = endpoint_id

    async def config(self) -> EndpointConfig | None:
        cur = await self.conn.execute(
            "SELECT id, url, enabled, secret_ciphertext, previous_secret_ciphertext, rotated_at"
            " FROM rm.webhook_endpoints WHERE id = %s",
            (self.endpoint_id,),
        )
        row = await cur.fetchone()
        return EndpointConfig(*row) if row is not None else None

    async def release_parked(self) -> None:
        await self.conn.execute(
            "UPDATE webhook_deliveries SET parked = false"
            " WHERE endpoint_id = %s AND status = 'PENDING' AND parked",
            (self.endpoint_id,),
        )

    async def due(self, now: datetime, limit: int, exclude: Collection[UUID]) -> list[DueDelivery]:
        cur = await self.conn.execute(
            _DUE,
            {"endpoint": self.endpoint_id, "now": now, "busy": list(exclude), "limit": limit},
            prepare=True,
        )
        return [DueDelivery(*row) for row in await cur.fetchall()]

    async def next_due_at(self, exclude: Collection[UUID]) -> datetime | None:
        cur = await self.conn.execute(
            "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE endpoint_id = %s"
            " AND status = 'PENDING' AND NOT parked AND NOT (id = ANY(%s::uuid[]))",
            (self.endpoint_id, list(exclude)),
            prepare=True,
        )
        row = await cur.fetchone()
        return row[0] if row else None

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        columns: tuple[list[Any], ...] = tuple([] for _ in range(9))
        for o in outcomes:
            for column, value in zip(
                columns,
                (
                    o.id,
                    o.originator_id,
                    o.status,
                    o.attempts,
                    o.status_code,
                    o.error,
                    o.attempted_at,
                    o.next_attempt_at,
                    o.delivered_at,
                ),
                strict=True,
            ):
                column.append(value)
        await self.conn.execute(_RECORD, (*columns, self.endpoint_id), prepare=True)


class PgDeliveryQueue:
    """Endpoints to lead, and the leadership of each (its connection and advisory lock)."""

    def __init__(self, conninfo: str, endpoint_ids: Callable[[], list[UUID]]) -> None:
        self.conninfo = conninfo
        self._endpoint_ids = endpoint_ids
        # Standing by costs one try per poll on a connection kept for it, not a new one.
        self._standby: dict[UUID, psycopg.AsyncConnection[Any]] = {}

    async def endpoint_ids(self) -> list[UUID]:
        return await asyncio.to_thread(self._endpoint_ids)

    @asynccontextmanager
    async def lead(self, endpoint_id: UUID) -> AsyncIterator[PgEndpointQueue | None]:
        conn = self._standby.pop(endpoint_id, None)
        if conn is None or conn.closed or conn.broken:
            conn = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, application_name="spoa-webhooks"
            )
        try:
            cur = await conn.execute(_LOCK, (str(endpoint_id),))
            row = await cur.fetchone()
        except BaseException:
            await conn.close()
            raise
        if not (row and row[0]):
            self._standby[endpoint_id] = conn
            yield None
            return
        try:
            yield PgEndpointQueue(conn, endpoint_id)
        finally:
            await conn.close()  # and with it the advisory lock

    async def aclose(self) -> None:
        for conn in self._standby.values():
            await conn.close()
        self._standby.clear()
