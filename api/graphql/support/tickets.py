"""GraphQL for tickets: the e-flow mutations, second line's queue (claim, assign, unassign),
one ticket (now or as at a time), the list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.access import parse_id
from api.graphql.base import (
    Context,
    PageInfo,
    bad_input,
    consistent,
    ctx,
    first_arg,
    mutate,
    query,
)
from api.graphql.support.ticket_types import (
    SaveTicketDraftInput,
    Ticket,
    TicketConnection,
    TicketFilter,
    TicketPayload,
    ticket_payload,
)
from application.support.ticket_queries import TicketFilter as Filter
from domain.shared import DomainError
from domain.support.ticket_content import KEEP
from domain.support.values import TicketCategory, TicketPriority

_CURSOR = "tickets"


def _keep_unset(value: Any) -> Any:
    """An omitted argument leaves the archive field as it is; an explicit null clears it."""
    return KEEP if value is strawberry.UNSET else value


def _decode_after(c: Context, after: str | None) -> tuple[datetime, Any] | None:
    if after is None:
        return None
    try:
        created_at, ticket_id = c.container.cursors.decode(_CURSOR, after)
    except (DomainError, ValueError, TypeError) as exc:
        message = exc.message if isinstance(exc, DomainError) else "invalid cursor"
        raise bad_input(message) from None
    return datetime.fromisoformat(created_at), parse_id(ticket_id)


def _to_filter(f: TicketFilter | None) -> Filter:
    if f is None:
        return Filter()
    return Filter(
        statuses=[s.value for s in f.status] if f.status else None,
        categories=[c.value for c in f.category] if f.category else None,
        province=f.province,
        msisdn=f.msisdn,
        created_from=f.created_from,
        created_to=f.created_to,
        overdue=f.overdue,
        text=f.text,
        assignee=str(parse_id(f.assignee, "assignee")) if f.assignee is not None else None,
        unassigned=f.unassigned,
        mine=f.mine,
    )


@strawberry.type
class TicketQuery:
    @strawberry.field
    async def ticket(self, info: Info[Context, Any], id: strawberry.ID) -> Ticket | None:
        c = ctx(info)
        view = await query(c.container.ticket_queries.get, c.principal(), parse_id(id))
        return Ticket.from_view(view) if view is not None else None

    @strawberry.field
    async def ticket_as_of(
        self, info: Info[Context, Any], id: strawberry.ID, at: datetime
    ) -> Ticket | None:
        c = ctx(info)
        view = await query(c.container.ticket_queries.as_of, c.principal(), parse_id(id), at)
        return Ticket.from_view(view) if view is not None else None

    @strawberry.field
    async def tickets(
        self,
        info: Info[Context, Any],
        filter: TicketFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> TicketConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        principal, keyset, wanted = c.principal(), _decode_after(c, after), _to_filter(filter)
        service = c.container.ticket_queries
        await consistent(service.wait_for_search(principal, wanted, consistent_with))
        views, total = await query(service.search, principal, wanted, keyset, limit + 1)
        has_next = len(views) > limit
        views = views[:limit]
        end = (
            c.container.cursors.encode(
                _CURSOR, [views[-1].created_at.isoformat(), str(views[-1].id)]
            )
            if views
            else None
        )
        return TicketConnection(
            nodes=[Ticket.from_view(v) for v in views],
            page_info=PageInfo(end_cursor=end, has_next_page=has_next),
            total_count=total,
        )


@strawberry.type
class TicketMutation:
    @strawberry.mutation
    async def save_ticket_draft(
        self, info: Info[Context, Any], input: SaveTicketDraftInput
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(
            c.container.tickets.save_draft,
            c.principal(),
            ticket_id=parse_id(input.id) if input.id is not None else None,
            title=input.title,
            body=input.body,
            category=TicketCategory(input.category.value),
            priority=TicketPriority(input.priority.value),
            msisdn=input.msisdn,
            province=input.province,
            expected_version=input.expected_version,
        )
        return ticket_payload(result, c.container.clock.now())

    @strawberry.mutation
    async def submit_ticket(
        self, info: Info[Context, Any], id: strawberry.ID, expected_version: int | None = None
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(
            c.container.tickets.submit, c.principal(), parse_id(id), expected_version
        )
        return ticket_payload(result, c.container.clock.now())

    @strawberry.mutation
    async def answer_ticket(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        body: str,
        expected_version: int | None = None,
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(
            c.container.tickets.answer, c.principal(), parse_id(id), body, expected_version
        )
        return ticket_payload(result, c.container.clock.now())

    @strawberry.mutation
    async def resubmit_ticket(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        body: str,
        expected_version: int | None = None,
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(
            c.container.tickets.resubmit, c.principal(), parse_id(id), body, expected_version
        )
        return ticket_payload(result, c.container.clock.now())

    @strawberry.mutation
    async def rate_ticket(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        score: int,
        comment: str | None = None,
        expected_version: int | None = None,
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(
            c.container.tickets.rate,
            c.principal(),
            parse_id(id),
            score,
            comment,
            expected_version,
        )
        return ticket_payload(result, c.container.clock.now())

    @strawberry.mutation(
        description="Second line's archive fields (存檔項); an omitted argument is left as it"
        " is, an explicit null clears the field"
    )
    async def update_ticket_archive(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        resolution_category: str | None = strawberry.UNSET,
        root_cause: str | None = strawberry.UNSET,
        resolution: str | None = strawberry.UNSET,
        tags: list[str] | None = strawberry.UNSET,
        expected_version: int | None = None,
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(
            c.container.tickets.update_archive,
            c.principal(),
            parse_id(id),
            resolution_category=_keep_unset(resolution_category),
            root_cause=_keep_unset(root_cause),
            resolution=_keep_unset(resolution),
            tags=_keep_unset(tags),
            expected_version=expected_version,
        )
        return ticket_payload(result, c.container.clock.now())

    @strawberry.mutation(
        description="Discard a draft: it is no longer served (its events stay in the store);"
        " the payload's ticket is null"
    )
    async def discard_ticket_draft(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(c.container.tickets.discard_draft, c.principal(), parse_id(id))
        return ticket_payload(result, c.container.clock.now())

    @strawberry.mutation(
        description="Second line's queue: the caller takes the ticket (SUBMITTED or"
        " RESUBMITTED; a SECOND_LINE_AGENT only one nobody else holds)"
    )
    async def claim_ticket(
        self, info: Info[Context, Any], id: strawberry.ID, expected_version: int | None = None
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(
            c.container.tickets.claim, c.principal(), parse_id(id), expected_version
        )
        return ticket_payload(result, c.container.clock.now())

    @strawberry.mutation(
        description="Give the ticket to an enabled SECOND_LINE_AGENT (a SECOND_LINE_AGENT"
        " only a ticket nobody holds)"
    )
    async def assign_ticket(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        assignee_id: strawberry.ID,
        expected_version: int | None = None,
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(
            c.container.tickets.assign,
            c.principal(),
            parse_id(id),
            parse_id(assignee_id, "assigneeId"),
            expected_version,
        )
        return ticket_payload(result, c.container.clock.now())

    @strawberry.mutation(
        description="Put the ticket back in the queue (a SECOND_LINE_AGENT only their own)"
    )
    async def unassign_ticket(
        self, info: Info[Context, Any], id: strawberry.ID, expected_version: int | None = None
    ) -> TicketPayload:
        c = ctx(info)
        result = await mutate(
            c.container.tickets.unassign, c.principal(), parse_id(id), expected_version
        )
        return ticket_payload(result, c.container.clock.now())
