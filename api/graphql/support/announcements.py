"""GraphQL for incident announcements: publish, revise, withdraw, list, as at a time."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.access import Account, parse_id
from api.graphql.base import (
    Context,
    PageInfo,
    Province,
    UserError,
    bad_input,
    consistent,
    ctx,
    first_arg,
    mutate,
    query,
)
from api.graphql.support.ticket_types import account_of
from application.support.announcements import AnnouncementInput as Data
from application.support.announcements import AnnouncementResult, AnnouncementView
from domain.shared import DomainError
from domain.support.values import AnnouncementSeverity as DomainSeverity

_CURSOR = "announcements"


@strawberry.enum
class AnnouncementSeverity(Enum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


@strawberry.enum
class AnnouncementStatus(Enum):
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    WITHDRAWN = "WITHDRAWN"


@strawberry.type
class Announcement:
    id: strawberry.ID
    title: str
    body: str
    severity: AnnouncementSeverity
    provinces: list[Province] = strawberry.field(  # type: ignore[valid-type]
        description="Empty means every province"
    )
    effective_from: datetime
    effective_until: datetime | None
    status: AnnouncementStatus
    published_at: datetime
    revised_at: datetime | None
    withdrawn_at: datetime | None
    withdrawn_reason: str | None
    version: int
    published_by_id: strawberry.Private[str]

    @strawberry.field
    async def published_by(self, info: Info[Context, Any]) -> Account:
        return await account_of(info, self.published_by_id)

    @classmethod
    def from_view(cls, v: AnnouncementView) -> Announcement:
        return cls(
            id=strawberry.ID(str(v.id)),
            title=v.title,
            body=v.body,
            severity=AnnouncementSeverity(v.severity),
            provinces=[Province(p) for p in v.provinces],
            effective_from=v.effective_from,
            effective_until=v.effective_until,
            status=AnnouncementStatus(v.status),
            published_at=v.published_at,
            revised_at=v.revised_at,
            withdrawn_at=v.withdrawn_at,
            withdrawn_reason=v.withdrawn_reason,
            version=v.version,
            published_by_id=v.published_by_id,
        )


@strawberry.type
class AnnouncementConnection:
    nodes: list[Announcement]
    page_info: PageInfo


@strawberry.type
class AnnouncementPayload:
    announcement: Announcement | None = None
    position: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class AnnouncementInput:
    title: str
    body: str
    severity: AnnouncementSeverity
    provinces: list[Province] | None = None  # type: ignore[valid-type]
    effective_from: datetime | None = None
    effective_until: datetime | None = None

    def to_data(self) -> Data:
        return Data(
            title=self.title,
            body=self.body,
            severity=DomainSeverity(self.severity.value),
            provinces=list(self.provinces) if self.provinces is not None else None,
            effective_from=self.effective_from,
            effective_until=self.effective_until,
        )


def _payload(result: AnnouncementResult | list[UserError]) -> AnnouncementPayload:
    if isinstance(result, list):
        return AnnouncementPayload(user_errors=result)
    return AnnouncementPayload(
        announcement=Announcement.from_view(result.announcement), position=result.position
    )


@strawberry.type
class AnnouncementQuery:
    @strawberry.field
    async def announcements(
        self,
        info: Info[Context, Any],
        active_only: bool | None = True,
        province: Province | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> AnnouncementConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        position = None
        if after is not None:
            try:
                effective_from, announcement_id = c.container.cursors.decode(_CURSOR, after)
                position = (datetime.fromisoformat(effective_from), parse_id(announcement_id))
            except (DomainError, ValueError, TypeError):
                raise bad_input("invalid cursor") from None
        principal, service = c.principal(), c.container.announcements
        await consistent(service.wait_for_list(principal, province, consistent_with))
        views = await query(
            service.list,
            principal,
            active_only is not False,
            province,
            position,
            limit + 1,
        )
        has_next = len(views) > limit
        views = views[:limit]
        end = (
            c.container.cursors.encode(
                _CURSOR, [views[-1].effective_from.isoformat(), str(views[-1].id)]
            )
            if views
            else None
        )
        return AnnouncementConnection(
            nodes=[Announcement.from_view(v) for v in views],
            page_info=PageInfo(end_cursor=end, has_next_page=has_next),
        )

    @strawberry.field(description="One announcement as it is now (any status)")
    async def announcement(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> Announcement | None:
        c = ctx(info)
        view = await query(c.container.announcements.get, c.principal(), parse_id(id))
        return Announcement.from_view(view) if view is not None else None

    @strawberry.field
    async def announcement_as_of(
        self, info: Info[Context, Any], id: strawberry.ID, at: datetime
    ) -> Announcement | None:
        c = ctx(info)
        view = await query(c.container.announcements.as_of, c.principal(), parse_id(id), at)
        return Announcement.from_view(view) if view is not None else None


@strawberry.type
class AnnouncementMutation:
    @strawberry.mutation
    async def publish_announcement(
        self, info: Info[Context, Any], input: AnnouncementInput
    ) -> AnnouncementPayload:
        c = ctx(info)
        result = await mutate(c.container.announcements.publish, c.principal(), input.to_data())
        return _payload(result)

    @strawberry.mutation(
        description="Replace what an announcement says (earlier versions stay in the store);"
        " an omitted effectiveFrom keeps the current one"
    )
    async def revise_announcement(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        input: AnnouncementInput,
        expected_version: int | None = None,
    ) -> AnnouncementPayload:
        c = ctx(info)
        result = await mutate(
            c.container.announcements.revise,
            c.principal(),
            parse_id(id),
            input.to_data(),
            expected_version,
        )
        return _payload(result)

    @strawberry.mutation
    async def withdraw_announcement(
        self, info: Info[Context, Any], id: strawberry.ID, reason: str | None = None
    ) -> AnnouncementPayload:
        c = ctx(info)
        result = await mutate(
            c.container.announcements.withdraw, c.principal(), parse_id(id), reason
        )
        return _payload(result)
