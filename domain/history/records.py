"""The nine platform record kinds, their fields, and the validation of incoming records.

A record arrives as a JSON object with the contract's field names (camelCase) plus `msisdn`
and `sourceRecordId`. Valid records are normalised to a row (a list in column order) so that a
batch stores compactly and the projection can copy rows without re-validating.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

MSISDN_RE = re.compile(r"1[3-9]\d{9}")
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


def _text(required: bool, limit: int = MAX_TEXT) -> Parser:
    def parse(value: Any) -> Any:
        if value is None:
            if required:
                raise FieldProblemError("is required")
            return None
        if not isinstance(value, str):
            raise FieldProblemError("must be a string")
        if required and not value.strip():
            raise FieldProblemError("must not be empty")
        if len(value) > limit:
            raise FieldProblemError(f"must be at most {limit} characters")
        if "\x00" in value:
            raise FieldProblemError("must not contain NUL characters")
        return value

    return parse


def _integer(required: bool, minimum: int | None = None) -> Parser:
    def parse(value: Any) -> Any:
        if value is None:
            if required:
                raise FieldProblemError("is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            else:
                raise FieldProblemError("must be an integer")
        if minimum is not None and value < minimum:
            raise FieldProblemError(f"must be at least {minimum}")
        if abs(value) > MAX_INT:
            raise FieldProblemError("is out of range")
        return value

    return parse


def _boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise FieldProblemError("must be true or false")
    return value


def _choice(options: frozenset[str]) -> Parser:
    listed = ", ".join(sorted(options))

    def parse(value: Any) -> Any:
        if value not in options:
            raise FieldProblemError(f"must be one of {listed}")
        return value

    return parse


def parse_timestamp(value: Any) -> str:
    """ISO-8601 with an offset (or Z) -> canonical UTC ISO string."""
    if not isinstance(value, str):
        raise FieldProblemError("must be an ISO-8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FieldProblemError("must be an ISO-8601 date-time with offset") from None
    if moment.tzinfo is None:
        raise FieldProblemError("must include a UTC offset (e.g. +08:00 or Z)")
    return moment.astimezone(UTC).isoformat()


def _msisdn(value: Any) -> Any:
    if not isinstance(value, str) or not MSISDN_RE.fullmatch(value):
        raise FieldProblemError("must be an 11-digit mainland mobile number")
    return value


@dataclass(frozen=True)
class Column:
    name: str  # contract (JSON / GraphQL) name
    column: str  # SQL column name
    parse: Parser


COMMON = (
    Column("msisdn", "msisdn", _msisdn),
    Column("sourceRecordId", "source_record_id", _text(True, MAX_ID)),
    Column("occurredAt", "occurred_at", parse_timestamp),
)

_MESSAGE = (
    Column("direction", "direction", _choice(DIRECTIONS)),
    Column("peer", "peer", _text(True, 64)),
    Column("status", "status", _choice(STATUSES)),
    Column("feeFen", "fee_fen", _integer(True, 0)),
    Column("category", "category", _text(True, 64)),
    Column("sizeBytes", "size_bytes", _integer(False, 0)),
)

KIND_COLUMNS: dict[RecordKind, tuple[Column, ...]] = {
    RecordKind.SMS: _MESSAGE,
    RecordKind.MMS: _MESSAGE,
    RecordKind.WAP_PUSH: (
        Column("title", "title", _text(True)),
        Column("url", "url", _text(True, 2048)),
        Column("status", "status", _choice(STATUSES)),
        Column("feeFen", "fee_fen", _integer(True, 0)),
    ),
    RecordKind.CAMPAIGN: (
        Column("campaignId", "campaign_id", _text(True, MAX_ID)),
        Column("campaignName", "campaign_name", _text(True)),
        Column("rank", "rank", _integer(False, 1)),
        Column("won", "won", _boolean),
        Column("prize", "prize", _text(False)),
    ),
    RecordKind.CHARGE: (
        Column("amountFen", "amount_fen", _integer(True)),
        Column("method", "method", _text(True, 64)),
        Column("item", "item", _text(True)),
    ),
    RecordKind.LOGIN: (
        Column("channel", "channel", _choice(CHANNELS)),
        Column("ip", "ip", _text(False, 64)),
        Column("success", "success", _boolean),
    ),
    RecordKind.USAGE: (
        Column("operation", "operation", _text(True, 128)),
        Column("detail", "detail", _text(False, 2048)),
    ),
    RecordKind.SYNC: (
        Column("operation", "operation", _text(True, 128)),
        Column("result", "result", _text(True, 128)),
        Column("bossTransactionId", "boss_transaction_id", _text(False, MAX_ID)),
    ),
    RecordKind.POINTS: (
        Column("delta", "delta", _integer(True)),
        Column("balance", "balance", _integer(True)),
        Column("level", "level", _integer(True, 0)),
        Column("reason", "reason", _text(True)),
    ),
}


def columns_of(kind: RecordKind) -> tuple[Column, ...]:
    return COMMON + KIND_COLUMNS[kind]


@dataclass(frozen=True)
class RecordError:
    index: int  # 0-based position in the batch (NDJSON: line number - 1)
    field: str | None
    reason: str

    def message(self) -> str:
        where = f"record {self.index}"
        return f"{where}: {self.field} {self.reason}" if self.field else f"{where}: {self.reason}"


class BatchValidator:
    """Validates records one at a time (so a stream never has to be held twice in memory)."""

    MAX_ERRORS = 100

    def __init__(self, kind: RecordKind) -> None:
        self.kind = kind
        self.columns = columns_of(kind)
        self._known = frozenset(c.name for c in self.columns)
        self.rows: list[list[Any]] = []
        self.errors: list[RecordError] = []
        self.error_count = 0
        self.count = 0
        self._seen_ids: set[str] = set()

    def _error(self, index: int, field: str | None, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < self.MAX_ERRORS:
            self.errors.append(RecordError(index, field, reason))

    def add(self, record: Any, index: int | None = None) -> None:
        """Validate one record; `index` names it in errors (default: its position)."""
        if index is None:
            index = self.count
        self.count += 1
        if not isinstance(record, dict):
            self._error(index, None, "must be a JSON object")
            return
        row: list[Any] = []
        ok = True
        for column in self.columns:
            try:
                row.append(column.parse(record.get(column.name)))
            except FieldProblemError as problem:
                self._error(index, column.name, problem.reason)
                ok = False
        if not self._known.issuperset(record):
            unknown = sorted(record.keys() - self._known)[0]
            self._error(index, unknown, "is not a field of this record kind")
            ok = False
        if not ok:
            return
        source_id = row[1]
        if source_id in self._seen_ids:
            self._error(index, "sourceRecordId", "is repeated within the batch")
            return
        self._seen_ids.add(source_id)
        if not self.errors:
            self.rows.append(row)
        else:
            self.rows.clear()  # the batch is rejected whole; stop holding rows

    def add_all(self, records: Iterable[Any]) -> None:
        for record in records:
            self.add(record)

    def add_problem(self, index: int, reason: str) -> None:
        """A record that could not even be parsed (e.g. a malformed NDJSON line)."""
        self.count += 1
        self._error(index, None, reason)
        self.rows.clear()

    @property
    def valid(self) -> bool:
        return self.error_count == 0
