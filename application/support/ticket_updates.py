"""Live ticket updates (`ticketUpdates`): who may follow which tickets, and which tickets of a
batch of changes each follower sees.

A follower's filter is checked and scoped exactly as the `tickets` list's (`checked_filter`:
TICKET_READ, the caller's province), and a follower sees a changed ticket when the list would
show it to them now: the read model answers for every follower's filter at once with the list's
own conditions, so what the list hides (another province's tickets) no update shows.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from application.authz import Principal
from application.ports import Clock
from application.support.ticket_queries import (
    TicketFilter,
    TicketView,
    checked_filter,
    view_from_row,
)
from domain.audit.catalogue import event_type_of_topic


class TicketsMatchingModel(Protocol):
    def matching(
        self, filters: Sequence[TicketFilter], ids: Sequence[UUID], now: datetime
    ) -> tuple[Mapping[UUID, Mapping[str, Any]], list[set[UUID]]]: ...


@dataclass(frozen=True)
class TicketMatches:
    """The changed tickets any follower sees, and per filter (in the order asked) which."""

    views: Mapping[UUID, TicketView]
    matched: list[frozenset[UUID]]


def update_type(topic: str) -> str:
    """What an update says happened: the event's type as the audit trail names it."""
    return event_type_of_topic(topic)


def selection_scope(principal: Principal) -> Hashable:
    """What an update's selection may depend on besides the update: the caller's role and
    province (every field's permission check reads only those), so followers alike in both
    share one execution of the same document."""
    return (principal.role, principal.province)


class TicketUpdates:
    def __init__(self, clock: Clock, read_model: TicketsMatchingModel) -> None:
        self.clock = clock
        self.read_model = read_model

    def follow(self, principal: Principal, f: TicketFilter) -> TicketFilter:
        """The follower's filter, checked and scoped as the list's (FORBIDDEN for a caller who
        may not list tickets); hashable, so followers with equal ones share its evaluation."""
        checked = checked_filter(principal, f)
        frozen: dict[str, Any] = {
            item.name: tuple(value)
            for item in fields(checked)
            if isinstance(value := getattr(checked, item.name), list)
        }
        return replace(checked, **frozen)

    def matches(self, filters: Sequence[TicketFilter], ids: Sequence[UUID]) -> TicketMatches:
        """Which of the changed tickets `ids` each filter shows, as the read model has them."""
        now = self.clock.now()
        rows, matched = self.read_model.matching(filters, ids, now)
        views = {ticket_id: view_from_row(row, now) for ticket_id, row in rows.items()}
        return TicketMatches(views, [frozenset(m) for m in matched])
