"""Incident announcements: publish, revise, withdraw; list and read as at a time.

Everyone with ANNOUNCEMENT_READ sees announcements; a PROVINCE_AGENT's list holds only those
addressed to every province or to theirs. Status is derived from the time asked at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application

from application.audit.ports import AggregateAsOf
from application.authz import Principal
from application.consistency import wait_until_applied
from application.ports import Clock, EventLog, ReadModelWaiter
from application.unit_of_work import get_or_none, run_command, save
from domain.access.permissions import Permission, Role
from domain.access.provinces import validate_province
from domain.shared import NotFoundError, PermissionDeniedError
from domain.support.announcement import Announcement, AnnouncementContent, announcement_status
from domain.support.values import AnnouncementSeverity

_READ, _MANAGE = Permission.ANNOUNCEMENT_READ, Permission.ANNOUNCEMENT_MANAGE
ANNOUNCEMENTS_PROJECTION = "announcements"


@dataclass(frozen=True)
class AnnouncementView:
    id: UUID
    title: str
    body: str
    severity: str
    provinces: list[str]
    effective_from: datetime
    effective_until: datetime | None
    status: str
    published_by_id: str
    published_at: datetime
    revised_at: datetime | None
    withdrawn_at: datetime | None
    withdrawn_reason: str | None
    version: int


def announcement_view(a: Announcement, now: datetime) -> AnnouncementView:
    return AnnouncementView(
        id=a.id,
        title=a.title,
        body=a.body,
        severity=a.severity.value,
        provinces=list(a.provinces),
        effective_from=a.effective_from,
        effective_until=a.effective_until,
        status=a.status(now).value,
        published_by_id=a.published_by,
        published_at=a.published_at,
        revised_at=a.revised_at,
        withdrawn_at=a.withdrawn_at,
        withdrawn_reason=a.withdrawn_reason,
        version=a.version,
    )


def announcement_view_from_row(row: Mapping[str, Any], now: datetime) -> AnnouncementView:
    status = announcement_status(
        now, row["effective_from"], row["effective_until"], row["withdrawn_at"]
    )
    return AnnouncementView(
        id=row["id"],
        title=row["title"],
        body=row["body"],
        severity=row["severity"],
        provinces=list(row["provinces"]),
        effective_from=row["effective_from"],
        effective_until=row["effective_until"],
        status=status.value,
        published_by_id=row["published_by"],
        published_at=row["published_at"],
        revised_at=row["revised_at"],
        withdrawn_at=row["withdrawn_at"],
        withdrawn_reason=row["withdrawn_reason"],
        version=row["version"],
    )


@dataclass(frozen=True)
class AnnouncementInput:
    title: str
    body: str
    severity: AnnouncementSeverity
    provinces: list[str] | None = None
    effective_from: datetime | None = None
    effective_until: datetime | None = None


@dataclass(frozen=True)
class AnnouncementResult:
    announcement: AnnouncementView
    position: int


class AnnouncementsReadModel(Protocol):
    def list(
        self,
        active_at: datetime | None,
        province: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]: ...

    def rows(self, ids: Sequence[UUID]) -> Mapping[UUID, Mapping[str, Any]]: ...


class AnnouncementService:
    def __init__(
        self,
        store: Application[UUID],
        clock: Clock,
        core_log: EventLog,
        read_model: AnnouncementsReadModel,
        as_of: AggregateAsOf,
        waiter: ReadModelWaiter,
    ) -> None:
        self.store = store
        self.clock = clock
        self.core_log = core_log
        self.read_model = read_model
        self.aggregates_as_of = as_of
        self.waiter = waiter

    # ------------------------------------------------------------------ commands
    def publish(self, principal: Principal, data: AnnouncementInput) -> AnnouncementResult:
        principal.require(_MANAGE)
        now = self.clock.now()
        content = _content(data, default_from=now)
        announcement = Announcement.publish(content=content, at=now, meta=principal.meta())
        position = save(self.store, announcement)
        return AnnouncementResult(announcement_view(announcement, now), position)

    def revise(
        self,
        principal: Principal,
        announcement_id: UUID,
        data: AnnouncementInput,
        expected_version: int | None = None,
    ) -> AnnouncementResult:
        """Replace what the announcement says; an omitted effectiveFrom keeps the current one."""
        principal.require(_MANAGE)
        meta = principal.meta()

        def act(announcement: Announcement) -> AnnouncementResult:
            now = self.clock.now()
            content = _content(data, default_from=announcement.effective_from)
            announcement.revise(content=content, at=now, meta=meta)
            position = save(self.store, announcement)
            return AnnouncementResult(announcement_view(announcement, now), position)

        return run_command(
            lambda: self._load(announcement_id), act, expected_version=expected_version
        )

    def withdraw(
        self, principal: Principal, announcement_id: UUID, reason: str | None
    ) -> AnnouncementResult:
        principal.require(_MANAGE)
        meta = principal.meta(reason=reason)

        def act(announcement: Announcement) -> AnnouncementResult:
            now = self.clock.now()
            announcement.withdraw(reason=reason, at=now, meta=meta)
            position = save(self.store, announcement)
            return AnnouncementResult(announcement_view(announcement, now), position)

        return run_command(lambda: self._load(announcement_id), act)

    def _load(self, announcement_id: UUID) -> Announcement:
        found = get_or_none(self.store, announcement_id, Announcement)
        if found is None:
            raise NotFoundError("announcement not found", field=["id"])
        return found

    # ------------------------------------------------------------------ queries
    def audience(self, principal: Principal, requested: str | None) -> str | None:
        """Whose announcements to list: a province agent sees those for everyone or for their
        own province (asking for another is FORBIDDEN); others may pick any province."""
        principal.require(_READ)
        if requested is not None:
            validate_province(requested)
        if principal.role is not Role.PROVINCE_AGENT:
            return requested
        if requested is not None and requested != principal.province:
            raise PermissionDeniedError("a province agent sees its own province's announcements")
        return principal.province

    async def wait_for_list(
        self, principal: Principal, province: str | None, consistent_with: int | None
    ) -> None:
        """Before `list`: who may not list, or asks badly, is refused at once; else wait
        until the announcement list has applied `consistent_with`."""
        self.audience(principal, province)
        await wait_until_applied(self.waiter, [ANNOUNCEMENTS_PROJECTION], consistent_with)

    def list(
        self,
        principal: Principal,
        active_only: bool,
        province: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[AnnouncementView]:
        """Newest effectiveFrom first; activeOnly keeps those ACTIVE now."""
        audience = self.audience(principal, province)
        now = self.clock.now()
        rows = self.read_model.list(now if active_only else None, audience, after, limit)
        return [announcement_view_from_row(r, now) for r in rows]

    def follow(self, principal: Principal) -> str | None:
        """Live updates (`announcementUpdates`): the follower's audience, as for the list."""
        return self.audience(principal, None)

    def updated(self, ids: Sequence[UUID]) -> dict[UUID, AnnouncementView]:
        """The changed announcements as the read model has them (for live updates)."""
        now = self.clock.now()
        rows = self.read_model.rows(ids)
        return {i: announcement_view_from_row(row, now) for i, row in rows.items()}

    def as_of(
        self, principal: Principal, announcement_id: UUID, at: datetime
    ) -> AnnouncementView | None:
        """The announcement as it read at `at`, with its status as at then (the version current
        then, found through the version timeline rather than a replay of the whole stream)."""
        principal.require(_READ)
        found = self.aggregates_as_of.aggregate_at("Announcement", announcement_id, at)
        return announcement_view(found, at) if isinstance(found, Announcement) else None

    def get(self, principal: Principal, announcement_id: UUID) -> AnnouncementView | None:
        principal.require(_READ)
        found = get_or_none(self.store, announcement_id, Announcement)
        if found is None:
            return None
        return announcement_view(found, self.clock.now())


def _content(data: AnnouncementInput, default_from: datetime) -> AnnouncementContent:
    return AnnouncementContent.clean(
        title=data.title,
        body=data.body,
        severity=data.severity,
        provinces=data.provinces,
        effective_from=data.effective_from,
        effective_until=data.effective_until,
        default_from=default_from,
    )


def addressed_to(view: AnnouncementView, audience: str | None) -> bool:
    """Whether an announcement is for an audience (None: every announcement), as the list's
    province condition says: addressed to every province or to that one."""
    return audience is None or not view.provinces or audience in view.provinces
