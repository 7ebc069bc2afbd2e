"""The GraphQL contract: the living copy (docs/contract/), the shared spec, structural diffs.

The served schema must equal the living contract; the living contract must keep the shared spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Node,
    TokenKind,
    build_schema,
    print_ast,
)
from graphql.utilities import get_default_value_ast

ROOT = Path(__file__).resolve().parents[1]
LIVING_SCHEMA = ROOT / "docs" / "contract" / "schema.graphql"


def shared_spec(name: str) -> Path | None:
    """../shared/spec/<name> from the repo root, or None on a machine without it."""
    # A clone has shared/ beside it; a git worktree (wt/<branch>) one level further up.
    for folder in ROOT.parents:
        path = folder / "shared" / "spec" / name
        if path.exists():
            return path
    return None


def load_living() -> GraphQLSchema:
    return build_schema(LIVING_SCHEMA.read_text(encoding="utf-8"))


def load_shared() -> GraphQLSchema | None:
    path = shared_spec("schema.graphql")
    return None if path is None else build_schema(path.read_text(encoding="utf-8"))


def _kind(t: GraphQLNamedType) -> str:
    for kind, name in (
        (GraphQLObjectType, "object"),
        (GraphQLInterfaceType, "interface"),
        (GraphQLInputObjectType, "input"),
        (GraphQLEnumType, "enum"),
        (GraphQLScalarType, "scalar"),
        (GraphQLUnionType, "union"),
    ):
        if isinstance(t, kind):
            return name
    return type(t).__name__


def _default(value: GraphQLArgument | GraphQLInputField) -> str:
    # An omitted default and `= null` mean the same to a client (strawberry prints the latter).
    node = get_default_value_ast(value)
    return "null" if node is None else print_ast(node)


def _values(
    where: str,
    base: dict[str, GraphQLArgument] | dict[str, GraphQLInputField],
    other: dict[str, GraphQLArgument] | dict[str, GraphQLInputField],
) -> list[str]:
    """Arguments or input fields of `base` missing from `other` or typed/defaulted otherwise."""
    problems = []
    for name, b in base.items():
        o = other.get(name)
        if o is None:
            problems.append(f"{where}({name}): missing")
            continue
        if str(o.type) != str(b.type):
            problems.append(f"{where}({name}): type {b.type} became {o.type}")
        if _default(o) != _default(b):
            problems.append(f"{where}({name}): default {_default(b)} became {_default(o)}")
    return problems


def _type_changes(name: str, b: GraphQLNamedType, o: GraphQLNamedType) -> list[str]:
    if _kind(o) != _kind(b):
        return [f"{name}: kind {_kind(b)} became {_kind(o)}"]
    problems = []
    if isinstance(b, GraphQLEnumType) and isinstance(o, GraphQLEnumType):
        problems += [f"{name}.{v}: enum value missing" for v in b.values if v not in o.values]
    if isinstance(b, GraphQLUnionType) and isinstance(o, GraphQLUnionType):
        members = {t.name for t in o.types}
        problems += [f"{name}: member {t.name} missing" for t in b.types if t.name not in members]
    if isinstance(b, GraphQLInputObjectType) and isinstance(o, GraphQLInputObjectType):
        problems += _values(name, b.fields, o.fields)
    if isinstance(b, GraphQLObjectType | GraphQLInterfaceType) and isinstance(
        o, GraphQLObjectType | GraphQLInterfaceType
    ):
        interfaces = {i.name for i in o.interfaces}
        problems += [
            f"{name}: interface {i.name} missing" for i in b.interfaces if i.name not in interfaces
        ]
        for fname, bf in b.fields.items():
            of = o.fields.get(fname)
            if of is None:
                problems.append(f"{name}.{fname}: missing")
                continue
            if str(of.type) != str(bf.type):
                problems.append(f"{name}.{fname}: type {bf.type} became {of.type}")
            problems += _values(f"{name}.{fname}", bf.args, of.args)
    return problems


def missing_or_changed(base: GraphQLSchema, other: GraphQLSchema) -> list[str]:
    """Everything `base` declares (types, fields, arguments, enum values, input fields, roots)
    that `other` lacks or declares with another type, kind or default."""
    problems = []
    for root in ("query_type", "mutation_type", "subscription_type"):
        b, o = getattr(base, root), getattr(other, root)
        if b is not None and (o is None or o.name != b.name):
            problems.append(f"schema {root}: {b.name} became {o.name if o else None}")
    for name, btype in base.type_map.items():
        if name.startswith("__"):
            continue
        otype = other.type_map.get(name)
        if otype is None:
            problems.append(f"{name}: missing")
            continue
        problems += _type_changes(name, btype, otype)
    return problems


def _required(value: GraphQLArgument | GraphQLInputField) -> bool:
    return isinstance(value.type, GraphQLNonNull) and get_default_value_ast(value) is None


def required_additions(base: GraphQLSchema, other: GraphQLSchema) -> list[str]:
    """Required arguments or input fields `other` adds to what `base` has: they break clients."""
    problems = []
    for name, btype in base.type_map.items():
        otype = other.type_map.get(name)
        if isinstance(btype, GraphQLInputObjectType) and isinstance(otype, GraphQLInputObjectType):
            problems += [
                f"{name}.{f}: new required input field"
                for f, field in otype.fields.items()
                if f not in btype.fields and _required(field)
            ]
        if isinstance(btype, GraphQLObjectType | GraphQLInterfaceType) and isinstance(
            otype, GraphQLObjectType | GraphQLInterfaceType
        ):
            for fname, bf in btype.fields.items():
                of = otype.fields.get(fname)
                if of is None:
                    continue
                problems += [
                    f"{name}.{fname}({a}): new required argument"
                    for a, arg in of.args.items()
                    if a not in bf.args and _required(arg)
                ]
    return problems


def breaks(shared: GraphQLSchema, living: GraphQLSchema) -> list[str]:
    """How `living` fails to keep `shared`: additions only (new types, fields, optional
    arguments and input fields, enum values) are allowed."""
    return missing_or_changed(shared, living) + required_additions(shared, living)


def _marked(node: Node | None) -> bool:
    """Whether an `# addition ...` comment sits right above the node's definition."""
    token = node.loc.start_token.prev if node is not None and node.loc is not None else None
    while token is not None and token.kind == TokenKind.COMMENT:
        if (token.value or "").strip().startswith("addition"):
            return True
        token = token.prev
    return False


def _added(base: GraphQLNamedType, other: GraphQLNamedType) -> list[tuple[str, list[Any]]]:
    """What `other` adds inside a type `base` also has: (path, [its node, its parent's node])."""
    found: list[tuple[str, list[Any]]] = []
    name, parent = other.name, other.ast_node
    if isinstance(base, GraphQLEnumType) and isinstance(other, GraphQLEnumType):
        return [
            (f"{name}.{v}", [value.ast_node, parent])
            for v, value in other.values.items()
            if v not in base.values
        ]
    if isinstance(base, GraphQLInputObjectType) and isinstance(other, GraphQLInputObjectType):
        return [
            (f"{name}({f})", [v.ast_node, parent])
            for f, v in other.fields.items()
            if f not in base.fields
        ]
    if isinstance(base, GraphQLObjectType | GraphQLInterfaceType) and isinstance(
        other, GraphQLObjectType | GraphQLInterfaceType
    ):
        for fname, field in other.fields.items():
            if fname not in base.fields:
                found.append((f"{name}.{fname}", [field.ast_node, parent]))
                continue
            found += [
                (f"{name}.{fname}({a})", [arg.ast_node, field.ast_node])
                for a, arg in field.args.items()
                if a not in base.fields[fname].args
            ]
    return found


def unmarked_additions(base: GraphQLSchema, living: GraphQLSchema) -> list[str]:
    """Additions of `living` over `base` without an `# addition` comment on them or their
    parent (the type of a field or enum value, the field of an argument)."""
    unmarked = []
    for name, ltype in living.type_map.items():
        if name.startswith("__"):
            continue
        btype = base.type_map.get(name)
        if btype is None:
            if not _marked(ltype.ast_node):
                unmarked.append(name)
            continue
        unmarked += [path for path, nodes in _added(btype, ltype) if not any(map(_marked, nodes))]
    return unmarked
