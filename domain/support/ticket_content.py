"""What a ticket holds besides its state: entries, archive fields, rating, draft content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from domain.shared import NoChangeError
from domain.support.values import (
    MAX_ARCHIVE_TEXT,
    MAX_BODY,
    MAX_TITLE,
    TicketCategory,
    TicketPriority,
    clean_optional,
    clean_tags,
    clean_text,
    validate_msisdn,
)


class Keep(Enum):
    KEEP = "KEEP"


#: "Leave this archive field as it is" (distinct from None, which clears it).
KEEP = Keep.KEEP


@dataclass(frozen=True)
class TicketEntry:
    kind: str
    body: str
    author_id: str
    at: datetime


@dataclass(frozen=True)
class TicketArchive:
    """Archive fields (存檔項) kept by second-line support."""

    resolution_category: str | None = None
    root_cause: str | None = None
    resolution: str | None = None
    tags: tuple[str, ...] = ()

    def edited(
        self,
        resolution_category: str | Keep | None,
        root_cause: str | Keep | None,
        resolution: str | Keep | None,
        tags: list[str] | Keep | None,
    ) -> TicketArchive:
        """These fields with the given ones changed (KEEP leaves one as it is, None clears
        it); NO_CHANGE when nothing would change."""

        def pick(value: str | Keep | None, current: str | None, field: str) -> str | None:
            if value is KEEP:
                return current
            return clean_optional(value, field, MAX_ARCHIVE_TEXT)

        new = TicketArchive(
            resolution_category=pick(
                resolution_category, self.resolution_category, "resolutionCategory"
            ),
            root_cause=pick(root_cause, self.root_cause, "rootCause"),
            resolution=pick(resolution, self.resolution, "resolution"),
            tags=self.tags if tags is KEEP else tuple(clean_tags(tags or [])),
        )
        if new == self:
            raise NoChangeError("the archive fields already hold these values")
        return new


@dataclass(frozen=True)
class TicketRating:
    score: int
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class DraftContent:
    """A draft's editable content, cleaned. Title and body may still be empty in a draft."""

    title: str
    body: str
    category: TicketCategory
    priority: TicketPriority
    msisdn: str | None

    @classmethod
    def clean(
        cls,
        title: str,
        body: str,
        category: TicketCategory,
        priority: TicketPriority,
        msisdn: str | None,
    ) -> DraftContent:
        return cls(
            title=clean_text(title, "title", MAX_TITLE, required=False),
            body=clean_text(body, "body", MAX_BODY, required=False),
            category=TicketCategory(category),
            priority=TicketPriority(priority),
            msisdn=validate_msisdn(msisdn),
        )
