"""Ticket reads: one ticket (now or as it was), its history from the store, and the list.

Every read checks TICKET_READ; a province-scoped caller gets FORBIDDEN for another
province's ticket and lists silently filtered to their own province (counts included). A
draft is private to its author (drafts.py): null for others by id, absent from their lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application

from application.audit.ports import AggregateAsOf
from application.audit.service import AuditEntry, to_entry
from application.authz import Principal
from application.consistency import wait_until_applied
from application.ports import Clock, EventLog, ReadModelWaiter
from application.support import drafts
from application.support.tickets import load_ticket
from domain.access.permissions import Permission
from domain.shared import NotFoundError, ValidationError
from domain.support.lifecycle import CLOCK_RUNS_IN, TicketState
from domain.support.numbers import provisional_number
from domain.support.ticket import Ticket
from domain.support.values import EntryKind, validate_msisdn
from domain.text import Text

TICKETS_PROJECTION = "tickets"
CITATIONS_PROJECTION = "ticket_citations"
SUBSCRIBERS_PROJECTION = "subscribers"
MAX_SEARCH_TEXT = 200
SEARCH_TEXT = Text("text", MAX_SEARCH_TEXT, what="search text", too_long_code="INVALID_INPUT")
_READ = Permission.TICKET_READ
_TICKET_TOPIC_PREFIX = Ticket.TOPIC + "."


@dataclass(frozen=True)
class EntryView:
    kind: str
    body: str
    author_id: str
    at: datetime


@dataclass(frozen=True)
class ArchiveView:
    resolution_category: str | None
    root_cause: str | None
    resolution: str | None
    tags: list[str]


@dataclass(frozen=True)
class RatingView:
    score: int
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class TicketView:
    """A ticket as readers see it, from the aggregate or from the list projection alike."""

    id: UUID
    number: str
    title: str
    category: str
    priority: str
    province: str
    msisdn: str | None
    status: str
    created_by_id: str
    created_at: datetime
    submitted_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    due_at: datetime | None
    overdue: bool
    entries: list[EntryView]
    archive: ArchiveView
    rating: RatingView | None
    version: int
    assignee_id: str | None = None


def is_overdue(status: str, due_at: datetime | None, now: datetime) -> bool:
    """An answer is awaited and its due time has passed (the same rule as Ticket.is_overdue)."""
    return TicketState(status) in CLOCK_RUNS_IN and due_at is not None and now > due_at


def view_of(t: Ticket, now: datetime) -> TicketView:
    entries = [EntryView(e.kind, e.body, e.author_id, e.at) for e in t.entries]
    if t.status is TicketState.DRAFT:
        # A draft's body is shown as its (not yet sent) submission.
        entries = [
            EntryView(EntryKind.SUBMISSION.value, t.body, t.draft_saved_by, t.draft_saved_at)
        ]
    return TicketView(
        id=t.id,
        number=t.number or provisional_number(t.province, t.id),
        title=t.title,
        category=t.category.value,
        priority=t.priority.value,
        province=t.province,
        msisdn=t.msisdn,
        status=t.status.value,
        created_by_id=t.created_by,
        created_at=t.created_at,
        submitted_at=t.submitted_at,
        answered_at=t.answered_at,
        closed_at=t.closed_at,
        due_at=t.due_at,
        overdue=t.is_overdue(now),
        entries=entries,
        archive=ArchiveView(
            t.archive.resolution_category,
            t.archive.root_cause,
            t.archive.resolution,
            list(t.archive.tags),
        ),
        rating=RatingView(t.rating.score, t.rating.comment, t.rating.at) if t.rating else None,
        version=t.version,
        assignee_id=t.assignee,
    )


def view_from_row(row: Mapping[str, Any], now: datetime) -> TicketView:
    """A ticket from its projection row (columns as in projections/support/tickets.py)."""
    entries = [
        EntryView(e["kind"], e["body"], e["author_id"], datetime.fromisoformat(e["at"]))
        for e in row["entries"]
    ]
    if row["status"] == TicketState.DRAFT.value:
        entries = [
            EntryView(
                EntryKind.SUBMISSION.value,
                row["draft_body"],
                row["draft_saved_by"],
                row["draft_saved_at"],
            )
        ]
    rating = None
    if row["rating_score"] is not None:
        rating = RatingView(row["rating_score"], row["rating_comment"], row["rated_at"])
    return TicketView(
        id=row["id"],
        number=row["number"],
        title=row["title"],
        category=row["category"],
        priority=row["priority"],
        province=row["province"],
        msisdn=row["msisdn"],
        status=row["status"],
        created_by_id=row["created_by"],
        created_at=row["created_at"],
        submitted_at=row["submitted_at"],
        answered_at=row["answered_at"],
        closed_at=row["closed_at"],
        due_at=row["due_at"],
        overdue=is_overdue(row["status"], row["due_at"], now),
        entries=entries,
        archive=ArchiveView(
            row["resolution_category"], row["root_cause"], row["resolution"], list(row["tags"])
        ),
        rating=rating,
        version=row["version"],
        assignee_id=row["assignee"],
    )


@dataclass(frozen=True)
class TicketFilter:
    statuses: Sequence[str] | None = None
    categories: Sequence[str] | None = None
    province: str | None = None
    msisdn: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue: bool | None = None
    text: str | None = None
    #: second line's queue: held by this account id; held by nobody (True) or by someone
    assignee: str | None = None
    unassigned: bool | None = None
    #: created by or assigned to the caller (False: neither)
    mine: bool | None = None
    #: set from the caller, never by the client: whose drafts and "mine" are whose
    viewer: str | None = None
    every_draft: bool = False


class TicketsReadModel(Protocol):
    def search(
        self,
        f: TicketFilter,
        now: datetime,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]: ...


class TicketCitations(Protocol):
    def citations(
        self, ticket_id: UUID, province: str | None, after_position: int, limit: int
    ) -> list[tuple[int, str]]:
        """(position, msisdn) of the changes citing the ticket, oldest first, to subscribers
        of `province` (None: every province)."""
        ...


class TicketQueryService:
    def __init__(
        self,
        store: Application[UUID],
        clock: Clock,
        core_log: EventLog,
        read_model: TicketsReadModel,
        waiter: ReadModelWaiter,
        as_of: AggregateAsOf,
        citations: TicketCitations,
    ) -> None:
        self.store = store
        self.clock = clock
        self.core_log = core_log
        self.read_model = read_model
        self.waiter = waiter
        self.aggregates_as_of = as_of
        self.citations = citations

    def get(self, principal: Principal, ticket_id: UUID) -> TicketView | None:
        principal.require(_READ)
        try:
            ticket = load_ticket(self.store, ticket_id)
        except NotFoundError:
            return None
        principal.require_in_province(_READ, ticket.province)
        if not ticket.visible or not drafts.may_read(principal, ticket.status, ticket.created_by):
            return None
        return view_of(ticket, self.clock.now())

    def as_of(self, principal: Principal, ticket_id: UUID, at: datetime) -> TicketView | None:
        """The ticket as it was at `at` (the version current then, found through the version
        timeline rather than a replay of the whole stream; overdue as at then)."""
        principal.require(_READ)
        ticket = self.aggregates_as_of.aggregate_at("Ticket", ticket_id, at)
        if not isinstance(ticket, Ticket):
            return None
        principal.require_in_province(_READ, ticket.province)
        if not ticket.visible or not drafts.may_read(principal, ticket.status, ticket.created_by):
            return None
        return view_of(ticket, at)

    def history(
        self, principal: Principal, ticket_id: UUID, after_version: int, limit: int
    ) -> list[AuditEntry]:
        """Every event of the ticket in order, with who did it (Ticket.history)."""
        principal.require(_READ)
        first = self.core_log.stream(ticket_id, 0, 1)
        if not first or not first[0].topic.startswith(_TICKET_TOPIC_PREFIX):
            raise NotFoundError("ticket not found", field=["id"])
        principal.require_in_province(_READ, first[0].event.province)
        recorded = self.core_log.stream(ticket_id, after_version, limit)
        return [to_entry(r, str(ticket_id)) for r in recorded]

    async def wait_for_changes(self, principal: Principal, consistent_with: int | None) -> None:
        """Before `changes`, for a caller who may read them: until the read models it reads
        have applied `consistent_with`."""
        principal.require(_READ)
        principal.require(Permission.SUBSCRIBER_READ)
        await wait_until_applied(
            self.waiter, [CITATIONS_PROJECTION, SUBSCRIBERS_PROJECTION], consistent_with
        )

    def changes(
        self, principal: Principal, ticket_id: UUID, after_position: int, limit: int
    ) -> list[AuditEntry]:
        """The changes to subscribers that cite the ticket (ChangeContext.ticketId), oldest
        first (Ticket.changes). The ticket must be readable; the changes listed are those to
        subscribers the caller may read, so a province-scoped caller sees only their own
        province's, and a caller who may read no subscriber is FORBIDDEN."""
        principal.require(_READ)
        ticket = load_ticket(self.store, ticket_id)
        principal.require_in_province(_READ, ticket.province)
        if not drafts.may_read(principal, ticket.status, ticket.created_by):
            raise NotFoundError("ticket not found", field=["id"])
        province = principal.require(Permission.SUBSCRIBER_READ)
        cited = self.citations.citations(ticket_id, province, after_position, limit)
        msisdns = dict(cited)
        return [to_entry(r, msisdns[r.position]) for r in self.core_log.at(list(msisdns))]

    async def wait_for_search(
        self, principal: Principal, f: TicketFilter, consistent_with: int | None
    ) -> None:
        """Before `search`: who may not list, or asks badly, is refused at once; else wait
        until the ticket list has applied `consistent_with`."""
        checked_filter(principal, f)
        await wait_until_applied(self.waiter, [TICKETS_PROJECTION], consistent_with)

    def search(
        self,
        principal: Principal,
        f: TicketFilter,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> tuple[list[TicketView], int]:
        """Newest first; the total counts every match, within the caller's province scope."""
        f = checked_filter(principal, f)
        now = self.clock.now()
        rows, total = self.read_model.search(f, now, after, limit)
        return [view_from_row(r, now) for r in rows], total


def checked_filter(principal: Principal, f: TicketFilter) -> TicketFilter:
    """The filter within the caller's province scope and draft privacy, its text trimmed,
    msisdn and assignee checked."""
    province = principal.list_scope(_READ, f.province)
    text = SEARCH_TEXT.optional(f.text)
    assignee = None
    if f.assignee is not None:
        try:
            assignee = str(UUID(f.assignee))
        except ValueError:
            raise ValidationError("assignee must be an account id", field=["assignee"]) from None
    return replace(
        f,
        province=province,
        text=text,
        msisdn=validate_msisdn(f.msisdn),
        assignee=assignee,
        viewer=str(principal.account_id),
        every_draft=drafts.lists_every_draft(principal),
    )
