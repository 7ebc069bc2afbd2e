"""Reading an event store in position order, decoded, for audit queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from application.ports import RecordedEvent

_COLUMNS = "notification_id, originator_id, originator_version, topic, state"


class PgEventLog:
    def __init__(self, store: Application[UUID], table: str) -> None:
        self._store = store
        self._datastore: Any = store.recorder.datastore  # type: ignore[attr-defined]
        self._table = sql.Identifier(table)

    def _decode(self, row: dict[str, Any]) -> RecordedEvent:
        stored = StoredEvent(
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        )
        return RecordedEvent(
            position=row["notification_id"],
            topic=row["topic"],
            event=self._store.mapper.to_domain_event(stored),
        )

    def feed(
        self, after_position: int, limit: int, topics: Sequence[str] = ()
    ) -> list[RecordedEvent]:
        query = sql.SQL("SELECT " + _COLUMNS + " FROM {} WHERE notification_id > %s").format(
            self._table
        )
        params: list[Any] = [after_position]
        if topics:
            query += sql.SQL(" AND topic = ANY(%s)")
            params.append(list(topics))
        query += sql.SQL(" ORDER BY notification_id LIMIT %s")
        params.append(limit)
        with self._datastore.get_connection() as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return [self._decode(row) for row in cur.fetchall()]

    def stream(
        self,
        originator_id: UUID,
        after_version: int,
        limit: int,
        descending: bool = False,
        *,
        topics: Sequence[str] = (),
        down_to_version: int = 1,
    ) -> list[RecordedEvent]:
        if descending:
            cond, order = "originator_version < %s AND originator_version >= %s", "DESC"
            params: list[Any] = [originator_id, after_version, down_to_version]
        else:
            cond, order = "originator_version > %s", "ASC"
            params = [originator_id, after_version]
        if topics:
            cond += " AND topic = ANY(%s)"
            params.append(list(topics))
        query = sql.SQL(
            "SELECT "
            + _COLUMNS
            + " FROM {} WHERE originator_id = %s AND "
            + cond
            + " ORDER BY originator_version "
            + order
            + " LIMIT %s"
        ).format(self._table)
        params.append(limit)
        with self._datastore.get_connection() as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return [self._decode(row) for row in cur.fetchall()]

    def at(self, positions: Sequence[int]) -> list[RecordedEvent]:
        query = sql.SQL(
            "SELECT " + _COLUMNS + " FROM {} WHERE notification_id = ANY(%s)"
            " ORDER BY notification_id"
        ).format(self._table)
        with self._datastore.get_connection() as conn, conn.cursor() as cur:
            cur.execute(query, (list(positions),))
            return [self._decode(row) for row in cur.fetchall()]

    def last_position(self, originator_id: UUID) -> int | None:
        query = sql.SQL(
            "SELECT notification_id FROM {} WHERE originator_id = %s"
            " ORDER BY originator_version DESC LIMIT 1"
        ).format(self._table)
        with self._datastore.get_connection() as conn, conn.cursor() as cur:
            cur.execute(query, (originator_id,))
            row = cur.fetchone()
            return int(row["notification_id"]) if row else None

    def head(self) -> int:
        with self._datastore.get_connection() as conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT coalesce(max(notification_id), 0) AS head FROM {}").format(
                    self._table
                )
            )
            row = cur.fetchone()
            return int(row["head"]) if row else 0
