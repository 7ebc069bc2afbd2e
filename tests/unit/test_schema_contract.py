"""What the app serves is exactly the living contract, docs/contract/schema.graphql."""

from __future__ import annotations

from functools import cache

from graphql import GraphQLSchema

from api.graphql.schema import build_schema
from tests.contract import load_living, missing_or_changed


@cache
def served() -> GraphQLSchema:
    return build_schema()._schema


def test_everything_the_living_contract_declares_is_served_as_declared() -> None:
    """Types, fields, arguments (types and defaults), enum values, input fields."""
    assert missing_or_changed(load_living(), served()) == []


def test_everything_served_is_recorded_in_the_living_contract() -> None:
    """An issue that serves something new records it in docs/contract/ as an addition."""
    assert missing_or_changed(served(), load_living()) == []
