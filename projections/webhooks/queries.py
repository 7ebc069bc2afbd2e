"""The SQL that serves webhook endpoints and deliveries to queries, the CLI and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row

_ENDPOINT_COLUMNS = (
    "e.id, e.url, e.event_types, e.description, e.enabled, e.created_at, e.updated_at,"
    " e.secret_ciphertext, e.previous_secret_ciphertext, e.rotated_at, e.version"
)
_DELIVERY_COLUMNS = (
    "d.id, d.endpoint_id, d.position, d.event_type, d.status, d.attempts,"
    " d.attempts_at_requeue, d.last_status_code, d.last_error, d.last_attempt_at,"
    " CASE WHEN d.status = 'PENDING' THEN d.next_attempt_at END AS next_attempt_at,"
    " d.delivered_at, d.parked, e.url AS endpoint_url, e.event_types AS endpoint_event_types,"
    " e.description AS endpoint_description, e.enabled AS endpoint_enabled,"
    " e.created_at AS endpoint_created_at"
)
# (A delivery's endpoint row is written by the same log follower, in an earlier or the same
# step, so the join always finds it.)
_FROM = " FROM webhook_deliveries d JOIN rm.webhook_endpoints e ON e.id = d.endpoint_id"


class WebhookQueries:
    """Reads `rm.webhook_endpoints` and `webhook_deliveries`, each row as a dict."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return list(cur.fetchall())

    def endpoints(self) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT " + _ENDPOINT_COLUMNS + " FROM rm.webhook_endpoints e ORDER BY created_at, id"
        )

    def endpoint(self, endpoint_id: UUID) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT " + _ENDPOINT_COLUMNS + " FROM rm.webhook_endpoints e WHERE e.id = %s",
            (endpoint_id,),
        )
        return rows[0] if rows else None

    def deliveries(
        self,
        status: str | None,
        endpoint_id: UUID | None,
        before: tuple[int, UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Newest event first (then by id), after the keyset `before` when given."""
        where, params = [], []
        if status is not None:
            where.append("d.status = %s")
            params.append(status)
        if endpoint_id is not None:
            where.append("d.endpoint_id = %s")
            params.append(endpoint_id)
        if before is not None:
            where.append("(d.position, d.id) < (%s, %s)")
            params.extend(before)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        params.append(limit)
        return self._rows(
            "SELECT "
            + _DELIVERY_COLUMNS
            + _FROM
            + clause
            + " ORDER BY d.position DESC, d.id DESC LIMIT %s",
            params,
        )

    def delivery(self, delivery_id: UUID) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT " + _DELIVERY_COLUMNS + _FROM + " WHERE d.id = %s", (delivery_id,)
        )
        return rows[0] if rows else None

    def deliveries_at(self, positions: Sequence[int]) -> list[dict[str, Any]]:
        """The deliveries of the events at these core positions, by position and endpoint."""
        if not positions:
            return []
        return self._rows(
            "SELECT " + _DELIVERY_COLUMNS + _FROM + " WHERE d.position = ANY(%s)"
            " ORDER BY d.position, e.created_at, d.endpoint_id",
            (list(positions),),
        )

    def counts(self) -> list[tuple[UUID, str, int]]:
        """Deliveries not delivered, per endpoint and status (for /metrics)."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT endpoint_id, status, count(*) FROM webhook_deliveries"
                " WHERE status IN ('PENDING', 'FAILED', 'DEAD') GROUP BY endpoint_id, status"
            )
            return [(r[0], r[1], int(r[2])) for r in cur.fetchall()]
