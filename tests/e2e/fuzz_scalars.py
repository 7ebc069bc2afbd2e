"""Hypothesis strategies for the schema's scalars as schemathesis registers them (GraphQL
value nodes): mostly valid values, some invalid ones, and, for String and ID, often values
the database holds, so fuzzed commands reach past "not found"."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import schemathesis
from graphql import NameNode, ObjectFieldNode
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from domain.access.provinces import PROVINCES
from domain.history.records import KIND_COLUMNS, Column, FieldType, RecordKind, columns_of
from tests.e2e.fuzz_world import Known

Nodes = st.SearchStrategy[Any]

# Free text: any character, NUL and controls too, but lone surrogates: escaped in a JSON body
# they get a plain-text 400 (the JSON decoder refuses them); the Text value rule, being
# written, is to decide their fate.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=24)
EDGE_STRINGS = (
    "",
    " ",
    "x" * 5000,
    "%s%n",
    "' OR 1=1 --",
    "\\",
    "<script>alert(1)</script>",
    "１３８００１３８０００",  # full-width digits
    "13800138000 ",
    "null",
    "../../etc/passwd",
)


def mostly(valid: Nodes, invalid: Nodes) -> Nodes:
    """Seven valid values to one invalid: one invalid scalar stops a whole request at the
    door, and requests have several. Valid ones are the simplest, so failures shrink to them."""
    return st.integers(0, 7).flatmap(lambda i: invalid if i == 7 else valid)


def _offsets() -> st.SearchStrategy[timezone]:
    return st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def _datetime_text(value: datetime) -> str:
    text = value.isoformat()
    return text.replace("+00:00", "Z") if text.endswith("+00:00") else text


DATETIME = mostly(
    # Any year and offset: near years 1 and 9999 some fall outside them in UTC (refused).
    st.datetimes(timezones=_offsets()).map(_datetime_text),
    st.one_of(
        st.datetimes().map(datetime.isoformat),  # no offset
        st.dates().map(date.isoformat),
        st.sampled_from(["2024-13-01T00:00:00Z", "2024-02-30T10:00:00+08:00", "now", "T"]),
        TEXT,
    ),
)
DATE = mostly(
    st.dates().map(date.isoformat),
    st.one_of(
        st.sampled_from(["2024-02-30", "2024-13-01", "0000-01-01", "20240101", "2024-1-1"]),
        st.datetimes(timezones=_offsets()).map(datetime.isoformat),
        TEXT,
    ),
)
PROVINCE = mostly(
    st.sampled_from(sorted(PROVINCES)),
    st.one_of(st.sampled_from(["gd", "CN-GD", "XX", "", "广东", "G D"]), TEXT),
)


def json_values() -> Nodes:
    """Any JSON value as a literal; objects often carry the platform records' field names."""
    record_fields = sorted({c.name for kind in KIND_COLUMNS for c in columns_of(kind)})
    leaves = st.one_of(
        st.just(nodes.Null),
        st.booleans().map(nodes.Boolean),
        st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        TEXT.map(nodes.String),
        DATETIME.map(nodes.String),
    )
    names = st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,11}", fullmatch=True)  # GraphQL's Name
    keys = st.one_of(st.sampled_from(record_fields), names)
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4).map(nodes.List),
            st.dictionaries(keys, children, max_size=8).map(_object),
        ),
        max_leaves=12,
    )


def platform_records(numbers: tuple[str, ...]) -> Nodes:
    """A record of some kind, each field of the type its rule wants (not always in range),
    so a batch of the same kind gets past the shape checks to the values."""

    def value(column: Column) -> Nodes:
        if column.type is FieldType.MSISDN:
            return st.sampled_from(numbers).map(nodes.String)
        if column.type is FieldType.CHOICE:
            return st.sampled_from(sorted(column.options)).map(nodes.String)
        if column.type is FieldType.TIMESTAMP:
            return DATETIME.map(nodes.String)
        if column.type is FieldType.BOOLEAN:
            return st.booleans().map(nodes.Boolean)
        if column.type is FieldType.INTEGER:
            return st.integers(-1, 10**6).map(nodes.Int)
        return TEXT.map(nodes.String)

    def record(kind: RecordKind) -> Nodes:
        fields = {c.name: value(c) for c in columns_of(kind)}
        return st.fixed_dictionaries(fields).map(_object)

    return st.sampled_from(list(KIND_COLUMNS)).flatmap(record)


def _object(fields: dict[str, Any]) -> Any:
    return nodes.Object(
        [ObjectFieldNode(name=NameNode(value=k), value=v) for k, v in fields.items()]
    )


def register_scalars(known: Known) -> None:
    """Register every scalar the schema declares: the custom ones (DateTime with an offset,
    Date, Province, JSON, Upload), String and ID, which draw on `known`, and Int."""
    # Half the time a word the data holds (a number, a stream type, a plan code, ...).
    strings = st.one_of(
        st.sampled_from(known.strings), st.one_of(TEXT, st.sampled_from(EDGE_STRINGS))
    )
    ids = mostly(
        st.sampled_from(known.ids).map(nodes.String),
        st.one_of(
            st.uuids().map(str).map(nodes.String),
            TEXT.map(nodes.String),
            st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
        ),
    )
    scalars = {
        # Small counts, versions and positions; now and then any 32-bit one (first: -1, ...).
        "Int": mostly(st.integers(0, 600), st.integers(-(2**31), 2**31 - 1)).map(nodes.Int),
        "String": strings.map(nodes.String),
        "ID": ids,
        "DateTime": DATETIME.map(nodes.String),
        "Date": DATE.map(nodes.String),
        "Province": PROVINCE.map(nodes.String),
        "JSON": st.one_of(platform_records(known.numbers), json_values()),
        # A file travels only in a multipart request; inline, any literal is a wrong one.
        "Upload": st.one_of(TEXT.map(nodes.String), json_values()),
    }
    for name, strategy in scalars.items():
        schemathesis.graphql.scalar(name, strategy)
