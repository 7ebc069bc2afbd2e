"""Hostile strings for every string a client can send: where they go (from the contract, with
graphql-core), how a request carrying one is written, and which answers are acceptable."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)

from tests.contract import load_living

Path = tuple[str | int, ...]

# What no text may hold, and text too long for any field. Short ones stay below the staff
# password minimum (10): passwords are not text, so there only their length refuses them.
NUL = "a\x00b"
OTHERS = {
    "C0": "bel\x07\x1b[2J",
    "DEL": "x\x7fy",
    "C1": "csi\x9b\x85",
    "lone high surrogate": "\ud800",
    "lone low surrogate": "x\udfff",
    "RTL override": "gpj.\u202eexe",
    "bidi isolate": "\u2066abc\u2069",
    "nearly 1 MB": "x" * 990_000,
    "nearly 1 MB, NUL at the end": "x" * 989_999 + "\x00",
    "over 1 MB": "y" * 1_050_000,
}
SCALAR_STRINGS = frozenset({"String", "ID"})


@dataclass(frozen=True)
class Position:
    """A string a client sends: an argument, an input field inside one, or a list's item."""

    field: str  # the root field (mutation or query)
    path: Path  # from the argument name down
    type_name: str  # String, ID or JSON

    @property
    def label(self) -> str:
        return f"{self.field}." + ".".join(str(p) for p in self.path)


def root_fields(kind: str) -> dict[str, GraphQLField]:
    schema = load_living()
    root = schema.mutation_type if kind == "mutation" else schema.query_type
    assert root is not None
    return dict(root.fields)


def positions(field_name: str, field: GraphQLField) -> Iterator[Position]:
    """Every String, ID and JSON the field takes (list items as index 0)."""

    def walk(t: Any, path: Path, depth: int) -> Iterator[Position]:
        while isinstance(t, GraphQLNonNull | GraphQLList):
            if isinstance(t, GraphQLList):
                path = (*path, 0)
            t = t.of_type
        if isinstance(t, GraphQLInputObjectType) and depth < 4:
            for name, f in t.fields.items():
                yield from walk(f.type, (*path, name), depth + 1)
        elif isinstance(t, GraphQLScalarType) and t.name in SCALAR_STRINGS | {"JSON"}:
            yield Position(field_name, path, t.name)

    for name, arg in field.args.items():
        yield from walk(arg.type, (name,), 0)


def generic_value(t: Any) -> Any:
    """A well-formed value of a type, for arguments a test world gives no better value."""
    if isinstance(t, GraphQLNonNull):
        return generic_value(t.of_type)
    if isinstance(t, GraphQLList):
        return [generic_value(t.of_type)]
    if isinstance(t, GraphQLEnumType):
        return next(iter(t.values))
    if isinstance(t, GraphQLInputObjectType):
        return {
            name: generic_value(f.type)
            for name, f in t.fields.items()
            if isinstance(f.type, GraphQLNonNull)
        }
    simple: dict[str, Any] = {
        "String": "x",
        "ID": str(uuid.uuid4()),
        "Int": 1,
        "Float": 1.0,
        "Boolean": True,
        "Province": "GD",
        "DateTime": datetime.now(UTC).isoformat(),
        "Date": date.today().isoformat(),
        "JSON": {},
        "Upload": None,
    }
    return simple[t.name]


def arguments(field: GraphQLField, known: dict[str, Any]) -> dict[str, Any]:
    """Valid arguments: the world's where it has them, else generic ones for required ones."""
    values = {n: generic_value(a.type) for n, a in field.args.items() if _required(a.type)}
    values.update(known)
    return values


def _required(t: GraphQLInputType) -> bool:
    return isinstance(t, GraphQLNonNull)


def with_value(values: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of `values` with `value` at `path` (creating what is missing on the way)."""
    out = copy.deepcopy(values)
    node: Any = out
    for step, following in pairwise(path):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            if not node:
                node.append(empty)
            if node[0] is None:
                node[0] = empty
            node = node[0]
        else:
            if node.get(step) is None:
                node[step] = empty
            node = node[step]
    last = path[-1]
    if isinstance(last, int):
        node[:1] = [value]
    else:
        node[last] = value
    return out


def poison_json(value: Any, hostile: str) -> Iterator[tuple[str, Any]]:
    """A JSON value with one of its string leaves (each in turn) made hostile."""
    if isinstance(value, str):
        yield "", hostile
    elif isinstance(value, dict):
        for key, item in value.items():
            for where, poisoned in poison_json(item, hostile):
                yield f".{key}{where}", {**value, key: poisoned}
    elif isinstance(value, list):
        for i, item in enumerate(value[:1]):
            for where, poisoned in poison_json(item, hostile):
                yield f"[{i}]{where}", [poisoned, *value[i + 1 :]]


def selection(field: GraphQLField) -> str:
    t = field.type
    while isinstance(t, GraphQLNonNull | GraphQLList):
        t = t.of_type
    if not isinstance(t, GraphQLObjectType):
        return ""
    parts = ["__typename"]
    if "userErrors" in t.fields:
        parts.append("userErrors { code field }")
    return " { " + " ".join(parts) + " }"


def literal(value: Any, t: Any) -> str:
    """`value` of type `t` written into the document (strings with JSON's escapes, which are
    GraphQL's too: a lone surrogate stays an escape, as a client would write it)."""
    if value is None:
        return "null"
    if isinstance(t, GraphQLNonNull):
        return literal(value, t.of_type)
    if isinstance(t, GraphQLList):
        return "[" + ", ".join(literal(v, t.of_type) for v in value) + "]"
    if isinstance(t, GraphQLEnumType):
        return str(value)
    if isinstance(t, GraphQLInputObjectType):
        fields = ", ".join(f"{k}: {literal(v, t.fields[k].type)}" for k, v in value.items())
        return "{" + fields + "}"
    if isinstance(value, dict):  # a JSON scalar's object
        return "{" + ", ".join(f"{k}: {literal(v, t)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v, t) for v in value) + "]"
    return json.dumps(value)


def document(kind: str, name: str, field: GraphQLField, values: dict[str, Any], inline: str) -> str:
    """The operation calling `name`: every argument a variable but `inline`, written as is."""
    declared = [f"${n}: {a.type}" for n, a in field.args.items() if n in values and n != inline]
    passed = [
        f"{n}: {literal(values[n], a.type) if n == inline else '$' + n}"
        for n, a in field.args.items()
        if n in values
    ]
    head = f"{kind}({', '.join(declared)})" if declared else kind
    call = f"{name}({', '.join(passed)})" if passed else name
    return f"{head} {{ {call}{selection(field)} }}"


def body(query: str, variables: dict[str, Any]) -> bytes:
    """The request as a client writes it: JSON with \\u escapes, lone surrogates included."""
    return json.dumps({"query": query, "variables": variables}, ensure_ascii=True).encode()


def problems(status: int, answer: Any, field: str) -> list[str]:
    """What is wrong with an answer to a request holding a hostile string: anything but a 4xx or
    a GraphQL answer whose errors are all classified (none INTERNAL_SERVER_ERROR), or one that
    says the mutation went through."""
    if status >= 500:
        return [f"HTTP {status}"]
    if status != 200:
        return []
    found = []
    codes = [(e.get("extensions") or {}).get("code") for e in answer.get("errors") or []]
    found += [f"error code {c}" for c in codes if c in (None, "INTERNAL_SERVER_ERROR")]
    payload = (answer.get("data") or {}).get(field)
    if isinstance(payload, dict) and payload.get("userErrors") == [] and not codes:
        found.append("accepted")
    return found


@dataclass(frozen=True)
class Case:
    position: Position
    what: str
    value: Any  # the hostile string, or for a JSON leaf the whole poisoned JSON value
    inline: bool


def cases(kind: str, known: dict[str, dict[str, Any]]) -> Iterator[tuple[GraphQLField, Case]]:
    """Each string position: NUL as a variable and in the document, and one other hostile
    string in turn, as a variable or in the document (an ID or a JSON leaf: NUL as a
    variable)."""
    others = list(OTHERS.items())
    n = 0
    for name, field in root_fields(kind).items():
        for position in positions(name, field):
            if position.type_name == "JSON":
                valid = known.get(name, {})
                item = _at(valid, position.path)
                for where, poisoned in poison_json(item, NUL):
                    leaf = Position(name, (*position.path, where), "JSON")
                    yield field, Case(leaf, "NUL", poisoned, inline=False)
                continue
            yield field, Case(position, "NUL", NUL, inline=False)
            if position.type_name == "ID":
                continue
            yield field, Case(position, "NUL", NUL, inline=True)
            what, value = others[n % len(others)]
            yield field, Case(position, what, value, inline=n % 2 == 1)
            n += 1


def _at(values: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        values = values[step] if values is not None else None
    return values


def strings(value: Any) -> Iterator[str]:
    """Every string inside a decoded event (keys too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from strings(v)
    elif hasattr(value, "__dict__"):
        yield from strings(vars(value))


def all_caught_up(world: Any, timeout: float = 30.0) -> None:
    """Every projection of the world's container reaches its store's head, none failing."""
    deadline = time.monotonic() + timeout
    while True:
        states = world.container.projection_status.status()
        behind = [(s.name, s.lag, s.last_error) for s in states if s.lag or s.failing]
        if not behind:
            return
        assert time.monotonic() < deadline, behind
        time.sleep(0.2)
