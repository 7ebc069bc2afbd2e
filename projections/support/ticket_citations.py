"""Which changes cite which ticket: the way back from a ticket to the proxy settings made in
answer to it (`Ticket.changes`), the reverse of the `ticketId` every change records.

One row per subscriber event whose metadata cites a ticket id. Events stored before cited
tickets had to exist may carry free text there (a ticket number, say): those cite no ticket
id and are left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql

from domain.shared import ChangeMeta
from projections.runtime.base import Projection, RecordedEvent
from projections.subscribers import EVENT_CLASSES


def cited_ticket(meta: object) -> UUID | None:
    value = meta.ticket_id if isinstance(meta, ChangeMeta) else None
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class TicketCitationsProjection(Projection):
    name = "ticket_citations"
    store = "core"
    topics = frozenset(cls.TOPIC for cls in EVENT_CLASSES)
    tables = ("ticket_citations",)

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.ticket_citations ("
                " ticket_id uuid NOT NULL,"
                " position bigint NOT NULL,"
                " subscriber_id uuid NOT NULL,"
                " version int NOT NULL,"
                " PRIMARY KEY (ticket_id, position))"
            ).format(sql.Identifier(schema))
        )

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        rows = [
            (ticket, e.position, e.event.originator_id, e.event.originator_version)
            for e in events
            if (ticket := cited_ticket(getattr(e.event, "meta", None))) is not None
        ]
        if rows:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {}.ticket_citations (ticket_id, position, subscriber_id, version)"
                    " VALUES (%s, %s, %s, %s)"
                ).format(sql.Identifier(schema)),
                rows,
            )


class TicketCitationsQueries:
    """Reads rm.ticket_citations with the subscriber each change is to (rm.subscribers)."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect

    def citations(
        self, ticket_id: UUID, province: str | None, after_position: int, limit: int
    ) -> list[tuple[int, str]]:
        """(position, msisdn) of the changes citing the ticket, oldest first, to subscribers
        of `province` (None: every province)."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT c.position, s.msisdn"
                " FROM rm.ticket_citations c JOIN rm.subscribers s ON s.id = c.subscriber_id"
                " WHERE c.ticket_id = %s AND c.position > %s"
                " AND (%s::text IS NULL OR s.province = %s)"
                " ORDER BY c.position LIMIT %s",
                (ticket_id, after_position, province, province, limit),
            )
            return [(int(p), m) for p, m in cur.fetchall()]
