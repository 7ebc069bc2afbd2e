"""The nine platform record kinds, their fields, and the validation of incoming records.

A record arrives as a JSON object with the contract's field names (camelCase) plus `msisdn`
and `sourceRecordId`. Valid records are normalised to a row (a list in column order) so that a
batch stores compactly and the projection can copy rows without re-validating.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal

import msgspec
import orjson

MSISDN_RE = re.compile(r"1[3-9][0-9]{9}")  # ASCII only: \d takes any script
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

# Record times are stored in one form: UTC, RFC 3339 with "Z", microseconds when not zero.
# msgspec writes that form in C, for a whole batch at once; `canonical_time` writes one.
_time_encoder = msgspec.json.Encoder()


def canonical_time(moment: datetime) -> str:
    """The stored form of an aware datetime (UTC, "Z")."""
    return _time_encoder.encode(moment.astimezone(UTC))[1:-1].decode()


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
        if "\x00" in value:
            raise FieldProblemError("must not contain NUL characters")
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


@dataclass(frozen=True)
class RecordError:
    index: int  # 0-based position in the batch (NDJSON: line number - 1)
    field: str | None
    reason: str

    def message(self) -> str:
        where = f"record {self.index}"
        return f"{where}: {self.field} {self.reason}" if self.field else f"{where}: {self.reason}"


def _fast_type(column: Column) -> Any:
    """The msgspec type of a column: as strict as the column's rule or stricter (what it lets
    through, `Column.parse` accepts unchanged; what it refuses goes to `Column.parse`)."""
    if column.type is FieldType.MSISDN:
        return Annotated[str, msgspec.Meta(pattern=r"\A1[3-9][0-9]{9}\Z")]
    if column.type is FieldType.TIMESTAMP:
        return str  # parsed by datetime.fromisoformat, exactly as Column.parse does
    if column.type is FieldType.CHOICE:
        return Literal[tuple(sorted(column.options))]
    if column.type is FieldType.BOOLEAN:
        return bool
    if column.type is FieldType.TEXT:
        meta = msgspec.Meta(min_length=1 if column.required else 0, max_length=column.max_length)
        return Annotated[str, meta] if column.required else Annotated[str, meta] | None
    low = -MAX_INT if column.minimum is None else max(column.minimum, -MAX_INT)
    integer = Annotated[int, msgspec.Meta(ge=low, le=MAX_INT)]
    return integer if column.required else integer | None


@dataclass(frozen=True)
class _LineDecoder:
    """Decodes and checks one NDJSON record in C (msgspec) for the common case of a valid
    record; tests/unit/test_history_fast_path.py holds it to Column.parse's answers."""

    decode: Callable[[bytes], Any]
    non_blank: tuple[int, ...]  # required text: msgspec checks the length, not the blanks
    at: int  # occurred_at


@cache
def _line_decoder(kind: RecordKind) -> _LineDecoder:
    columns = columns_of(kind)
    fields = [
        (c.name, _fast_type(c), None)
        if not c.required and c.type in _NULLABLE
        else (c.name, _fast_type(c))
        for c in columns
    ]
    struct = msgspec.defstruct(
        f"{kind.value.title()}Record", fields, kw_only=True, forbid_unknown_fields=True
    )
    assert struct.__struct_fields__ == tuple(c.name for c in columns)  # astuple: column order
    return _LineDecoder(
        decode=msgspec.json.Decoder(struct).decode,
        non_blank=tuple(
            i for i, c in enumerate(columns) if c.type is FieldType.TEXT and c.required
        ),
        at=next(i for i, c in enumerate(columns) if c.type is FieldType.TIMESTAMP),
    )


_NULLABLE = frozenset({FieldType.TEXT, FieldType.INTEGER})


def _finish(row: list[Any], fast: _LineDecoder) -> bool:
    """The checks msgspec does not make, on a row it decoded: required text is not blank and
    the time parses as Column.parse parses it (its value becomes the UTC datetime)."""
    for i in fast.non_blank:
        if row[i].isspace():
            return False
    try:
        moment = datetime.fromisoformat(row[fast.at])
        if moment.tzinfo is None:
            return False
        row[fast.at] = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


_FAST_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


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
        self.rows.clear()  # the batch is rejected whole: stop holding rows
        self.error_count += 1
        if len(self.errors) < self.MAX_ERRORS:
            self.errors.append(RecordError(index, field, reason))

    def add_json_lines(self, lines: Sequence[bytes], first_index: int = 0) -> None:
        """NDJSON records: line `first_index + n` is `lines[n]`; blank lines are skipped.

        Same answers as `add(json.loads(line), index)` line by line, at a fraction of the
        cost: a valid record is decoded and checked in C, and anything the C decoder refuses
        (an invalid record, or a valid one in a form it does not take, such as 5.0 for 5)
        goes through `add`, which has the last word and names the problems.
        """
        fast = _line_decoder(self.kind)
        decode, values, at = fast.decode, msgspec.structs.astuple, fast.at
        seen = self._seen_ids
        added: list[list[Any]] = []
        for offset, raw in enumerate(lines):
            if not raw or raw.isspace():
                continue
            try:
                row = list(values(decode(raw)))
            except _FAST_ERRORS:
                row = None
            if row is None or b"\\u0000" in raw or row[1] in seen or not _finish(row, fast):
                self.add_json(raw, first_index + offset)
                continue
            self.count += 1
            seen.add(row[1])
            if not self.errors:
                self.rows.append(row)
                added.append(row)
        if added and not self.errors:
            times = msgspec.json.decode(_time_encoder.encode([row[at] for row in added]))
            for row, text in zip(added, times, strict=True):
                row[at] = text

    def add_json(self, raw: bytes, index: int) -> None:
        """One record as JSON text."""
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self.add_problem(index, f"is not valid JSON ({exc.msg})")
            return
        self.add(record, index)

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

    def add_all(self, records: Iterable[Any]) -> None:
        for record in records:
            self.add(record)

    def add_problem(self, index: int, reason: str) -> None:
        """A record that could not even be parsed (e.g. a malformed NDJSON line)."""
        self.count += 1
        self._error(index, None, reason)

    @property
    def valid(self) -> bool:
        return self.error_count == 0
