"""Announcement list read model: one row per announcement, current revision.

Status depends on the time asked at, so the window is stored and the status is derived at
query time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import dict_row

from domain.support.announcement import ANNOUNCEMENT_EVENTS, Announcement
from projections.runtime.base import Projection, RecordedEvent

_A: Any = Announcement


def _actor(e: Any) -> str:
    return e.meta.actor.account_id if e.meta is not None else ""


class AnnouncementsProjection(Projection):
    name = "announcements"
    store = "core"
    topics = frozenset(cls.TOPIC for cls in ANNOUNCEMENT_EVENTS)
    tables = ("announcements",)

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        s = sql.Identifier(schema)
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.announcements ("
                " id uuid PRIMARY KEY, title text NOT NULL, body text NOT NULL,"
                " severity text NOT NULL, provinces text[] NOT NULL,"
                " effective_from timestamptz NOT NULL, effective_until timestamptz,"
                " published_by text NOT NULL, published_at timestamptz NOT NULL,"
                " revised_at timestamptz, withdrawn_at timestamptz, withdrawn_reason text,"
                " version int NOT NULL)"
            ).format(s)
        )
        cur.execute(
            sql.SQL("CREATE INDEX ON {}.announcements (effective_from DESC, id DESC)").format(s)
        )

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        table = sql.SQL("{}.announcements").format(sql.Identifier(schema))
        for envelope in events:
            e = envelope.event
            if isinstance(e, _A.AnnouncementPublished):
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} (id, title, body, severity, provinces, effective_from,"
                        " effective_until, published_by, published_at, version)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    ).format(table),
                    (
                        e.originator_id,
                        e.title,
                        e.body,
                        e.severity,
                        list(e.provinces),
                        e.effective_from,
                        e.effective_until,
                        _actor(e),
                        e.at,
                        e.originator_version,
                    ),
                )
            elif isinstance(e, _A.AnnouncementRevised):
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET title = %s, body = %s, severity = %s, provinces = %s,"
                        " effective_from = %s, effective_until = %s, revised_at = %s,"
                        " version = %s WHERE id = %s"
                    ).format(table),
                    (
                        e.title,
                        e.body,
                        e.severity,
                        list(e.provinces),
                        e.effective_from,
                        e.effective_until,
                        e.at,
                        e.originator_version,
                        e.originator_id,
                    ),
                )
            elif isinstance(e, _A.AnnouncementWithdrawn):
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET withdrawn_at = %s, withdrawn_reason = %s, version = %s"
                        " WHERE id = %s"
                    ).format(table),
                    (e.at, e.reason, e.originator_version, e.originator_id),
                )


class AnnouncementsQueries:
    """Reads rm.announcements, newest effectiveFrom first, keyset pages."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect

    def list(
        self,
        active_at: datetime | None,
        province: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        where: list[str] = []
        params: list[Any] = []
        if active_at is not None:
            where.append(
                "withdrawn_at IS NULL AND effective_from <= %s"
                " AND (effective_until IS NULL OR effective_until > %s)"
            )
            params.extend([active_at, active_at])
        if province is not None:
            where.append("(cardinality(provinces) = 0 OR %s = ANY(provinces))")
            params.append(province)
        if after is not None:
            where.append("(effective_from, id) < (%s, %s)")
            params.extend(after)
        filters = (" WHERE " + " AND ".join(where)) if where else ""
        with self._connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT * FROM rm.announcements{filters}"
                " ORDER BY effective_from DESC, id DESC LIMIT %s",
                (*params, limit),
            )
            return cur.fetchall()

    def rows(self, ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
        """The current rows of these announcements (live updates), by id."""
        if not ids:
            return {}
        with self._connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute("SELECT * FROM rm.announcements WHERE id = ANY(%s)", (list(ids),))
            return {row["id"]: row for row in cur.fetchall()}
