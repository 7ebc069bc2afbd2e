"""Format rules of the subscribers context and their stable error codes."""

from __future__ import annotations

import re
from dataclasses import replace
from enum import StrEnum

from domain.shared import DomainError, ValidationError
from domain.text import REASON

# Mainland mobile numbers: 11 digits, prefixes 13x-19x (ASCII only: \d takes any script).
MSISDN_RE = re.compile(r"1[3-9][0-9]{9}")
MSISDN_LENGTH = 11
ALIAS_RE = re.compile(r"[a-z][a-z0-9._-]*")
ALIAS_MIN, ALIAS_MAX = 3, 20
PASSWORD_MIN, PASSWORD_MAX = 6, 16
PASSWORD_RE = re.compile(r"[A-Za-z0-9]+")
HHMM_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
MAX_FROZEN_REASON = 200
# The reason of a proxy setting's ChangeContext, and a freeze's own reason (domain.text).
CHANGE_REASON = REASON.at("context", "reason")
FREEZE_REASON = replace(REASON, max_length=MAX_FROZEN_REASON, empty_code="REASON_REQUIRED")

# Local parts that belong to the mail service itself or invite impersonation.
RESERVED_ALIASES = frozenset(
    {
        "abuse",
        "admin",
        "administrator",
        "billing",
        "help",
        "helpdesk",
        "hostmaster",
        "info",
        "mailer-daemon",
        "no-reply",
        "noc",
        "noreply",
        "postmaster",
        "root",
        "security",
        "service",
        "spoa",
        "support",
        "sysadmin",
        "system",
        "webmaster",
        "www",
    }
)


class MailboxStatus(StrEnum):
    ACTIVE = "ACTIVE"
    FROZEN = "FROZEN"
    DEREGISTERED = "DEREGISTERED"


class NotificationMode(StrEnum):
    SMS = "SMS"
    MMS = "MMS"
    WAP_PUSH = "WAP_PUSH"


class SmsBlacklistLevel(StrEnum):
    NONE = "NONE"
    NO_MARKETING = "NO_MARKETING"
    ESSENTIAL_ONLY = "ESSENTIAL_ONLY"
    ALL_BLOCKED = "ALL_BLOCKED"


class MailboxDeregisteredError(DomainError):
    code = "MAILBOX_DEREGISTERED"


class MailboxFrozenError(DomainError):
    code = "MAILBOX_FROZEN"


class NotFrozenError(DomainError):
    code = "NOT_FROZEN"


class AlreadyRegisteredError(DomainError):
    code = "ALREADY_REGISTERED"


class AliasTakenError(DomainError):
    code = "ALIAS_TAKEN"


class SubscriberNotFoundError(DomainError):
    code = "NOT_FOUND"


def validate_msisdn(msisdn: str, field: str = "msisdn") -> str:
    if not isinstance(msisdn, str) or not MSISDN_RE.fullmatch(msisdn):
        raise ValidationError(
            "msisdn must be an 11-digit mainland mobile number starting 13-19",
            code="INVALID_MSISDN",
            field=[field],
        )
    return msisdn


def validate_alias(alias: str, field: str = "alias") -> str:
    def invalid(why: str) -> ValidationError:
        return ValidationError(f"invalid alias: {why}", code="INVALID_ALIAS", field=[field])

    if not ALIAS_MIN <= len(alias) <= ALIAS_MAX:
        raise invalid(f"it must be {ALIAS_MIN}-{ALIAS_MAX} characters")
    if alias.isdigit():
        raise invalid("it must not be all digits")
    if not ALIAS_RE.fullmatch(alias):
        raise invalid("it must start with a-z and contain only a-z, 0-9, '.', '_' or '-'")
    if alias in RESERVED_ALIASES:
        raise invalid(f"{alias!r} is reserved")
    return alias


def validate_mailbox_password(password: str, msisdn: str, field: str = "newPassword") -> None:
    """6-16 letters and digits, with at least one of each, and not the phone number."""

    def invalid(why: str) -> ValidationError:
        return ValidationError(f"invalid password: {why}", code="INVALID_PASSWORD", field=[field])

    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise invalid(f"it must be {PASSWORD_MIN}-{PASSWORD_MAX} characters")
    if not PASSWORD_RE.fullmatch(password):
        raise invalid("it may contain only letters and digits")
    if password.isdigit() or password.isalpha():
        raise invalid("it must contain both letters and digits")
    if msisdn in password:
        raise invalid("it must not contain the phone number")


def validate_window(start: str | None, end: str | None) -> tuple[str | None, str | None]:
    """An HH:MM window in Asia/Shanghai; both ends or neither; may wrap past midnight."""
    if start is None and end is None:
        return None, None
    if start is None or end is None:
        raise ValidationError(
            "give both windowStart and windowEnd, or neither",
            code="INVALID_WINDOW",
            field=["windowStart" if start is None else "windowEnd"],
        )
    for value, name in ((start, "windowStart"), (end, "windowEnd")):
        if not HHMM_RE.fullmatch(value):
            raise ValidationError(
                f"{name} must be a time of day HH:MM (00:00-23:59)",
                code="INVALID_WINDOW",
                field=[name],
            )
    if start == end:
        raise ValidationError(
            "windowStart and windowEnd must differ", code="INVALID_WINDOW", field=["windowEnd"]
        )
    return start, end


def arrival_setting(
    enabled: bool, mode: NotificationMode | None, window_start: str | None, window_end: str | None
) -> tuple[str | None, str | None, str | None]:
    """The (mode, window start, window end) an arrival-notification input means: enabling
    needs a mode, the window is optional (none: all day); disabling clears all three."""
    if not enabled:
        return None, None, None
    if mode is None:
        raise ValidationError(
            "enabling the arrival notification needs a mode", code="MODE_REQUIRED", field=["mode"]
        )
    start, end = validate_window(window_start, window_end)
    return NotificationMode(mode).value, start, end


def in_window(start: str, end: str, hhmm: str) -> bool:
    """Whether a local time of day falls in [start, end), wrapping past midnight if end < start."""
    if start < end:
        return start <= hhmm < end
    return hhmm >= start or hhmm < end


def validate_freeze_reason(reason: str) -> str:
    """Why a mailbox is frozen: required, and at most MAX_FROZEN_REASON characters."""
    return FREEZE_REASON.clean(reason, required=True, why="freezing a mailbox needs a reason")
