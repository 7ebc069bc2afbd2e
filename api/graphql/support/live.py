"""GraphQL subscriptions of the support desk: live ticket and announcement updates.

Served over WebSocket (graphql-transport-ws, `api/live/`). A resolver here only checks who may
follow what (the application's `follow`) and hands that to the socket's operation, which the
process's hub then feeds: the updates themselves are executed by the hub, once per document and
caller scope, with the update as the root value (so these resolvers never yield).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Hashable
from typing import Any, Protocol

import strawberry
from strawberry.types import Info

from api.graphql.base import ApiError, Context, ctx, query
from api.graphql.support.announcements import Announcement
from api.graphql.support.ticket_types import Ticket, TicketFilter
from api.graphql.support.tickets import _to_filter

#: the channels a subscription follows (the hub's names for them)
TICKETS = "tickets"
ANNOUNCEMENTS = "announcements"


class Following(Protocol):
    """What a subscription's context offers: follow a channel with a matching key until the
    operation ends (the hub sends the updates; the iterator yields nothing)."""

    def follow(self, channel: str, key: Hashable) -> AsyncIterator[Any]: ...


def _following(c: Context) -> Following:
    live: Following | None = getattr(c, "live", None)
    if live is None:
        raise ApiError(
            "BAD_REQUEST", "subscriptions are served over WebSocket (graphql-transport-ws)"
        )
    return live


@strawberry.type(
    description="A change to a ticket the caller may see, sent once the ticket list has applied it"
)
class TicketUpdate:
    position: int = strawberry.field(
        description="The change's position in the core log: a query with consistentWith:"
        " position sees it (or later)"
    )
    type: str = strawberry.field(
        description="What happened, as the audit trail names it, e.g. TicketSubmitted"
    )
    ticket: Ticket = strawberry.field(description="The ticket as the ticket list has it then")


@strawberry.type(
    description="A change to an announcement for the caller's audience, sent once the"
    " announcement list has applied it"
)
class AnnouncementUpdate:
    position: int
    type: str = strawberry.field(
        description="AnnouncementPublished, AnnouncementRevised or AnnouncementWithdrawn"
    )
    announcement: Announcement


@strawberry.type
class SupportSubscription:
    @strawberry.subscription(
        description="Every change to a ticket the caller may see that the filter (as for"
        " `tickets`) shows, after the ticket list has applied it"
    )
    async def ticket_updates(
        self, info: Info[Context, Any], filter: TicketFilter | None = None
    ) -> AsyncGenerator[TicketUpdate, None]:
        c = ctx(info)
        key = await query(c.container.ticket_updates.follow, c.principal(), _to_filter(filter))
        async for update in _following(c).follow(TICKETS, key):
            yield update

    @strawberry.subscription(
        description="Announcements published, revised or withdrawn for the caller's audience"
        " (as for `announcements`)"
    )
    async def announcement_updates(
        self, info: Info[Context, Any]
    ) -> AsyncGenerator[AnnouncementUpdate, None]:
        c = ctx(info)
        audience = await query(c.container.announcements.follow, c.principal())
        async for update in _following(c).follow(ANNOUNCEMENTS, audience):
            yield update
