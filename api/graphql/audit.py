"""GraphQL for audit: the event feeds, per-stream trails, hash-chain checkpoints, state as of a
time (accountAsOf, and any stream's whole state), projection status."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.access import Account, parse_id
from api.graphql.base import (
    Context,
    PageInfo,
    bad_input,
    consistent,
    ctx,
    first_arg,
    int_cursor,
    invoke,
    query,
)
from api.graphql.webhooks.types import WebhookDelivery, deliveries_of_event
from domain.audit.catalogue import FEED_STREAM_TYPES


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

    @strawberry.field(
        description="This event's webhook deliveries (core events; none for platform batches)"
    )
    async def webhook_deliveries(self, info: Info[Context, Any]) -> list[WebhookDelivery]:
        if self.stream_type in FEED_STREAM_TYPES:
            return []  # a feed position is no core position
        return await deliveries_of_event(info, self.position)

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
class AuditCheckpoint:
    position: int = strawberry.field(description="Last core position sealed by this checkpoint")
    chain_hash: str = strawberry.field(description="sha256 chain value after that position, hex")
    sealed_at: datetime


@strawberry.type
class AuditCheckpointConnection:
    nodes: list[AuditCheckpoint]
    page_info: PageInfo


@strawberry.enum(description="Which event store an audit feed reads")
class EventStore(Enum):
    CORE = "core"
    FEED = "feed"


@strawberry.type
class ProjectionStatus:
    name: str
    position: int
    lag: int
    updated_at: datetime | None
    failing: bool = strawberry.field(
        description="Its live runner fails to apply the next page (and retries, backing off)"
    )
    last_error: str | None = strawberry.field(
        description="While failing: the last error (bounded to 500 characters)"
    )


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
        store: EventStore | None = None,
    ) -> AuditEventConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        if after_position is not None and after_position < 0:
            raise bad_input("afterPosition must not be negative")
        entries = await query(
            c.container.audit.events,
            c.principal(),
            after_position or 0,
            limit + 1,
            types,
            (store or EventStore.CORE).value,
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
            after_version = int_cursor(c.container, f"trail:{stream_id}", after)
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

    @strawberry.field(
        description="Hash-chain checkpoints over the core store, newest first"
        " (AUDITOR and SUPER_ADMIN)"
    )
    async def audit_checkpoints(
        self,
        info: Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> AuditCheckpointConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        await consistent(c.container.audit.wait_for_checkpoints(c.principal(), consistent_with))
        before = None if after is None else int_cursor(c.container, "auditCheckpoints", after)
        rows = await query(c.container.audit.checkpoints, c.principal(), before, limit + 1)
        page = rows[:limit]
        end = c.container.cursors.encode("auditCheckpoints", page[-1].position) if page else None
        return AuditCheckpointConnection(
            nodes=[
                AuditCheckpoint(position=r.position, chain_hash=r.chain_hash, sealed_at=r.sealed_at)
                for r in page
            ],
            page_info=PageInfo(end_cursor=end, has_next_page=len(rows) > limit),
        )

    @strawberry.field(description="The account as it was at a time, rebuilt from its events")
    async def account_as_of(
        self, info: Info[Context, Any], id: strawberry.ID, at: datetime
    ) -> Account | None:
        c = ctx(info)
        found = await query(c.container.as_of.account_as_of, c.principal(), parse_id(id), at)
        return Account.from_aggregate(found) if found is not None else None

    @strawberry.field(
        description="Any stream's whole state at a time (now when omitted), secrets redacted;"
        " the same JSON `spoa audit replay` prints from an export (AUDITOR and SUPER_ADMIN)"
    )
    async def stream_state_as_of(
        self,
        info: Info[Context, Any],
        stream_type: str,
        stream_id: strawberry.ID,
        at: datetime | None = None,
    ) -> JSON | None:
        c = ctx(info)
        state = await query(
            c.container.as_of.state_as_of, c.principal(), stream_type, str(stream_id), at
        )
        return None if state is None else JSON(state)

    @strawberry.field
    async def projections(self, info: Info[Context, Any]) -> list[ProjectionStatus]:
        c = ctx(info)
        states = await invoke(c.container.operations.projections, c.principal())
        return [
            ProjectionStatus(
                name=s.name,
                position=s.position,
                lag=s.lag,
                updated_at=s.updated_at,
                failing=s.failing,
                last_error=s.last_error,
            )
            for s in states
        ]
