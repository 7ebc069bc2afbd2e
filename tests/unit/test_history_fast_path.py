"""The NDJSON fast path (msgspec) gives the same answers as the field rules, record by record.

`BatchValidator.add_json_lines` decodes valid records in C and sends everything else through
`BatchValidator.add`. These properties hold it to that: for any lines at all (valid, invalid,
in forms only one of the two decoders takes), the rows, errors and counts are those of
decoding each line as JSON and calling `add`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.history.records import MAX_INT, Column, FieldType, RecordKind, columns_of
from domain.history.validation import BatchValidator
from tests.history_helpers import record

MISSING = object()

WHITESPACE = st.sampled_from([" ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\x1c", "\u200b"])

TIMESTAMPS = st.builds(
    lambda year, month, day, sep, hh, mm, ss, fraction, offset: (
        f"{year:04d}-{month:02d}-{day:02d}{sep}{hh:02d}:{mm:02d}:{ss:02d}{fraction}{offset}"
    ),
    year=st.sampled_from([1, 2, 1999, 2026, 9999]),
    month=st.sampled_from([1, 2, 12, 13]),
    day=st.sampled_from([1, 28, 29, 31, 32]),
    sep=st.sampled_from(["T", " ", "t", "_"]),
    hh=st.sampled_from([0, 7, 16, 23, 24]),
    mm=st.sampled_from([0, 59, 60]),
    ss=st.sampled_from([0, 59, 60]),
    fraction=st.sampled_from(["", ".1", ".120", ".123456", ".1234567", ".999999999", ",5"]),
    offset=st.sampled_from(["", "Z", "z", "+08:00", "-05:30", "+0800", "+08", "+24:00", "-00:00"]),
)


def texts(limit: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.text(max_size=8),
        st.text(WHITESPACE, min_size=1, max_size=3),
        st.builds(lambda w, t: w + t + w, st.text(WHITESPACE, max_size=2), st.text(min_size=1)),
        st.sampled_from(["x" * limit, "x" * (limit + 1), "😀" * limit, "a\x00b", "\x00"]),
        st.sampled_from([7, 1.5, True, [], {}]),
    )


def integers(column: Column) -> st.SearchStrategy[Any]:
    low = column.minimum if column.minimum is not None else -MAX_INT
    return st.one_of(
        st.integers(min_value=low - 2, max_value=low + 2),
        st.sampled_from([MAX_INT, MAX_INT + 1, -MAX_INT - 1, 2**64, 0, 10]),
        st.sampled_from([5.0, 5.5, -0.0, 1e2, float(MAX_INT) * 4, True, False, "5"]),
    )


def values_for(column: Column) -> st.SearchStrategy[Any]:
    if column.type is FieldType.MSISDN:
        return st.one_of(
            st.sampled_from(["13800138000", "19999999999", "12800138000", "1380013800"]),
            st.sampled_from(["13800138000\n", "1380013800\u0661", "138001380000", 13800138000]),
            st.from_regex(r"\A1[0-9]{10}\Z"),
        )
    if column.type is FieldType.TIMESTAMP:
        return st.one_of(TIMESTAMPS, st.sampled_from(["yesterday", 1700000000, ""]))
    if column.type is FieldType.CHOICE:
        options = sorted(column.options)
        return st.one_of(
            st.sampled_from(options),
            st.sampled_from([options[0].lower(), "", [options[0]], {"x": 1}, 1]),
        )
    if column.type is FieldType.BOOLEAN:
        return st.sampled_from([True, False, 0, 1, "true", None])
    if column.type is FieldType.TEXT:
        return texts(column.max_length)
    return integers(column)


@st.composite
def records(draw: st.DrawFn, kind: RecordKind) -> Any:
    """A record of `kind`, valid by default, with some fields changed, dropped or added."""
    base = record(kind, draw(st.integers(0, 5)))
    out: dict[str, Any] = dict(base)
    for column in columns_of(kind):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            out.pop(column.name, None)
        elif choice == 1:
            out[column.name] = None
        elif choice <= 4:
            out[column.name] = draw(values_for(column))
    if draw(st.integers(0, 15)) == 0:
        out[draw(st.sampled_from(["colour", "MSISDN", "feefen"]))] = 1
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([[], "text", 5, None]))
    return out


def encodings(value: Any) -> st.SearchStrategy[bytes]:
    """The same JSON value as different texts: compact, ASCII-escaped, duplicated keys."""
    variants = [
        lambda v: json.dumps(v, separators=(",", ":")).encode(),
        lambda v: json.dumps(v, ensure_ascii=False, indent=None).encode(),
    ]
    if isinstance(value, dict) and value:
        first = next(iter(value))
        variants.append(
            lambda v: b'{"' + first.encode() + b'":"shadowed",' + json.dumps(v).encode()[1:]
        )
    return st.sampled_from(variants).map(lambda encode: encode(value))


@st.composite
def batches(draw: st.DrawFn) -> tuple[RecordKind, list[bytes]]:
    kind = draw(st.sampled_from(list(RecordKind)))
    lines: list[bytes] = []
    for _ in range(draw(st.integers(1, 8))):
        roll = draw(st.integers(0, 20))
        if roll == 0:
            lines.append(draw(st.sampled_from([b"", b"  ", b"{", b"{}", b"[1,2", b"nul"])))
        else:
            lines.append(draw(records(kind).flatmap(encodings)))
    return kind, lines


def reference(kind: RecordKind, lines: list[bytes]) -> BatchValidator:
    """Line by line through `add_json` (orjson, then the field rules), never the fast path."""
    validator = BatchValidator(kind)
    for index, raw in enumerate(lines):
        if raw.strip():
            validator.add_json(raw, index)
    return validator


def outcome(validator: BatchValidator) -> tuple[Any, ...]:
    return (
        validator.count,
        validator.error_count,
        validator.errors,
        validator.rows,
        validator.valid,
    )


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
@example((RecordKind.SMS, [orjson.dumps(record(RecordKind.SMS, 1))] * 2))  # repeated id
@example((RecordKind.SMS, [orjson.dumps(record(RecordKind.SMS, at="0001-01-01T00:00:00+08:00"))]))
def test_the_fast_path_answers_as_the_field_rules_do(batch: tuple[RecordKind, list[bytes]]) -> None:
    kind, lines = batch
    fast = BatchValidator(kind)
    fast.add_json_lines(lines)
    assert outcome(fast) == outcome(reference(kind, lines))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(RecordKind)).flatmap(lambda k: st.tuples(st.just(k), records(k))))
def test_a_record_the_fast_path_keeps_is_kept_by_the_rules_unchanged(
    item: tuple[RecordKind, Any],
) -> None:
    kind, value = item
    fast = BatchValidator(kind)
    fast.add_json_lines([json.dumps(value).encode()])
    slow = BatchValidator(kind)
    slow.add(value, 0)
    assert fast.rows == slow.rows
    assert fast.valid == slow.valid


def test_lines_are_numbered_from_the_first_index_and_blank_lines_keep_their_number() -> None:
    validator = BatchValidator(RecordKind.SMS)
    good = orjson.dumps(record(RecordKind.SMS, 1))
    bad = orjson.dumps(record(RecordKind.SMS, 2, feeFen=-1))
    validator.add_json_lines([good, b"", b"   ", bad, b"not json"], first_index=10)
    assert [(e.index, e.field) for e in validator.errors] == [(13, "feeFen"), (14, None)]
    assert validator.count == 3
    assert validator.rows == []


@pytest.mark.parametrize("kind", list(RecordKind))
def test_valid_records_of_every_kind_take_the_fast_path_and_store_times_in_utc(
    kind: RecordKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_path(self: BatchValidator, raw: bytes, index: int) -> None:
        raise AssertionError(f"a valid record took the slow path: {raw!r}")

    monkeypatch.setattr(BatchValidator, "add_json", slow_path)
    validator = BatchValidator(kind)
    validator.add_json_lines([orjson.dumps(record(kind, n)) for n in range(3)])
    assert validator.valid and len(validator.rows) == 3
    assert {row[2] for row in validator.rows} == {"2026-11-20T02:00:00Z"}
