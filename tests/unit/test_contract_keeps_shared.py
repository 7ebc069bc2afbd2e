"""docs/contract/ keeps everything in ../shared/spec/ and marks what it adds."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema

from tests.contract import breaks, load_living, load_shared, shared_spec, unmarked_additions
from tests.permissions_doc import LIVING_PERMISSIONS, changed_rows, table_cells


def shared_schema() -> GraphQLSchema:
    shared = load_shared()
    if shared is None:
        pytest.skip("no ../shared/spec/schema.graphql beside this clone")
    return shared


def shared_permissions() -> str:
    path = shared_spec("permissions.md")
    if path is None:
        pytest.skip("no ../shared/spec/permissions.md beside this clone")
    return path.read_text(encoding="utf-8")


def living_permissions() -> str:
    return LIVING_PERMISSIONS.read_text(encoding="utf-8")


def test_the_living_schema_keeps_the_shared_schema() -> None:
    """Every shared type, field, argument, enum value, input field and operation, same types;
    additions may not add required arguments or input fields to what is shared."""
    assert breaks(shared_schema(), load_living()) == []


def test_every_addition_to_the_schema_is_marked() -> None:
    assert unmarked_additions(shared_schema(), load_living()) == []


def test_the_living_permissions_keep_every_shared_row_and_cell() -> None:
    assert changed_rows(shared_permissions(), living_permissions()) == []


def test_every_added_permission_row_is_marked() -> None:
    shared_rows = {cells[0] for cells in table_cells(shared_permissions())[1]}
    added = [cells[0] for cells in table_cells(living_permissions())[1]]
    assert [row for row in added if row not in shared_rows and "*(addition" not in row] == []
