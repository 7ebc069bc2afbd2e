"""The history projections read a chunk's kind, columns and offset without parsing its rows."""

from __future__ import annotations

import orjson
import pytest

from domain.history.records import RecordKind
from projections.history import chunk_header

COLUMNS = ["msisdn", "source_record_id", "occurred_at"]


def test_the_header_is_read_from_before_the_rows() -> None:
    document = orjson.dumps(
        {"timestamp": {"_type_": "datetime_iso", "_data_": "2026-11-28T00:00:00+00:00"},
         "kind": "LOGIN", "columns": COLUMNS, "offset": 4000,
         "records": [["13800138000", 'a,"records":', "2026-11-28T00:00:00Z"]]}
    )  # fmt: skip
    assert chunk_header(document) == (RecordKind.LOGIN, COLUMNS, 4000)


@pytest.mark.parametrize(
    "document",
    [
        {"records": [], "kind": "SMS", "columns": COLUMNS, "offset": 2},  # rows first
        {"kind": "SMS", "records": [[',"records":']], "columns": COLUMNS, "offset": 2},
    ],
)
def test_any_other_field_order_is_parsed_whole(document: dict[str, object]) -> None:
    assert chunk_header(orjson.dumps(document)) == (RecordKind.SMS, COLUMNS, 2)
