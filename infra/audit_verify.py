"""`spoa audit verify`: recompute the hash chain from the core events and compare.

The events are read in position order and every link recomputed from the stored bytes
(projections/audit/chain.py). Each recomputed link is compared with the link the audit
projection kept for that position, with the sealed checkpoints, and with anchors the auditor
kept outside the system. The first position where they disagree is reported:

- an event whose bytes, stream, version or type changed (or two events swapped places):
  its link differs from the kept one;
- a deleted event: the chain has a link for a position that has no event any more;
- an event slipped in between: a position below the chain's head with no link.

If someone also rewrote the kept links, the checkpoints (and outside anchors) still catch it,
at the first checkpoint after the change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from projections.audit.chain import GENESIS, chain_link

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class VerifyReport:
    intact: bool
    events_checked: int
    chained_through: int  # the last position the audit projection has chained
    unchained: int  # events after it (the projection's lag): recomputed, nothing to compare
    checkpoints_checked: int
    anchors_checked: int
    first_bad_position: int | None = None
    problem: str | None = None


def load_anchors(text: str) -> dict[int, str]:
    """Checkpoints kept outside: a GraphQL auditCheckpoints response, a JSON list, or NDJSON
    of objects with `position` and `chainHash` (or `chain_hash`)."""
    try:
        documents: list[Any] = [json.loads(text)]
    except ValueError:
        documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    anchors: dict[int, str] = {}

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            chain_hash = value.get("chainHash", value.get("chain_hash"))
            if isinstance(value.get("position"), int) and isinstance(chain_hash, str):
                anchors[value["position"]] = chain_hash.lower()
            else:
                for item in value.values():
                    walk(item)

    walk(documents)
    return anchors


class ChainVerifier:
    def __init__(self, conninfo: str, events_table: str, page_size: int = 10_000) -> None:
        self._conninfo = conninfo
        self._table = sql.Identifier(events_table)
        self._page = page_size

    def verify(
        self, anchors: Mapping[int, str] | None = None, progress: Progress | None = None
    ) -> VerifyReport:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            return _Run(conn, self._table, self._page, dict(anchors or {}), progress).run()


class _Run:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        table: sql.Identifier,
        page: int,
        anchors: dict[int, str],
        progress: Progress | None,
    ) -> None:
        self.conn = conn
        self.table = table
        self.page = page
        self.anchors = anchors
        self.progress = progress
        self.link = GENESIS
        self.checked = self.checkpoints_checked = self.anchors_checked = 0

    def run(self) -> VerifyReport:
        with self.conn.cursor(binary=True) as cur:
            cur.execute("SELECT position FROM rm.audit_chain_head")
            row = cur.fetchone()
            self.chain_head = int(row[0]) if row else 0
            cur.execute(
                sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(self.table)
            )
            row = cur.fetchone()
            store_head = int(row[0]) if row else 0
            cur.execute("SELECT position, chain_hash FROM rm.audit_checkpoints")
            self.seals = {int(p): h for p, h in cur.fetchall()}
        last = 0
        if self.progress:
            self.progress(0, store_head)
        while True:
            events = self._events(last, store_head)
            upper = events[-1][0] if events else max(self.chain_head, last)
            links = self._links(last, min(upper, self.chain_head)) if last < self.chain_head else {}
            bad = self._compare(events, links, last, upper)
            if bad is not None:
                return self._report(bad[0], bad[1])
            if self.progress:
                self.progress(upper if events else store_head, store_head)
            if not events:
                break
            last = upper
        return self._report(None, None, unchained=max(store_head - self.chain_head, 0))

    def _events(self, after: int, head: int) -> list[tuple[Any, ...]]:
        with self.conn.cursor(binary=True) as cur:
            cur.execute(
                sql.SQL(
                    "SELECT notification_id, uuid_send(originator_id), originator_version,"
                    " topic, state FROM {} WHERE notification_id > %s AND notification_id <= %s"
                    " ORDER BY notification_id LIMIT %s"
                ).format(self.table),
                (after, head, self.page),
            )
            return cur.fetchall()

    def _links(self, after: int, upto: int) -> dict[int, bytes]:
        with self.conn.cursor(binary=True) as cur:
            cur.execute(
                "SELECT position, link FROM rm.audit_chain WHERE position > %s AND position <= %s",
                (after, upto),
            )
            return {int(p): bytes(link) for p, link in cur.fetchall()}

    def _compare(
        self, events: list[tuple[Any, ...]], links: dict[int, bytes], low: int, high: int
    ) -> tuple[int, str] | None:
        seals = sorted(p for p in (*self.seals, *self.anchors) if low < p <= high)
        present = {row[0] for row in events}
        # Positions the chain (or a seal) knows that no event holds any more: deleted events.
        missing = sorted(p for p in (*links, *seals) if p not in present)
        next_missing = missing[0] if missing else None
        for position, originator, version, topic, state in events:
            if next_missing is not None and next_missing < position:
                return next_missing, "the chain has a link here but the event is gone (deleted)"
            self.link = chain_link(
                self.link, position, bytes(originator), version, topic, bytes(state)
            )
            self.checked += 1
            kept = links.get(position)
            if kept is not None and kept != self.link:
                return position, (
                    "the stored event does not match the chain (modified, moved or reordered)"
                )
            if kept is None and position <= self.chain_head:
                return position, "this event is not in the chain (inserted after sealing)"
            problem = self._check_seals(position)
            if problem is not None:
                return position, problem
        if next_missing is not None:
            return next_missing, "the chain has a link here but the event is gone (deleted)"
        return None

    def _check_seals(self, position: int) -> str | None:
        digest = self.link.hex()
        if position in self.seals:
            self.checkpoints_checked += 1
            if self.seals[position] != digest:
                return "the chain disagrees with the checkpoint sealed here (chain rewritten)"
        if position in self.anchors:
            self.anchors_checked += 1
            if self.anchors[position] != digest:
                return "the chain disagrees with the anchor kept outside the system"
        return None

    def _report(
        self, position: int | None, problem: str | None, unchained: int = 0
    ) -> VerifyReport:
        return VerifyReport(
            intact=position is None,
            events_checked=self.checked,
            chained_through=self.chain_head,
            unchained=unchained,
            checkpoints_checked=self.checkpoints_checked,
            anchors_checked=self.anchors_checked,
            first_bad_position=position,
            problem=problem,
        )
