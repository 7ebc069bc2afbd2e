"""Validation of platform records: every kind, every field, whole-batch rejection."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.history.validation import BatchValidator
from domain.history.batch import CHUNK_RECORDS, PlatformBatch
from domain.history.records import RecordKind, columns_of, parse_timestamp
from tests.history_helpers import VALID, record


@pytest.mark.parametrize("kind", list(RecordKind))
def test_a_valid_record_of_every_kind_becomes_a_row_in_column_order(kind: RecordKind) -> None:
    validator = BatchValidator(kind)
    validator.add(record(kind))
    assert validator.valid
    assert len(validator.rows[0]) == len(columns_of(kind))
    assert validator.rows[0][:3] == ["13800138000", "r0", "2026-11-20T02:00:00Z"]


BAD_FIELDS: list[tuple[RecordKind, str, Any, str]] = [
    (RecordKind.SMS, "msisdn", "12345", "11-digit"),
    (RecordKind.SMS, "msisdn", "12800138000", "11-digit"),
    (RecordKind.SMS, "sourceRecordId", "", "must not be empty"),
    (RecordKind.SMS, "sourceRecordId", None, "is required"),
    (RecordKind.SMS, "occurredAt", "2026-11-20T10:00:00", "UTC offset"),
    (RecordKind.SMS, "occurredAt", "yesterday", "ISO-8601"),
    (RecordKind.SMS, "occurredAt", 1700000000, "ISO-8601"),
    (RecordKind.SMS, "direction", "UP", "one of"),
    (RecordKind.SMS, "peer", 123, "string"),
    (RecordKind.SMS, "status", "LOST", "one of"),
    (RecordKind.SMS, "feeFen", -1, "at least 0"),
    (RecordKind.SMS, "feeFen", 1.5, "integer"),
    (RecordKind.SMS, "feeFen", True, "integer"),
    (RecordKind.SMS, "category", None, "is required"),
    (RecordKind.MMS, "sizeBytes", "big", "integer"),
    (RecordKind.WAP_PUSH, "title", "", "must not be empty"),
    (RecordKind.WAP_PUSH, "url", "x" * 3000, "at most"),
    (RecordKind.CAMPAIGN, "rank", 0, "at least 1"),
    (RecordKind.CAMPAIGN, "won", "yes", "true or false"),
    (RecordKind.CAMPAIGN, "campaignId", None, "is required"),
    (RecordKind.CHARGE, "amountFen", "5", "integer"),
    (RecordKind.CHARGE, "method", None, "is required"),
    (RecordKind.LOGIN, "channel", "FTP", "one of"),
    (RecordKind.LOGIN, "success", None, "true or false"),
    (RecordKind.USAGE, "operation", "", "must not be empty"),
    (RecordKind.USAGE, "detail", "a\x00b", "NUL"),
    (RecordKind.USAGE, "detail", "a\x9bb", "U+009B"),
    (RecordKind.WAP_PUSH, "title", "gpj.\u202eexe", "RIGHT-TO-LEFT OVERRIDE"),
    (RecordKind.CAMPAIGN, "prize", "\u2068x", "FIRST STRONG ISOLATE"),
    (RecordKind.CHARGE, "item", "x\x7f", "U+007F"),
    (RecordKind.POINTS, "reason", "x\ud800", "U+D800"),
    (RecordKind.SYNC, "result", None, "is required"),
    (RecordKind.POINTS, "level", -1, "at least 0"),
    (RecordKind.POINTS, "balance", None, "is required"),
    (RecordKind.POINTS, "reason", 7, "string"),
]


@pytest.mark.parametrize(("kind", "field", "value", "reason"), BAD_FIELDS)
def test_a_bad_field_is_named_with_its_record_index_and_the_batch_keeps_nothing(
    kind: RecordKind, field: str, value: Any, reason: str
) -> None:
    validator = BatchValidator(kind)
    validator.add(record(kind, 0))
    validator.add(record(kind, 1, **{field: value}))
    validator.add(record(kind, 2))
    assert not validator.valid
    assert validator.rows == []
    [error] = validator.errors
    assert (error.index, error.field) == (1, field)
    assert reason in error.reason


def test_unknown_fields_and_non_objects_are_errors() -> None:
    validator = BatchValidator(RecordKind.LOGIN)
    validator.add(record(RecordKind.LOGIN, 0, colour="red"))
    validator.add(["not", "an", "object"])
    assert [(e.index, e.field) for e in validator.errors] == [(0, "colour"), (1, None)]


def test_a_source_record_id_repeated_within_a_batch_is_an_error() -> None:
    validator = BatchValidator(RecordKind.SMS)
    validator.add(record(RecordKind.SMS, 7))
    validator.add(record(RecordKind.SMS, 7))
    assert [(e.index, e.field, e.reason) for e in validator.errors] == [
        (1, "sourceRecordId", "is repeated within the batch")
    ]


def test_only_the_first_hundred_errors_are_kept_but_all_are_counted() -> None:
    validator = BatchValidator(RecordKind.SMS)
    for n in range(250):
        validator.add(record(RecordKind.SMS, n, msisdn="1"))
    assert len(validator.errors) == 100
    assert validator.error_count == 250


def test_timestamps_are_normalised_to_utc() -> None:
    assert parse_timestamp("2026-11-28T00:30:00+08:00") == "2026-11-27T16:30:00Z"
    assert parse_timestamp("2026-11-28T00:30:00Z") == "2026-11-28T00:30:00Z"
    assert parse_timestamp("2026-11-28T00:30:00.120+00:00") == "2026-11-28T00:30:00.120000Z"


def test_a_batch_is_stored_as_a_header_and_bounded_chunks() -> None:
    rows = [[f"{n}"] for n in range(CHUNK_RECORDS * 2 + 5)]
    batch = PlatformBatch.ingest(
        source="sms-gw",
        batch_id="b1",
        kind=RecordKind.SMS,
        rows=rows,
        meta={},
        digest="d",
        received=len(rows) + 3,
    )
    events = batch.collect_events()
    assert [type(e).__name__ for e in events[:2]] == ["BatchReceived", "ContentDigested"]
    assert [len(e.records) for e in events[2:]] == [CHUNK_RECORDS, CHUNK_RECORDS, 5]
    assert [e.offset for e in events[2:]] == [0, CHUNK_RECORDS, CHUNK_RECORDS * 2]
    assert batch.record_count == batch.stored == len(rows)
    assert (batch.digest, batch.received, batch.duplicates) == ("d", len(rows) + 3, 3)


@given(
    kind=st.sampled_from(list(RecordKind)),
    count=st.integers(min_value=1, max_value=30),
    hour=st.integers(min_value=0, max_value=23),
)
def test_any_batch_of_valid_records_is_accepted_whole(
    kind: RecordKind, count: int, hour: int
) -> None:
    validator = BatchValidator(kind)
    validator.add_all(
        record(kind, n, at=f"2026-01-02T{hour:02d}:15:00+08:00") for n in range(count)
    )
    assert validator.valid and len(validator.rows) == count


def test_valid_table_covers_every_kind() -> None:
    assert set(VALID) == set(RecordKind)
