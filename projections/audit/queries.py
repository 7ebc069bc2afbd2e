"""Reading the audit projection: checkpoints, and the version of a stream current at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from projections.audit.chain import event_times, load_state


@dataclass(frozen=True)
class CheckpointRow:
    position: int
    chain_hash: str
    sealed_at: datetime
    events: int


class AuditCheckpoints:
    """rm.audit_checkpoints, newest first, keyset-paged by position; and the chain's head."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect

    def checkpoints(self, before_position: int | None, limit: int) -> list[CheckpointRow]:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT position, chain_hash, sealed_at, events FROM rm.audit_checkpoints"
                " WHERE position < %s ORDER BY position DESC LIMIT %s",
                (before_position if before_position is not None else 2**63 - 1, limit),
            )
            return [CheckpointRow(*row) for row in cur.fetchall()]

    def sealed_after(self, position: int, limit: int = 1000) -> list[tuple[int, str]]:
        """(position, chain hash) of the checkpoints after `position`, oldest first."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT position, chain_hash FROM rm.audit_checkpoints WHERE position > %s"
                " ORDER BY position LIMIT %s",
                (position, limit),
            )
            return [(int(p), str(h)) for p, h in cur.fetchall()]

    def head(self) -> tuple[int, str] | None:
        """(position, link as hex) of the chain's latest link; None before the first event."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT position, link FROM rm.audit_chain_head WHERE position > 0")
            row = cur.fetchone()
            return (int(row[0]), bytes(row[1]).hex()) if row else None


class StreamTimeline:
    """The version of a stream current at a time.

    With the audit projection (`indexed=True`, core store) this is one index probe on
    rm.audit_versions plus a read of the stream's events the projection has not applied yet
    (none, unless it lags). Without it (feed store) the stream's own events are read in version
    order until the first later one.
    """

    def __init__(self, connect: Any, events_table: str, indexed: bool) -> None:
        self._connect = connect
        self._table = sql.Identifier(events_table)
        self._indexed = indexed

    def version_at(self, originator_id: UUID, at: datetime) -> int | None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        with self._connect() as conn, conn.cursor() as cur:
            found: int | None = None
            last = 0
            if self._indexed:
                cur.execute(
                    "SELECT (SELECT version FROM rm.audit_versions"
                    "        WHERE originator_id = %(id)s AND effective_at <= %(at)s"
                    "        ORDER BY effective_at DESC, version DESC LIMIT 1),"
                    "       (SELECT max(version) FROM rm.audit_versions"
                    "        WHERE originator_id = %(id)s)",
                    {"id": originator_id, "at": at},
                )
                row = cur.fetchone()
                found, last = (row[0], row[1] or 0) if row else (None, 0)
                if last and found != last:
                    return found  # a later event (already indexed) happened after `at`
            # Events of the stream not indexed yet: the projection's lag, or no projection.
            cur.execute(
                sql.SQL(
                    "SELECT originator_version, state FROM {} WHERE originator_id = %s"
                    " AND originator_version > %s ORDER BY originator_version"
                ).format(self._table),
                (originator_id, last),
            )
            for version, state in cur:
                occurred, _ = event_times(load_state(bytes(state)))
                if occurred > at:
                    break
                found = version
            return found
