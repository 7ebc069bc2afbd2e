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

from application.history.validation import BatchValidator
from domain.history.records import MAX_INT, Column, FieldType, RecordKind, columns_of
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
    """A record of `kind`, valid by default, with some fields changed, dropped or added (half
    the time just one, the rest left valid, so that the one change is what decides)."""
    base = record(kind, draw(st.integers(0, 5)))
    out: dict[str, Any] = dict(base)
    columns = columns_of(kind)
    single = draw(st.booleans())
    for column in [draw(st.sampled_from(columns))] if single else columns:
        choice = draw(st.integers(0, 4 if single else 9))
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


ODD_LINES = [
    b"",
    b"  ",
    b"\r",
    b"\t \x0c",
    b"{",
    b"{}",
    b"[1,2",
    b"nul",
    b",",
    b"]",
    b"[",
    b"1,2",
    b"null",
]


@st.composite
def odd_lines(draw: st.DrawFn, kind: RecordKind) -> bytes:
    """Lines that are not one record: blank, broken, several JSON values, stray separators, a
    record with an escaped NUL or carriage return (a CRLF file), or garbage around a record."""
    roll = draw(st.integers(0, 3))
    if roll == 0:
        return draw(st.sampled_from(ODD_LINES))
    one, other = (compact(draw(records(kind))) for _ in range(2))
    if roll == 1:
        return draw(st.sampled_from([b",", b"", b" ", b"\n"])).join([one, other])
    if roll == 2:
        around = st.sampled_from([b"", b" ", b"\r", b",", b"]", b"[", b"}", b"{", b"1", b"\x00"])
        return draw(around) + one + draw(around)
    value = draw(records(kind))
    if isinstance(value, dict) and value:
        name = draw(st.sampled_from(sorted(value)))
        value[name] = draw(st.sampled_from(["a\x00b", "\x00", "13800138000\x00"]))
    return compact(value)


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@st.composite
def batches(
    draw: st.DrawFn, kinds: list[RecordKind] | None = None
) -> tuple[RecordKind, list[bytes]]:
    kind = draw(st.sampled_from(kinds or list(RecordKind)))
    lines: list[bytes] = []
    for _ in range(draw(st.integers(1, 8))):
        roll = draw(st.integers(0, 20))
        if roll == 0:
            lines.append(draw(st.sampled_from(ODD_LINES)))
        elif roll == 1:
            lines.append(draw(odd_lines(kind)))
        else:
            lines.append(draw(records(kind).flatmap(encodings)))
    return kind, lines


def reference(kind: RecordKind, lines: list[bytes], first_index: int = 0) -> BatchValidator:
    """Line by line through `add_json` (orjson, then the field rules), never the fast path."""
    validator = BatchValidator(kind)
    for index, raw in enumerate(lines, first_index):
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


GROUPS = st.sampled_from([1, 2, 3, BatchValidator.FAST_GROUP])  # lines checked at once


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), GROUPS, st.integers(0, 3))
@example((RecordKind.SMS, [orjson.dumps(record(RecordKind.SMS, 1))] * 2), 64, 0)  # repeated id
@example((RecordKind.SMS, [orjson.dumps(record(RecordKind.SMS, 1))] * 3), 2, 0)  # across groups
@example(
    (RecordKind.SMS, [orjson.dumps(record(RecordKind.SMS, at="0001-01-01T00:00:00+08:00"))]), 64, 0
)
@example(  # a shadowed key whose value would pass: msgspec, as orjson, keeps the last
    (RecordKind.SMS, [b'{"msisdn":"13900139000",' + orjson.dumps(record(RecordKind.SMS))[1:]]),
    64,
    0,
)
def test_the_fast_path_answers_as_the_field_rules_do(
    batch: tuple[RecordKind, list[bytes]], group: int, first_index: int
) -> None:
    kind, lines = batch
    fast = BatchValidator(kind)
    fast.FAST_GROUP = group
    fast.add_json_lines(lines, first_index)
    assert outcome(fast) == outcome(reference(kind, lines, first_index))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(list(RecordKind)).flatmap(
        lambda kind: st.lists(batches([kind]).map(lambda b: b[1]), min_size=1, max_size=4).map(
            lambda pieces: (kind, pieces)
        )
    ),
    GROUPS,
)
def test_consecutive_calls_answer_as_one_reference_pass(
    calls: tuple[RecordKind, list[list[bytes]]], group: int
) -> None:
    """Pieces of one batch (as the endpoint validates a stream piece by piece): line numbers
    run on, ids seen in an earlier piece are repeats, one error drops every row."""
    kind, pieces = calls
    fast = BatchValidator(kind)
    fast.FAST_GROUP = group
    first = 0
    for lines in pieces:
        fast.add_json_lines(lines, first)
        first += len(lines)
    assert outcome(fast) == outcome(reference(kind, [line for p in pieces for line in p]))


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


# Lines go through the fast path a group at a time (BatchValidator.FAST_GROUP lines checked
# at once); a group with anything the group checks do not pass goes line by line.


def sms(n: int, **fields: Any) -> bytes:
    return orjson.dumps(record(RecordKind.SMS, n, **fields))


def validated(lines: list[bytes], group: int = BatchValidator.FAST_GROUP, first: int = 0) -> Any:
    validator = BatchValidator(RecordKind.SMS)
    validator.FAST_GROUP = group
    validator.add_json_lines(lines, first)
    assert outcome(validator) == outcome(reference(RecordKind.SMS, lines, first))
    return validator


def line_by_line(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the first line number of each group that goes line by line."""
    starts: list[int] = []
    one_by_one = BatchValidator._add_lines

    def spy(self: BatchValidator, lines: Any, first_index: int, *rest: Any) -> None:
        starts.append(first_index)
        one_by_one(self, lines, first_index, *rest)

    monkeypatch.setattr(BatchValidator, "_add_lines", spy)
    return starts


def test_a_valid_batch_is_taken_a_group_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    starts = line_by_line(monkeypatch)
    lines = [sms(n, at=f"2026-11-20T10:00:{n % 60:02d}.{n:06d}-05:30") for n in range(1000)]
    lines[500:500] = [b"", b""]  # empty lines are skipped within a group
    validator = validated([*lines, b""], first=7)
    assert starts == []
    assert validator.count == len(validator.rows) == 1000
    assert validator.rows[999][:3] == ["13800138000", "r999", "2026-11-20T15:30:39.000999Z"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("msisdn", "12800138000"),  # 11 characters, not a mobile number
        ("msisdn", "1380013800\u0661"),  # a digit, but not an ASCII one
        ("sourceRecordId", " \u3000"),  # blank
        ("peer", "a\x00b"),  # an escaped NUL
        ("occurredAt", "2026-11-20T10:00:00"),  # no offset
        ("occurredAt", "0001-01-01T00:00:00+08:00"),  # before year 1 in UTC
        ("occurredAt", "2026-02-30T10:00:00Z"),
        ("feeFen", 5.0),  # valid, in a form msgspec does not take
    ],
)
def test_a_record_in_a_good_group_that_the_group_checks_refuse_goes_line_by_line(
    field: str, value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = line_by_line(monkeypatch)
    lines = [sms(n) for n in range(600)]
    lines[300] = sms(300, **{field: value})
    validator = validated(lines, first=1)
    size = BatchValidator.FAST_GROUP
    assert starts == [1 + 300 // size * size]  # only the group that holds index 301
    assert validator.count == 600
    if field == "feeFen":
        assert validator.valid and validator.rows[300][6] == 5
    else:
        assert [(e.index, e.field) for e in validator.errors] == [(301, field)]
        assert validator.rows == []


@pytest.mark.parametrize(
    "line",
    [
        sms(1) + b"," + sms(2),
        sms(1) + sms(2),
        sms(1) + b" " + sms(2),
        sms(1) + b"]",
        b"[" + sms(1),
        b"[" + sms(1) + b"]",
        sms(1) + b",",
        b"," + sms(1),
        b"1,2",
        b",",
        b"]",
        b"[",
        b"}{",
        sms(1)[:-1],
        sms(1) + b"}",
    ],
)
def test_a_line_that_is_not_one_json_object_is_an_error(line: bytes) -> None:
    """A line is one record: one that holds several values, a part of one, or a stray
    separator is refused whole, and the lines around it are unaffected."""
    for group in (1, 3, BatchValidator.FAST_GROUP):
        lines = [sms(10), sms(11), line, sms(12), b"", sms(13)]
        validator = validated(lines, group, first=4)
        assert [(e.index, e.field) for e in validator.errors] == [(6, None)]
        assert validator.count == 5


def test_blank_and_whitespace_lines_are_skipped_but_keep_their_numbers() -> None:
    for group in (1, 2, 3, BatchValidator.FAST_GROUP):
        lines = [sms(1), b"", b" ", b"\r", sms(2) + b"\r", b"\t\x0c", sms(3, feeFen=-1), b""]
        validator = validated(lines, group, first=100)
        assert validator.count == 3
        assert [(e.index, e.field) for e in validator.errors] == [(106, "feeFen")]


def test_a_repeated_id_is_an_error_across_groups_and_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts = line_by_line(monkeypatch)
    validator = BatchValidator(RecordKind.SMS)
    validator.FAST_GROUP = 4
    validator.add_json_lines([sms(n) for n in range(10)])  # lines 0-9: groups of 4, 4, 2
    validator.add_json_lines([sms(10), sms(3), sms(11), sms(12), sms(13), sms(13)], 10)
    assert starts == [10, 14]  # the groups with a repeat (of an earlier id, or within)
    assert validator.count == 16
    assert [(e.index, e.field, e.reason) for e in validator.errors] == [
        (11, "sourceRecordId", "is repeated within the batch"),
        (15, "sourceRecordId", "is repeated within the batch"),
    ]
    assert validator.rows == []


def test_errors_stop_at_the_cap_but_are_all_counted_and_rows_are_dropped() -> None:
    lines = [sms(n, feeFen=-1) if n % 3 == 1 else sms(n) for n in range(1200)]
    for group in (7, BatchValidator.FAST_GROUP):
        validator = validated(lines, group, first=1)
        assert validator.count == 1200
        assert validator.error_count == 400
        assert len(validator.errors) == BatchValidator.MAX_ERRORS
        assert [e.index for e in validator.errors] == list(range(2, 300, 3))
        assert validator.rows == [] and not validator.valid
