"""Validating a batch of platform records: the field rules record by record, and a fast path.

The fast path decodes and checks a valid NDJSON record in C (msgspec), from the same column
specs the rules are written in, a group of lines at a time; anything it does not take goes
through the rules, which have the last word and name the problems
(tests/unit/test_history_fast_path.py holds the two to the same answers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Literal

import msgspec
import orjson

from domain.history.records import (
    MAX_INT,
    Column,
    FieldProblemError,
    FieldType,
    RecordKind,
    columns_of,
)
from domain.subscribers.rules import MSISDN_LENGTH, MSISDN_RE
from domain.text import forbidden_character

# Record times in their stored form (domain.history.records.canonical_time), written in C for a
# whole batch at once: msgspec writes aware UTC datetimes as RFC 3339 with "Z".
TIME_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True)
class RecordError:
    index: int  # 0-based position in the batch (NDJSON: line number - 1)
    field: str | None
    reason: str

    def message(self) -> str:
        where = f"record {self.index}"
        return f"{where}: {self.field} {self.reason}" if self.field else f"{where}: {self.reason}"


def _fast_type(column: Column) -> Any:
    """The msgspec type of a column: what it refuses goes to `Column.parse`; what it lets
    through, `Column.parse` accepts unchanged once the checks msgspec does not make have passed
    (`_finish` for one row, `_group` for many)."""
    if column.type is FieldType.MSISDN:
        # The length only: a pattern would cost a call into `re` per record (as much as all
        # the rest of the decoding); the digits are checked on the decoded value.
        return Annotated[str, msgspec.Meta(min_length=MSISDN_LENGTH, max_length=MSISDN_LENGTH)]
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


# A number is checked in two parts: its length by msgspec, then its characters; for many
# numbers at once, by matching their concatenation against this. Each repetition of the
# pattern takes exactly 11 characters, so exactly the next number: the concatenation of
# 11-character strings matches exactly when every one of them matches MSISDN_RE.
assert MSISDN_RE.pattern == "1[3-9][0-9]{9}", "matches 11 characters, no more and no fewer"
_MSISDN_RUN = re.compile(f"(?:{MSISDN_RE.pattern})*")


@dataclass(frozen=True)
class _LineDecoder:
    """Decodes and checks one NDJSON record in C (msgspec) for the common case of a valid
    record; tests/unit/test_history_fast_path.py holds it to Column.parse's answers."""

    decode: Callable[[bytes], Any]
    msisdn: int  # msgspec checks the length, not the digits
    non_blank: tuple[int, ...]  # required text: msgspec checks the length, not the blanks
    texts: Callable[[list[Any]], tuple[Any, ...]]  # a row's text values (str or None)
    at: int  # occurred_at


@cache
def _line_decoder(kind: RecordKind) -> _LineDecoder:
    columns = columns_of(kind)
    texts = [i for i, c in enumerate(columns) if c.type is FieldType.TEXT]
    assert len(texts) > 1  # so that itemgetter(*texts) returns a tuple
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
        msisdn=next(i for i, c in enumerate(columns) if c.type is FieldType.MSISDN),
        non_blank=tuple(
            i for i, c in enumerate(columns) if c.type is FieldType.TEXT and c.required
        ),
        texts=itemgetter(*texts),
        at=next(i for i, c in enumerate(columns) if c.type is FieldType.TIMESTAMP),
    )


_NULLABLE = frozenset({FieldType.TEXT, FieldType.INTEGER})


def _finish(row: list[Any], fast: _LineDecoder) -> bool:
    """The checks msgspec does not make, on a row it decoded: the number's digits, required
    text is not blank and the time parses as Column.parse parses it (its value becomes the UTC
    datetime)."""
    if not MSISDN_RE.fullmatch(row[fast.msisdn]):
        return False
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
# What JSON needs to hold a character domain.text refuses: an escape (a backslash), or written
# as it is, DEL, a C1 control (UTF-8 lead byte C2) or a bidi control (lead byte E2). Raw C0 is
# not JSON and msgspec refuses surrogates: text without these bytes holds none of them.
_FORBIDDEN_NEEDS = (b"\\", b"\x7f", b"\xc2", b"\xe2")


def _texts_allowed(rows: list[list[Any]], fast: _LineDecoder, data: bytes) -> bool:
    """Whether no text of these rows (decoded from `data`) holds a character domain.text
    refuses; in the common case the JSON settles it at once."""
    if not any(map(data.__contains__, _FORBIDDEN_NEEDS)):
        return True
    texts = filter(None, chain.from_iterable(map(fast.texts, rows)))
    return forbidden_character("".join(texts)) is None


def _group(
    lines: Sequence[bytes], fast: _LineDecoder
) -> tuple[list[list[Any]], list[datetime], set[str]] | None:
    """Lines that all take the fast path, decoded and checked at once, in C (no Python code
    runs per record): their rows, the rows' UTC times and sourceRecordIds, when every line is
    empty or a record that `msgspec` decodes and `_finish` passes, and no id comes twice.
    Otherwise None (nothing has changed; the lines go one by one)."""
    try:
        # Empty lines are skipped; any other blank line fails to decode (None, one by one).
        rows = list(map(list, map(msgspec.structs.astuple, map(fast.decode, filter(None, lines)))))
    except _FAST_ERRORS:
        return None
    if not rows:
        return [], [], set()
    if not _texts_allowed(rows, fast, b"".join(lines)):
        return None
    if not _MSISDN_RUN.fullmatch("".join(map(itemgetter(fast.msisdn), rows))):
        return None
    for i in fast.non_blank:
        if any(map(str.isspace, map(itemgetter(i), rows))):
            return None
    try:
        moments = list(map(datetime.fromisoformat, map(itemgetter(fast.at), rows)))
        if None in map(attrgetter("tzinfo"), moments):
            return None
        times = list(map(datetime.astimezone, moments, repeat(UTC)))
    except (ValueError, OverflowError):
        return None
    ids = set(map(itemgetter(1), rows))
    if len(ids) != len(rows):
        return None
    return rows, times, ids


class BatchValidator:
    """Validates records one at a time (so a stream never has to be held twice in memory)."""

    MAX_ERRORS = 100
    # Lines checked at once by the fast path (add_json_lines). Larger groups cost a little
    # less per record, smaller ones waste less when a group holds a record that has to go
    # line by line.
    FAST_GROUP = 64

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

        The lines go in groups of FAST_GROUP: a group whose records all take the fast path,
        none with an id seen before, is taken at once (`_group`), leaving the state that
        taking its lines one by one would; any other group goes one line at a time.
        """
        fast = _line_decoder(self.kind)
        seen = self._seen_ids
        added: list[list[Any]] = []
        times: list[datetime] = []
        step = self.FAST_GROUP
        for start in range(0, len(lines), step):
            group = lines[start : start + step]
            taken = _group(group, fast)
            if taken is None or not seen.isdisjoint(taken[2]):
                self._add_lines(group, first_index + start, fast, added, times)
                continue
            rows, moments, ids = taken
            self.count += len(rows)
            seen.update(ids)
            if not self.errors:
                self.rows.extend(rows)
                added.extend(rows)
                times.extend(moments)
        if added and not self.errors:
            at = fast.at
            texts = msgspec.json.decode(TIME_ENCODER.encode(times))
            for row, text in zip(added, texts, strict=True):
                row[at] = text

    def _add_lines(
        self,
        lines: Sequence[bytes],
        first_index: int,
        fast: _LineDecoder,
        added: list[list[Any]],
        times: list[datetime],
    ) -> None:
        """`add_json_lines` one line at a time: the fast path for a line that takes it."""
        decode, values, at = fast.decode, msgspec.structs.astuple, fast.at
        seen = self._seen_ids
        for offset, raw in enumerate(lines):
            if not raw or raw.isspace():
                continue
            try:
                row = list(values(decode(raw)))
            except _FAST_ERRORS:
                row = None
            if (
                row is None
                or row[1] in seen
                or not _texts_allowed([row], fast, raw)
                or not _finish(row, fast)
            ):
                self.add_json(raw, first_index + offset)
                continue
            self.count += 1
            seen.add(row[1])
            if not self.errors:
                self.rows.append(row)
                added.append(row)
                times.append(row[at])

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
