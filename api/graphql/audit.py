"""GraphQL for audit: the global event feed, per-stream trails, projection status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.access import Account, parse_id
from api.graphql.base import Context, PageInfo, bad_input, ctx, first_arg, invoke, query
from domain.shared import DomainError


@strawberry.type
class AuditEvent:
    position: int = strawberry.field(description="Global position in the event store")
    stream_type: str
    stream_id: strawberry.ID
    version: int
    type: str
    occurred_at: datetime
    reason: str | None
    ticket_id: strawberry.ID | None
    data: JSON
    actor_id: strawberry.Private[str | None]

    @strawberry.field
    async def actor(self, info: Info[Context, Any]) -> Account | None:
        if not self.actor_id:
            return None
        account = await invoke(ctx(info).container.access.actor_account, parse_id(self.actor_id))
        return Account.from_aggregate(account) if account is not None else None

    @classmethod
    def from_entry(cls, e: Any) -> AuditEvent:
        return cls(
            position=e.position,
            stream_type=e.stream_type,
            stream_id=strawberry.ID(e.stream_id),
            version=e.version,
            type=e.type,
            occurred_at=e.occurred_at,
            reason=e.reason,
            ticket_id=strawberry.ID(e.ticket_id) if e.ticket_id else None,
            data=e.data,
            actor_id=e.actor_id,
        )


@strawberry.type
class AuditEventConnection:
    nodes: list[AuditEvent]
    page_info: PageInfo


@strawberry.type
class ProjectionStatus:
    name: str
    position: int
    lag: int
    updated_at: datetime | None


def connection(entries: list[Any], limit: int, cursor: Any) -> AuditEventConnection:
    has_next = len(entries) > limit
    entries = entries[:limit]
    return AuditEventConnection(
        nodes=[AuditEvent.from_entry(e) for e in entries],
        page_info=PageInfo(
            end_cursor=cursor(entries[-1]) if entries else None, has_next_page=has_next
        ),
    )


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Global event feed in store order (AUDITOR and SUPER_ADMIN)")
    async def events(
        self,
        info: Info[Context, Any],
        after_position: int | None = None,
        first: int | None = None,
        types: list[str] | None = None,
    ) -> AuditEventConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        if after_position is not None and after_position < 0:
            raise bad_input("afterPosition must not be negative")
        entries = await query(
            c.container.audit.events, c.principal(), after_position or 0, limit + 1, types
        )
        return connection(entries, limit, lambda e: str(e.position))

    @strawberry.field
    async def audit_trail(
        self,
        info: Info[Context, Any],
        stream_type: str,
        stream_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> AuditEventConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        after_version = 0
        if after is not None:
            try:
                after_version = int(c.container.cursors.decode(f"trail:{stream_id}", after))
            except DomainError as exc:
                raise bad_input(exc.message) from None
        entries = await query(
            c.container.audit.trail,
            c.principal(),
            stream_type,
            str(stream_id),
            after_version,
            limit + 1,
        )
        return connection(
            entries, limit, lambda e: c.container.cursors.encode(f"trail:{stream_id}", e.version)
        )

    @strawberry.field
    async def projections(self, info: Info[Context, Any]) -> list[ProjectionStatus]:
        c = ctx(info)
        states = await invoke(c.container.operations.projections, c.principal())
        return [
            ProjectionStatus(name=s.name, position=s.position, lag=s.lag, updated_at=s.updated_at)
            for s in states
        ]
