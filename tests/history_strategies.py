"""Hypothesis strategies for NDJSON platform records: valid records of every kind, odd but
valid encodings of them, and lines that only one of the two decoders would take."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from application.history.validation import BatchValidator
from domain.history.records import MAX_INT, Column, FieldType, RecordKind, columns_of
from tests.history_helpers import record

MISSING = object()

# Text the records' rule (domain.text) refuses: C0, DEL, C1 (raw in UTF-8, or escaped) and
# bidi controls. Lone surrogates are not here: no UTF-8 line holds one (see ODD_LINES).
REFUSED_TEXTS = [
    "bel\x07",
    "\x1b[2J",
    "x\x7fy",
    "csi\x9b",
    "\x85",
    "gpj.\u202eexe",
    "\u2066a",
]
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
        st.sampled_from([*REFUSED_TEXTS, "a\tb\nc", "ok\u200d", "\u05e9\u200f"]),
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
    b'{"peer":"\\ud800"}',  # an escaped lone surrogate: valid JSON to some decoders
    b'{"peer":"\\udc00x"}',
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
        value[name] = draw(st.sampled_from(["a\x00b", "\x00", "13800138000\x00", *REFUSED_TEXTS]))
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
