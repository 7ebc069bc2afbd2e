"""What each live channel sends: from a batch of log events to the updates followers see.

A follower's key is what its application `follow` returned (a ticket filter, an audience); the
channel answers, per event, the update's root value and which keys see it, with one read for
the whole batch and every key.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from api.blocking import run_blocking
from api.graphql.support.announcements import Announcement
from api.graphql.support.live import ANNOUNCEMENTS, TICKETS, AnnouncementUpdate, TicketUpdate
from api.graphql.support.ticket_types import Ticket
from application.support.announcements import addressed_to
from application.support.ticket_updates import update_type
from infra.bootstrap import Container, LiveEvent


@dataclass(frozen=True)
class Update:
    position: int
    payload: Any  # the root value the subscription's selection is executed on
    seen_by: frozenset[int]  # indexes of the keys (as given) that see it


class Channel(Protocol):
    name: str
    projection: str  # the read model whose applied events feed it

    async def updates(
        self, events: Sequence[LiveEvent], keys: Sequence[Hashable]
    ) -> list[Update]: ...


class TicketsChannel:
    """`ticketUpdates`: every event the ticket list applies, to the followers whose filter
    shows the ticket as the list has it then (a discarded draft, gone from it, is sent to
    nobody). Several events of one ticket in a batch all show it as it is after the last."""

    name = TICKETS
    projection = "tickets"

    def __init__(self, container: Container) -> None:
        self.service = container.ticket_updates

    async def updates(self, events: Sequence[LiveEvent], keys: Sequence[Hashable]) -> list[Update]:
        ids = list(dict.fromkeys(e.originator_id for e in events))
        found = await run_blocking(self.service.matches, list(keys), ids)  # type: ignore[arg-type]
        updates = []
        for e in events:
            view = found.views.get(e.originator_id)
            if view is None:
                continue
            seen = frozenset(n for n, ids_ in enumerate(found.matched) if e.originator_id in ids_)
            ticket = Ticket.from_view(view)
            payload = TicketUpdate(position=e.position, type=update_type(e.topic), ticket=ticket)
            updates.append(Update(e.position, payload, seen))
        return updates


class AnnouncementsChannel:
    """`announcementUpdates`: published, revised, withdrawn, to the followers whose audience
    the announcement (as the list has it then) addresses."""

    name = ANNOUNCEMENTS
    projection = "announcements"

    def __init__(self, container: Container) -> None:
        self.service = container.announcements

    async def updates(self, events: Sequence[LiveEvent], keys: Sequence[Hashable]) -> list[Update]:
        ids = list(dict.fromkeys(e.originator_id for e in events))
        views = await run_blocking(self.service.updated, ids)
        updates = []
        for e in events:
            view = views.get(e.originator_id)
            if view is None:
                continue
            seen = frozenset(
                n
                for n, audience in enumerate(keys)
                if addressed_to(view, audience)  # type: ignore[arg-type]
            )
            payload = AnnouncementUpdate(
                position=e.position,
                type=update_type(e.topic),
                announcement=Announcement.from_view(view),
            )
            updates.append(Update(e.position, payload, seen))
        return updates
