"""GraphQL types of tickets: the ticket, its entries, archive and rating, filter and inputs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.graphql.access import Account, parse_id
from api.graphql.audit import AuditEventConnection, connection
from api.graphql.base import (
    Context,
    PageInfo,
    Province,
    UserError,
    consistent,
    ctx,
    first_arg,
    int_cursor,
    invoke,
)
from api.graphql.base import query as run_query
from application.support.ticket_queries import TicketView, view_of
from application.support.tickets import TicketResult


@strawberry.enum
class TicketStatus(Enum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    ANSWERED = "ANSWERED"
    RESUBMITTED = "RESUBMITTED"
    CLOSED = "CLOSED"


@strawberry.enum
class TicketCategory(Enum):
    COMPLAINT = "COMPLAINT"
    CONSULTATION = "CONSULTATION"
    FAULT = "FAULT"
    REQUEST = "REQUEST"
    OTHER = "OTHER"


@strawberry.enum
class TicketPriority(Enum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


_ACCOUNT_CACHE = "_support_accounts"


async def account_of(info: Info[Context, Any], account_id: str) -> Account:
    """The account behind an actor id, remembered for the rest of the request."""
    c = ctx(info)
    cache: dict[str, Account] = c.__dict__.setdefault(_ACCOUNT_CACHE, {})
    if account_id not in cache:
        found = await invoke(c.container.access.actor_account, parse_id(account_id))
        if found is None:
            raise LookupError(f"account {account_id} of a recorded actor is missing")
        cache[account_id] = Account.from_aggregate(found)
    return cache[account_id]


@strawberry.type
class TicketEntry:
    kind: str = strawberry.field(description="SUBMISSION, ANSWER, RESUBMISSION or RATING")
    body: str
    at: datetime
    author_id: strawberry.Private[str]

    @strawberry.field
    async def author(self, info: Info[Context, Any]) -> Account:
        return await account_of(info, self.author_id)


@strawberry.type
class TicketArchive:
    resolution_category: str | None = strawberry.field(
        description="Archive fields (存檔項) kept by second-line support"
    )
    root_cause: str | None
    resolution: str | None
    tags: list[str]


@strawberry.type
class TicketRating:
    score: int
    comment: str | None
    at: datetime


@strawberry.type
class Ticket:
    id: strawberry.ID
    number: str = strawberry.field(description="Human-readable, e.g. GD-20261128-0001")
    title: str
    category: TicketCategory
    priority: TicketPriority
    province: Province  # type: ignore[valid-type]
    msisdn: str | None
    status: TicketStatus
    created_at: datetime
    submitted_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    due_at: datetime | None = strawberry.field(
        description="When the current answer is due under the ticket's priority"
    )
    overdue: bool
    entries: list[TicketEntry]
    archive: TicketArchive
    rating: TicketRating | None
    version: int
    created_by_id: strawberry.Private[str]
    assignee_id: strawberry.Private[str | None] = None

    @strawberry.field
    async def created_by(self, info: Info[Context, Any]) -> Account:
        return await account_of(info, self.created_by_id)

    @strawberry.field(description="Who in second line works the ticket; null: nobody yet")
    async def assignee(self, info: Info[Context, Any]) -> Account | None:
        return None if self.assignee_id is None else await account_of(info, self.assignee_id)

    @strawberry.field(description="Every event of this ticket in order, with who took each step")
    async def history(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> AuditEventConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        kind = f"ticket-history:{self.id}"
        after_version = 0 if after is None else int_cursor(c.container, kind, after)
        entries = await run_query(
            c.container.ticket_queries.history,
            c.principal(),
            UUID(str(self.id)),
            after_version,
            limit + 1,
        )
        return connection(entries, limit, lambda e: c.container.cursors.encode(kind, e.version))

    @strawberry.field(
        description="Changes to subscribers made citing this ticket (the ticketId of their"
        " context), oldest first: only those to subscribers the caller may read"
    )
    async def changes(
        self,
        info: Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> AuditEventConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        kind = f"ticket-changes:{self.id}"
        after_position = 0 if after is None else int_cursor(c.container, kind, after)
        principal = c.principal()
        await consistent(c.container.ticket_queries.wait_for_changes(principal, consistent_with))
        entries = await run_query(
            c.container.ticket_queries.changes,
            principal,
            UUID(str(self.id)),
            after_position,
            limit + 1,
        )
        return connection(entries, limit, lambda e: c.container.cursors.encode(kind, e.position))

    @classmethod
    def from_view(cls, v: TicketView) -> Ticket:
        return cls(
            id=strawberry.ID(str(v.id)),
            number=v.number,
            title=v.title,
            category=TicketCategory(v.category),
            priority=TicketPriority(v.priority),
            province=Province(v.province),
            msisdn=v.msisdn,
            status=TicketStatus(v.status),
            created_at=v.created_at,
            submitted_at=v.submitted_at,
            answered_at=v.answered_at,
            closed_at=v.closed_at,
            due_at=v.due_at,
            overdue=v.overdue,
            entries=[
                TicketEntry(kind=e.kind, body=e.body, at=e.at, author_id=e.author_id)
                for e in v.entries
            ],
            archive=TicketArchive(
                resolution_category=v.archive.resolution_category,
                root_cause=v.archive.root_cause,
                resolution=v.archive.resolution,
                tags=list(v.archive.tags),
            ),
            rating=TicketRating(score=v.rating.score, comment=v.rating.comment, at=v.rating.at)
            if v.rating
            else None,
            version=v.version,
            created_by_id=v.created_by_id,
            assignee_id=v.assignee_id,
        )


@strawberry.type
class TicketConnection:
    nodes: list[Ticket]
    page_info: PageInfo
    total_count: int


@strawberry.type
class TicketPayload:
    ticket: Ticket | None = None
    position: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def ticket_payload(result: TicketResult | list[UserError], now: datetime) -> TicketPayload:
    if isinstance(result, list):
        return TicketPayload(user_errors=result)
    ticket = Ticket.from_view(view_of(result.ticket, now)) if result.ticket is not None else None
    return TicketPayload(ticket=ticket, position=result.position)


@strawberry.input
class TicketFilter:
    status: list[TicketStatus] | None = None
    category: list[TicketCategory] | None = None
    province: Province | None = None  # type: ignore[valid-type]
    msisdn: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue: bool | None = None
    text: str | None = strawberry.field(
        default=None, description="Words matched in title and entries"
    )
    assignee: strawberry.ID | None = strawberry.field(
        default=None, description="Tickets held by this account"
    )
    unassigned: bool | None = strawberry.field(
        default=None, description="true: tickets nobody holds (the queue); false: held ones"
    )
    mine: bool | None = strawberry.field(
        default=None,
        description="true: tickets created by or assigned to the caller; false: neither",
    )


@strawberry.input
class SaveTicketDraftInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Omit to start a new draft"
    )
    title: str
    body: str
    category: TicketCategory
    priority: TicketPriority
    msisdn: str | None = None
    expected_version: int | None = None
    province: Province | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="Province of a new ticket; defaults to the caller's (a SUPER_ADMIN"
        " without a province must give one). A province agent may only give their own.",
    )
