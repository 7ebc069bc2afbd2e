"""Incident announcements (公告): short-lived notices of problems that affect customers.

An announcement is published with a window and an audience (every province, or some),
revised in place (earlier versions stay in the store) and withdrawn with a reason. Its
status (SCHEDULED, ACTIVE, EXPIRED, WITHDRAWN) is derived from the time it is asked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.access.provinces import validate_province
from domain.shared import ChangeMeta, NoChangeError, ValidationError
from domain.support.errors import InvalidTransitionError
from domain.support.values import BODY, TITLE, AnnouncementSeverity, AnnouncementStatus
from domain.text import REASON


@dataclass(frozen=True)
class AnnouncementContent:
    """What an announcement says, to whom and when; cleaned and checked."""

    title: str
    body: str
    severity: AnnouncementSeverity
    provinces: tuple[str, ...]
    effective_from: datetime
    effective_until: datetime | None

    @classmethod
    def clean(
        cls,
        *,
        title: str,
        body: str,
        severity: AnnouncementSeverity,
        provinces: list[str] | None,
        effective_from: datetime | None,
        effective_until: datetime | None,
        default_from: datetime,
    ) -> AnnouncementContent:
        start = effective_from or default_from
        if effective_until is not None and effective_until <= start:
            raise ValidationError(
                "effectiveUntil must be after effectiveFrom",
                code="INVALID_WINDOW",
                field=["effectiveUntil"],
            )
        return cls(
            title=TITLE.clean(title, required=True),
            body=BODY.clean(body, required=True),
            severity=AnnouncementSeverity(severity),
            provinces=tuple(sorted({validate_province(p, "provinces") for p in provinces or []})),
            effective_from=start,
            effective_until=effective_until,
        )


class Announcement(Aggregate):
    TOPIC = "spoa.support:Announcement"

    class Event(Aggregate.Event):
        TOPIC = "spoa.support:Announcement.Event"

    @classmethod
    def publish(
        cls, *, content: AnnouncementContent, at: datetime, meta: ChangeMeta
    ) -> Announcement:
        return cls(**_event_fields(content), at=at, meta=meta)

    @event("AnnouncementPublished", topic="spoa.support:Announcement.AnnouncementPublished")
    def __init__(
        self,
        title: str,
        body: str,
        severity: str,
        provinces: list[str],
        effective_from: datetime,
        effective_until: datetime | None,
        at: datetime,
        meta: ChangeMeta,
    ) -> None:
        self._apply(title, body, severity, provinces, effective_from, effective_until)
        self.published_by = meta.actor.account_id
        self.published_at = at
        self.revised_at: datetime | None = None
        self.withdrawn_at: datetime | None = None
        self.withdrawn_reason: str | None = None

    def _apply(
        self,
        title: str,
        body: str,
        severity: str,
        provinces: list[str],
        effective_from: datetime,
        effective_until: datetime | None,
    ) -> None:
        self.title = title
        self.body = body
        self.severity = AnnouncementSeverity(severity)
        self.provinces = list(provinces)
        self.effective_from = effective_from
        self.effective_until = effective_until

    def content(self) -> AnnouncementContent:
        return AnnouncementContent(
            title=self.title,
            body=self.body,
            severity=self.severity,
            provinces=tuple(self.provinces),
            effective_from=self.effective_from,
            effective_until=self.effective_until,
        )

    def _require_not_withdrawn(self, doing: str) -> None:
        if self.withdrawn_at is not None:
            raise InvalidTransitionError(
                f"cannot {doing} an announcement that is WITHDRAWN", state="WITHDRAWN"
            )

    def revise(self, *, content: AnnouncementContent, at: datetime, meta: ChangeMeta) -> None:
        self._require_not_withdrawn("revise")
        if content == self.content():
            raise NoChangeError("the announcement already says exactly this")
        self._revised(**_event_fields(content), at=at, meta=meta)

    @event("AnnouncementRevised", topic="spoa.support:Announcement.AnnouncementRevised")
    def _revised(
        self,
        title: str,
        body: str,
        severity: str,
        provinces: list[str],
        effective_from: datetime,
        effective_until: datetime | None,
        at: datetime,
        meta: ChangeMeta,
    ) -> None:
        self._apply(title, body, severity, provinces, effective_from, effective_until)
        self.revised_at = at

    def withdraw(self, *, reason: str | None, at: datetime, meta: ChangeMeta) -> None:
        self._require_not_withdrawn("withdraw")
        self._withdrawn(reason=REASON.optional(reason), at=at, meta=meta)

    @event("AnnouncementWithdrawn", topic="spoa.support:Announcement.AnnouncementWithdrawn")
    def _withdrawn(self, reason: str | None, at: datetime, meta: ChangeMeta) -> None:
        self.withdrawn_at = at
        self.withdrawn_reason = reason

    # ------------------------------------------------------------------ derived
    def status(self, now: datetime) -> AnnouncementStatus:
        return announcement_status(
            now, self.effective_from, self.effective_until, self.withdrawn_at
        )

    def addressed_to(self, province: str) -> bool:
        return not self.provinces or province in self.provinces


def announcement_status(
    now: datetime,
    effective_from: datetime,
    effective_until: datetime | None,
    withdrawn_at: datetime | None,
) -> AnnouncementStatus:
    """Status at `now`: the window is [effectiveFrom, effectiveUntil)."""
    if withdrawn_at is not None and withdrawn_at <= now:
        return AnnouncementStatus.WITHDRAWN
    if now < effective_from:
        return AnnouncementStatus.SCHEDULED
    if effective_until is not None and now >= effective_until:
        return AnnouncementStatus.EXPIRED
    return AnnouncementStatus.ACTIVE


def _event_fields(content: AnnouncementContent) -> dict[str, Any]:
    return {
        "title": content.title,
        "body": content.body,
        "severity": content.severity.value,
        "provinces": list(content.provinces),
        "effective_from": content.effective_from,
        "effective_until": content.effective_until,
    }


ANNOUNCEMENT_EVENTS: tuple[type[Aggregate.Event], ...] = (
    Announcement.AnnouncementPublished,  # type: ignore[attr-defined]
    Announcement.AnnouncementRevised,  # type: ignore[attr-defined]
    Announcement.AnnouncementWithdrawn,  # type: ignore[attr-defined]
)
