"""What a ticket holds besides its state: entries, archive fields, rating, draft content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from domain.shared import NoChangeError
from domain.support.values import (
    BODY,
    RESOLUTION,
    RESOLUTION_CATEGORY,
    ROOT_CAUSE,
    TITLE,
    TicketCategory,
    TicketPriority,
    clean_tags,
    validate_msisdn,
)
from domain.text import Text


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

        def pick(value: str | Keep | None, current: str | None, rule: Text) -> str | None:
            return current if value is KEEP else rule.optional(value)

        new = TicketArchive(
            resolution_category=pick(
                resolution_category, self.resolution_category, RESOLUTION_CATEGORY
            ),
            root_cause=pick(root_cause, self.root_cause, ROOT_CAUSE),
            resolution=pick(resolution, self.resolution, RESOLUTION),
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
            title=TITLE.clean(title),
            body=BODY.clean(body),
            category=TicketCategory(category),
            priority=TicketPriority(priority),
            msisdn=validate_msisdn(msisdn),
        )
