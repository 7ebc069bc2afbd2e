"""Value types of the support desk: categories, priorities, severities, input rules."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import partial

from domain.shared import ValidationError
from domain.subscribers.rules import MSISDN_RE
from domain.text import Text

MAX_TITLE = 200
MAX_BODY = 10_000
MAX_COMMENT = 2_000
MAX_ARCHIVE_TEXT = 2_000
MAX_TAGS = 20
MAX_TAG = 32

# The support desk's free text (domain.text). Titles, resolution categories and tags are one
# line; an empty required field is REQUIRED and an overlong one TOO_LONG, as they always were.
_text = partial(Text, too_long_code="TOO_LONG", empty_code="REQUIRED")
TITLE = _text("title", MAX_TITLE, line=True)
BODY = _text("body", MAX_BODY)
COMMENT = _text("comment", MAX_COMMENT)
RESOLUTION_CATEGORY = _text("resolutionCategory", MAX_ARCHIVE_TEXT, line=True)
ROOT_CAUSE = _text("rootCause", MAX_ARCHIVE_TEXT)
RESOLUTION = _text("resolution", MAX_ARCHIVE_TEXT)
TAG = _text("tags", MAX_TAG, line=True, what="a tag")


class TicketCategory(StrEnum):
    COMPLAINT = "COMPLAINT"
    CONSULTATION = "CONSULTATION"
    FAULT = "FAULT"
    REQUEST = "REQUEST"
    OTHER = "OTHER"


class TicketPriority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class EntryKind(StrEnum):
    SUBMISSION = "SUBMISSION"
    ANSWER = "ANSWER"
    RESUBMISSION = "RESUBMISSION"
    RATING = "RATING"


class AnnouncementSeverity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class AnnouncementStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    WITHDRAWN = "WITHDRAWN"


def validate_msisdn(msisdn: str | None) -> str | None:
    """A mainland mobile number (MSISDN_RE), or None. Spaces and +86 are tolerated."""
    if msisdn is None:
        return None
    digits = re.sub(r"[\s-]", "", msisdn)
    if digits.startswith("+86"):
        digits = digits[3:]
    if not digits:
        return None
    if not MSISDN_RE.fullmatch(digits):
        raise ValidationError(
            "msisdn must be an 11-digit mainland mobile number, e.g. 13800138000",
            code="INVALID_MSISDN",
            field=["msisdn"],
        )
    return digits


def clean_tags(tags: list[str]) -> list[str]:
    """Trimmed, de-duplicated (first spelling kept), bounded tags."""
    seen: dict[str, str] = {}
    for raw in tags:
        tag = TAG.clean(raw)
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
    if len(seen) > MAX_TAGS:
        raise ValidationError(f"at most {MAX_TAGS} tags", code="TOO_MANY_TAGS", field=["tags"])
    return list(seen.values())
