"""The nine platform record kinds, their fields and each field's rule (validation.py applies
them to a batch).

A record arrives as a JSON object with the contract's field names (camelCase) plus `msisdn`
and `sourceRecordId`. Valid records are normalised to a row (a list in column order) so that a
batch stores compactly and the projection can copy rows without re-validating.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from domain.subscribers.rules import MSISDN_RE
from domain.text import describe, forbidden_character

MAX_TEXT = 512
MAX_ID = 128
MAX_INT = 2**63 - 1


class RecordKind(StrEnum):
    SMS = "SMS"
    MMS = "MMS"
    WAP_PUSH = "WAP_PUSH"
    CAMPAIGN = "CAMPAIGN"
    CHARGE = "CHARGE"
    LOGIN = "LOGIN"
    USAGE = "USAGE"
    SYNC = "SYNC"
    POINTS = "POINTS"


DIRECTIONS = frozenset({"SENT", "RECEIVED"})
STATUSES = frozenset({"DELIVERED", "FAILED", "PENDING"})
CHANNELS = frozenset({"WEB", "WAP", "POP", "IMAP", "CLIENT"})

# Categories that feed the usage counters (seed §2 "usage counts").
SELF_WRITTEN = "SELF_WRITTEN"
MAIL_ARRIVAL_NOTICE = "MAIL_ARRIVAL_NOTICE"


class FieldProblemError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Parser = Callable[[Any], Any]


def canonical_time(moment: datetime) -> str:
    """The stored form of an aware datetime: UTC, RFC 3339 with "Z", microseconds when not 0."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_timestamp(value: Any) -> str:
    """ISO-8601 with an offset (or Z) -> the stored form (see canonical_time)."""
    return canonical_time(_moment(value))


def _moment(value: Any) -> datetime:
    if not isinstance(value, str):
        raise FieldProblemError("must be an ISO-8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FieldProblemError("must be an ISO-8601 date-time with offset") from None
    if moment.tzinfo is None:
        raise FieldProblemError("must include a UTC offset (e.g. +08:00 or Z)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+08:00 is before year 1 in UTC
        raise FieldProblemError("is out of range") from None


class FieldType(StrEnum):
    MSISDN = "MSISDN"
    TEXT = "TEXT"
    INTEGER = "INTEGER"
    BOOLEAN = "BOOLEAN"
    CHOICE = "CHOICE"
    TIMESTAMP = "TIMESTAMP"


@dataclass(frozen=True)
class Column:
    """One field of a record kind: its contract name, its SQL column, and its rule."""

    name: str  # contract (JSON / GraphQL) name
    column: str  # SQL column name
    type: FieldType
    required: bool = True
    max_length: int = MAX_TEXT  # TEXT
    minimum: int | None = None  # INTEGER
    options: frozenset[str] = frozenset()  # CHOICE

    def parse(self, value: Any) -> Any:
        """The field's stored value, or FieldProblemError naming what is wrong."""
        if self.type is FieldType.TIMESTAMP:
            return parse_timestamp(value)
        if self.type is FieldType.MSISDN:
            if not isinstance(value, str) or not MSISDN_RE.fullmatch(value):
                raise FieldProblemError("must be an 11-digit mainland mobile number")
            return value
        if self.type is FieldType.CHOICE:
            if not isinstance(value, str) or value not in self.options:
                raise FieldProblemError(f"must be one of {', '.join(sorted(self.options))}")
            return value
        if self.type is FieldType.BOOLEAN:
            if not isinstance(value, bool):
                raise FieldProblemError("must be true or false")
            return value
        if value is None:
            if self.required:
                raise FieldProblemError("is required")
            return None
        if self.type is FieldType.TEXT:
            return self._text(value)
        return self._integer(value)

    def _text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise FieldProblemError("must be a string")
        if self.required and not value.strip():
            raise FieldProblemError("must not be empty")
        if len(value) > self.max_length:
            raise FieldProblemError(f"must be at most {self.max_length} characters")
        char = forbidden_character(value)
        if char is not None:
            raise FieldProblemError(f"must not contain control characters ({describe(char)})")
        return value

    def _integer(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            else:
                raise FieldProblemError("must be an integer")
        if self.minimum is not None and value < self.minimum:
            raise FieldProblemError(f"must be at least {self.minimum}")
        if abs(value) > MAX_INT:
            raise FieldProblemError("is out of range")
        return int(value)


def _text(name: str, column: str, required: bool = True, limit: int = MAX_TEXT) -> Column:
    return Column(name, column, FieldType.TEXT, required=required, max_length=limit)


def _integer(name: str, column: str, required: bool = True, minimum: int | None = None) -> Column:
    return Column(name, column, FieldType.INTEGER, required=required, minimum=minimum)


def _boolean(name: str, column: str) -> Column:
    return Column(name, column, FieldType.BOOLEAN)


def _choice(name: str, column: str, options: frozenset[str]) -> Column:
    return Column(name, column, FieldType.CHOICE, options=options)


COMMON = (
    Column("msisdn", "msisdn", FieldType.MSISDN),
    _text("sourceRecordId", "source_record_id", limit=MAX_ID),
    Column("occurredAt", "occurred_at", FieldType.TIMESTAMP),
)

_MESSAGE = (
    _choice("direction", "direction", DIRECTIONS),
    _text("peer", "peer", limit=64),
    _choice("status", "status", STATUSES),
    _integer("feeFen", "fee_fen", minimum=0),
    _text("category", "category", limit=64),
    _integer("sizeBytes", "size_bytes", required=False, minimum=0),
)

KIND_COLUMNS: dict[RecordKind, tuple[Column, ...]] = {
    RecordKind.SMS: _MESSAGE,
    RecordKind.MMS: _MESSAGE,
    RecordKind.WAP_PUSH: (
        _text("title", "title"),
        _text("url", "url", limit=2048),
        _choice("status", "status", STATUSES),
        _integer("feeFen", "fee_fen", minimum=0),
    ),
    RecordKind.CAMPAIGN: (
        _text("campaignId", "campaign_id", limit=MAX_ID),
        _text("campaignName", "campaign_name"),
        _integer("rank", "rank", required=False, minimum=1),
        _boolean("won", "won"),
        _text("prize", "prize", required=False),
    ),
    RecordKind.CHARGE: (
        _integer("amountFen", "amount_fen"),
        _text("method", "method", limit=64),
        _text("item", "item"),
    ),
    RecordKind.LOGIN: (
        _choice("channel", "channel", CHANNELS),
        _text("ip", "ip", required=False, limit=64),
        _boolean("success", "success"),
    ),
    RecordKind.USAGE: (
        _text("operation", "operation", limit=128),
        _text("detail", "detail", required=False, limit=2048),
    ),
    RecordKind.SYNC: (
        _text("operation", "operation", limit=128),
        _text("result", "result", limit=128),
        _text("bossTransactionId", "boss_transaction_id", required=False, limit=MAX_ID),
    ),
    RecordKind.POINTS: (
        _integer("delta", "delta"),
        _integer("balance", "balance"),
        _integer("level", "level", minimum=0),
        _text("reason", "reason"),
    ),
}


def columns_of(kind: RecordKind) -> tuple[Column, ...]:
    return COMMON + KIND_COLUMNS[kind]
