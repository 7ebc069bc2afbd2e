"""Value types of the support desk: categories, priorities, severities, input rules."""

from __future__ import annotations

import re
from enum import StrEnum

from domain.shared import ValidationError
from domain.subscribers.rules import MSISDN_RE

MAX_TITLE = 200
MAX_BODY = 10_000
MAX_COMMENT = 2_000
MAX_ARCHIVE_TEXT = 2_000
MAX_TAGS = 20
MAX_TAG = 32


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


def clean_text(
    value: str | None, field: str, limit: int, *, required: bool, why: str | None = None
) -> str:
    """Strip a free-text input; refuse control characters (except newlines/tabs) and excess."""
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(why or f"{field} must not be empty", code="REQUIRED", field=[field])
    if len(text) > limit:
        raise ValidationError(
            f"{field} must be at most {limit} characters", code="TOO_LONG", field=[field]
        )
    if any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        raise ValidationError(
            f"{field} contains control characters", code="INVALID_INPUT", field=[field]
        )
    return text


def clean_optional(value: str | None, field: str, limit: int) -> str | None:
    return clean_text(value, field, limit, required=False) or None


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
        tag = clean_text(raw, "tags", MAX_TAG, required=False)
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
    if len(seen) > MAX_TAGS:
        raise ValidationError(f"at most {MAX_TAGS} tags", code="TOO_MANY_TAGS", field=["tags"])
    return list(seen.values())
