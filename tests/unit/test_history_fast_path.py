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
from domain.history.records import FieldType, RecordKind, columns_of
from tests.history_helpers import record
from tests.history_strategies import batches, outcome, records, reference

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
        ("peer", "a\u202eb"),  # a bidi override, written as it is (orjson writes UTF-8)
        ("category", "x\x85"),  # a C1 control, as it is
        ("peer", "\x7f"),  # DEL, as it is
        ("sourceRecordId", "r\x1bn"),  # escaped
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


REFUSED_CHARS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n\r"]
REFUSED_CHARS += list("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(list(RecordKind)).flatmap(
        lambda kind: st.tuples(
            st.just(kind),
            st.sampled_from([c.name for c in columns_of(kind) if c.type is FieldType.TEXT]),
        )
    ),
    st.text(max_size=3),
    st.sampled_from(REFUSED_CHARS),
    st.booleans(),
    GROUPS,
)
def test_a_refused_character_in_any_text_is_refused_however_it_is_written(
    where: tuple[RecordKind, str], around: str, char: str, ascii_only: bool, group: int
) -> None:
    """Escaped (\\u0085) or written as it is (UTF-8), in a group or alone: the batch is refused
    and the error names the field."""
    kind, name = where
    value = f"{around}{char}{around}" if name != "sourceRecordId" else f"r{char}"
    lines = [orjson.dumps(record(kind, n)) for n in range(3)]
    lines[1] = json.dumps(record(kind, 1, **{name: value}), ensure_ascii=ascii_only).encode()
    validator = BatchValidator(kind)
    validator.FAST_GROUP = group
    validator.add_json_lines(lines)
    assert not validator.valid and validator.rows == []
    assert [(e.index, e.field) for e in validator.errors] == [(1, name)]
