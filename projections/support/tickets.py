"""Ticket list read model: one row per visible ticket, for `tickets(filter)` with search.

Due times are stored; whether a ticket is overdue depends on the time asked at, so it is
decided at query time (handlers stay pure functions of the events). Drafts have rows too,
served only to their author and to callers who list every draft (the filter says which).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from domain.support.lifecycle import CLOCK_RUNS_IN, INITIAL_STATE, TicketCommand, TicketState
from domain.support.lifecycle import next_state as lifecycle_next
from domain.support.numbers import provisional_number
from domain.support.ticket import TICKET_EVENTS, Ticket
from domain.support.values import EntryKind
from projections.runtime.base import Projection, RecordedEvent
from projections.support.ticket_search import document_tokens, normalize, query_words, word_tokens

COLUMNS = (
    "id",
    "number",
    "province",
    "status",
    "category",
    "priority",
    "msisdn",
    "title",
    "created_by",
    "created_at",
    "draft_body",
    "draft_saved_by",
    "draft_saved_at",
    "submitted_at",
    "first_answered_at",
    "answered_at",
    "closed_at",
    "due_at",
    "entries",
    "resolution_category",
    "root_cause",
    "resolution",
    "tags",
    "rating_score",
    "rating_comment",
    "rated_at",
    "version",
    "assignee",
    "search_text",
    "search_tokens",
)
SHOWN = tuple(c for c in COLUMNS if not c.startswith("search_"))
WAITING = sorted(s.value for s in CLOCK_RUNS_IN)

_T: Any = Ticket
_COMMANDS: dict[type[Any], TicketCommand] = {
    _T.TicketDraftEdited: TicketCommand.SAVE_DRAFT,
    _T.TicketDraftDiscarded: TicketCommand.DISCARD,
    _T.TicketSubmitted: TicketCommand.SUBMIT,
    _T.TicketAnswered: TicketCommand.ANSWER,
    _T.TicketResubmitted: TicketCommand.RESUBMIT,
    _T.TicketRated: TicketCommand.RATE,
    _T.TicketArchiveUpdated: TicketCommand.UPDATE_ARCHIVE,
    _T.TicketClaimed: TicketCommand.CLAIM,
    _T.TicketAssigned: TicketCommand.ASSIGN,
    _T.TicketUnassigned: TicketCommand.UNASSIGN,
}


def _actor(e: Any) -> str:
    return e.meta.actor.account_id if e.meta is not None else ""


def _entry(kind: EntryKind, body: str, e: Any) -> dict[str, Any]:
    return {"kind": kind.value, "body": body, "author_id": _actor(e), "at": e.at.isoformat()}


def apply_event(row: dict[str, Any] | None, e: Any) -> dict[str, Any] | None:
    """The row after one event (None: the ticket is not listed). Pure."""
    if isinstance(e, _T.TicketDrafted):
        row = dict.fromkeys(COLUMNS)
        row.update(
            id=e.originator_id,
            number=provisional_number(e.province, e.originator_id),
            province=e.province,
            status=INITIAL_STATE.value,
            category=e.category,
            priority=e.priority,
            msisdn=e.msisdn,
            title=e.title,
            created_by=_actor(e),
            created_at=e.at,
            draft_body=e.body,
            draft_saved_by=_actor(e),
            draft_saved_at=e.at,
            entries=[],
            tags=[],
        )
    elif row is None:
        return None
    else:
        row = dict(row)
        row["status"] = lifecycle_next(TicketState(row["status"]), _COMMANDS[type(e)]).value
        if isinstance(e, _T.TicketDraftEdited):
            row.update(
                title=e.title,
                draft_body=e.body,
                category=e.category,
                priority=e.priority,
                msisdn=e.msisdn,
                draft_saved_by=_actor(e),
                draft_saved_at=e.at,
            )
        elif isinstance(e, _T.TicketDraftDiscarded):
            return None
        elif isinstance(e, _T.TicketSubmitted):
            row.update(number=e.number, submitted_at=e.at, due_at=e.due_at)
            row["entries"] = [*row["entries"], _entry(EntryKind.SUBMISSION, row["draft_body"], e)]
        elif isinstance(e, _T.TicketAnswered):
            row.update(answered_at=e.at, due_at=None)
            row["first_answered_at"] = row["first_answered_at"] or e.at
            row["entries"] = [*row["entries"], _entry(EntryKind.ANSWER, e.body, e)]
        elif isinstance(e, _T.TicketResubmitted):
            row["due_at"] = e.due_at
            row["entries"] = [*row["entries"], _entry(EntryKind.RESUBMISSION, e.body, e)]
        elif isinstance(e, _T.TicketRated):
            row.update(
                closed_at=e.at, rating_score=e.score, rating_comment=e.comment, rated_at=e.at
            )
            row["entries"] = [*row["entries"], _entry(EntryKind.RATING, e.comment or "", e)]
        elif isinstance(e, _T.TicketArchiveUpdated):
            row.update(
                resolution_category=e.resolution_category,
                root_cause=e.root_cause,
                resolution=e.resolution,
                tags=list(e.tags),
            )
        elif isinstance(e, _T.TicketClaimed | _T.TicketAssigned | _T.TicketUnassigned):
            row["assignee"] = e.assignee
    row["version"] = e.originator_version
    parts = [row["title"]]
    if row["status"] == TicketState.DRAFT.value:
        parts.append(row["draft_body"])
    parts.extend(entry["body"] for entry in row["entries"])
    text = "\n".join(p for p in parts if p)
    row["search_text"] = normalize(text)
    row["search_tokens"] = document_tokens(text)
    return row


class TicketsProjection(Projection):
    name = "tickets"
    store = "core"
    topics = frozenset(cls.TOPIC for cls in TICKET_EVENTS)
    tables = ("tickets",)
    version = 2  # the queue: an assignee column and its indexes

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        s = sql.Identifier(schema)
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.tickets ("
                " id uuid PRIMARY KEY, number text NOT NULL, province text NOT NULL,"
                " status text NOT NULL, category text NOT NULL, priority text NOT NULL,"
                " msisdn text, title text NOT NULL, created_by text NOT NULL,"
                " created_at timestamptz NOT NULL, draft_body text NOT NULL,"
                " draft_saved_by text NOT NULL, draft_saved_at timestamptz NOT NULL,"
                " submitted_at timestamptz, first_answered_at timestamptz,"
                " answered_at timestamptz, closed_at timestamptz, due_at timestamptz,"
                " entries jsonb NOT NULL, resolution_category text, root_cause text,"
                " resolution text, tags text[] NOT NULL, rating_score int,"
                " rating_comment text, rated_at timestamptz, version int NOT NULL,"
                " assignee text, search_text text NOT NULL, search_tokens text[] NOT NULL)"
            ).format(s)
        )
        for index in (
            "(created_at DESC, id DESC)",
            "(province, created_at DESC, id DESC)",
            "(status, created_at DESC, id DESC)",
            "(msisdn) WHERE msisdn IS NOT NULL",
            "(due_at) WHERE status IN ('SUBMITTED', 'RESUBMITTED')",
            "USING gin (search_tokens)",
            # second line's queue: someone's tickets, nobody's, and the caller's own
            "(assignee, created_at DESC, id DESC) WHERE assignee IS NOT NULL",
            "(created_at DESC, id DESC) WHERE assignee IS NULL",
            "(created_by, created_at DESC, id DESC)",
        ):
            cur.execute(sql.SQL("CREATE INDEX ON {}.tickets " + index).format(s))

    def __init__(self) -> None:
        self._complete: set[str] = set()

    def _columns(self, cur: Cursor[Any], schema: str) -> tuple[str, ...]:
        """The columns of this generation's table. The previous version's has no assignee,
        and is applied to without it until the rebuild's swap."""
        if schema in self._complete:
            return COLUMNS
        cur.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'tickets'",
            (schema,),
        )
        present = {r[0] for r in cur.fetchall()}
        if present >= set(COLUMNS):
            self._complete.add(schema)
        return tuple(c for c in COLUMNS if c in present)

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        table = sql.SQL("{}.tickets").format(sql.Identifier(schema))
        columns = self._columns(cur, schema)
        ids = list(dict.fromkeys(env.event.originator_id for env in events))
        cur.execute(
            sql.SQL("SELECT {} FROM {} WHERE id = ANY(%s)").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), table
            ),
            (ids,),
        )
        rows: dict[UUID, dict[str, Any] | None] = {
            r[0]: dict.fromkeys(COLUMNS) | dict(zip(columns, r, strict=True))
            for r in cur.fetchall()
        }
        for env in events:
            e = env.event
            rows[e.originator_id] = apply_event(rows.get(e.originator_id), e)
        gone = [i for i in ids if rows.get(i) is None]
        if gone:
            cur.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(table), (gone,))
        kept = [row for i in ids if (row := rows.get(i)) is not None]
        if not kept:
            return
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns[1:]
        )
        cur.executemany(
            sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}").format(
                table, cols, sql.SQL(", ").join(sql.Placeholder() * len(columns)), updates
            ),
            [tuple(Jsonb(r[c]) if c == "entries" else r[c] for c in columns) for r in kept],
        )


class TicketsQueries:
    """Reads rm.tickets: filters, Chinese-capable text search, newest first, keyset pages."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect
        self._assignee_served = False

    def _assignee(self, cur: Cursor[Any]) -> str:
        """The assignee column, or NULL while the previous version's tables (which have none)
        still serve, until the rebuild's swap."""
        if not self._assignee_served:
            cur.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = 'rm'"
                " AND table_name = 'tickets' AND column_name = 'assignee'"
            )
            self._assignee_served = cur.fetchone() is not None
        return "assignee" if self._assignee_served else "NULL::text"

    def search(
        self,
        f: Any,
        now: datetime,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        with self._connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            assignee = self._assignee(cur)
            where, params = self._filters(f, now, assignee)
            filters = (" WHERE " + " AND ".join(where)) if where else ""
            page_where, page_params = list(where), list(params)
            if after is not None:
                page_where.append("(created_at, id) < (%s, %s)")
                page_params.extend(after)
            page_filters = (" WHERE " + " AND ".join(page_where)) if page_where else ""
            selected = ", ".join(f"{assignee} AS {c}" if c == "assignee" else c for c in SHOWN)
            cur.execute(
                f"SELECT {selected} FROM rm.tickets{page_filters}"
                " ORDER BY created_at DESC, id DESC LIMIT %s",
                (*page_params, limit),
            )
            rows = cur.fetchall()
            cur.execute(f"SELECT count(*) AS n FROM rm.tickets{filters}", params)
            total = cur.fetchone()
        return rows, int(total["n"]) if total else 0

    def matching(
        self, filters: Sequence[Any], ids: Sequence[UUID], now: datetime
    ) -> tuple[dict[UUID, dict[str, Any]], list[set[UUID]]]:
        """Which of the tickets `ids` each filter lists (the list's own conditions, all filters
        in one statement): the rows any filter matched, and per filter the ids it matched."""
        matched: list[set[UUID]] = [set() for _ in filters]
        rows: dict[UUID, dict[str, Any]] = {}
        if not filters or not ids:
            return rows, matched
        with self._connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            assignee = self._assignee(cur)
            columns, params = [], []
            for n, f in enumerate(filters):
                where, values = self._filters(f, now, assignee)
                columns.append(f"({' AND '.join(where) or 'true'}) AS m{n}")
                params.extend(values)
            selected = ", ".join(f"{assignee} AS {c}" if c == "assignee" else c for c in SHOWN)
            cur.execute(
                f"SELECT {selected}, {', '.join(columns)} FROM rm.tickets WHERE id = ANY(%s)",
                (*params, list(ids)),
            )
            for row in cur.fetchall():
                hits = [n for n in range(len(filters)) if row.pop(f"m{n}")]
                for n in hits:
                    matched[n].add(row["id"])
                if hits:
                    rows[row["id"]] = row
        return rows, matched

    @staticmethod
    def _filters(f: Any, now: datetime, assignee: str) -> tuple[list[str], list[Any]]:
        """The WHERE clauses of a filter (the caller's scope and draft privacy included)."""
        where: list[str] = []
        params: list[Any] = []

        def add(clause: str, *values: Any) -> None:
            where.append(clause)
            params.extend(values)

        if f.statuses:
            add("status = ANY(%s)", list(f.statuses))
        if f.categories:
            add("category = ANY(%s)", list(f.categories))
        if f.province is not None:
            add("province = %s", f.province)
        if f.msisdn is not None:
            add("msisdn = %s", f.msisdn)
        if f.created_from is not None:
            add("created_at >= %s", f.created_from)
        if f.created_to is not None:
            add("created_at < %s", f.created_to)
        if f.overdue is not None:
            overdue = "(status = ANY(%s) AND due_at IS NOT NULL AND due_at < %s)"
            add(overdue if f.overdue else f"NOT {overdue}", WAITING, now)
        me = f.viewer or ""
        if not f.every_draft:
            add("(status <> %s OR created_by = %s)", TicketState.DRAFT.value, me)
        if f.assignee is not None:
            add(f"{assignee} = %s", f.assignee)
        if f.unassigned is not None:
            add(f"{assignee} IS NULL" if f.unassigned else f"{assignee} IS NOT NULL")
        if f.mine is True:
            add(f"(created_by = %s OR {assignee} = %s)", me, me)
        elif f.mine is False:
            add(f"created_by <> %s AND ({assignee} IS NULL OR {assignee} <> %s)", me, me)
        for word in query_words(f.text or ""):
            add(
                "search_tokens @> %s::text[] AND strpos(search_text, %s) > 0",
                word_tokens(word),
                word,
            )
        return where, params
