"""Comparing the served GraphQL schema with the contract (../shared/spec/schema.graphql)."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_CANDIDATES = [
    ROOT.parent / "shared" / "spec" / "schema.graphql",
    ROOT / "docs" / "contract" / "schema.graphql",
]


def contract_path() -> Path:
    for path in CONTRACT_CANDIDATES:
        if path.exists():
            return path
    raise FileNotFoundError("contract schema.graphql not found")


def load_contract() -> GraphQLSchema:
    return build_schema(contract_path().read_text(encoding="utf-8"))


def _kind(t: object) -> str:
    for kind in (
        GraphQLObjectType,
        GraphQLInterfaceType,
        GraphQLInputObjectType,
        GraphQLEnumType,
        GraphQLScalarType,
        GraphQLUnionType,
    ):
        if isinstance(t, kind):
            return kind.__name__
    return type(t).__name__


def _fields(t: object) -> dict[str, object]:
    if isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
        return dict(t.fields)
    return {}


def mismatches(served: GraphQLSchema, contract: GraphQLSchema) -> list[str]:
    """Every type, field and argument served that the contract names must have its type."""
    problems = []
    for name, ctype in contract.type_map.items():
        if name.startswith("__") or name not in served.type_map:
            continue
        stype = served.type_map[name]
        if _kind(stype) != _kind(ctype):
            problems.append(f"{name}: kind {_kind(stype)} != {_kind(ctype)}")
            continue
        if hasattr(ctype, "values") and hasattr(stype, "values"):
            missing = set(ctype.values) - set(stype.values)
            if missing:
                problems.append(f"enum {name} lacks {sorted(missing)}")
        cfields, sfields = _fields(ctype), _fields(stype)
        for fname, cfield in cfields.items():
            sfield = sfields.get(fname)
            if sfield is None:
                continue
            if str(sfield.type) != str(cfield.type):  # type: ignore[attr-defined]
                problems.append(
                    f"{name}.{fname}: {sfield.type} != contract {cfield.type}"  # type: ignore[attr-defined]
                )
            cargs = getattr(cfield, "args", {}) or {}
            sargs = getattr(sfield, "args", {}) or {}
            for aname, carg in cargs.items():
                sarg = sargs.get(aname)
                if sarg is None:
                    problems.append(f"{name}.{fname}({aname}) is not served")
                elif str(sarg.type) != str(carg.type):
                    problems.append(f"{name}.{fname}({aname}): {sarg.type} != contract {carg.type}")
            for aname, sarg in sargs.items():
                if aname not in cargs and str(sarg.type).endswith("!"):
                    problems.append(f"{name}.{fname}({aname}) is an extra required argument")
    return problems


def unserved(served: GraphQLSchema, contract: GraphQLSchema) -> list[str]:
    """Contract fields not served yet (each issue serves its part; the last serves all)."""
    missing = []
    for name, ctype in contract.type_map.items():
        if name.startswith("__"):
            continue
        if name not in served.type_map:
            missing.append(name)
            continue
        for fname in _fields(ctype):
            if fname not in _fields(served.type_map[name]):
                missing.append(f"{name}.{fname}")
    return missing
