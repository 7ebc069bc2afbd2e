"""Reading the role table of permissions.md: the living one (docs/contract/) and the shared one."""

from __future__ import annotations

import re
from functools import cache

from tests.contract import ROOT

LIVING_PERMISSIONS = ROOT / "docs" / "contract" / "permissions.md"
MARKS = frozenset({"Y", "P", "P/Y", "—"})

Row = tuple[tuple[str, ...], dict[str, str]]


def table_cells(text: str) -> tuple[list[str], list[list[str]]]:
    """(header cells, every row's cells) of the first table, the |---| rule left out."""
    table = [line for line in text.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table]
    return split[0], split[2:]


def parse_rows(text: str) -> tuple[tuple[str, ...], tuple[Row, ...]]:
    """(roles in column order, rows of (operation names in backticks, role -> mark))."""
    header, lines = table_cells(text)
    assert header[0] == "operation", header
    roles = tuple(header[1:])
    rows = []
    for cells in lines:
        if len(cells) != len(header):
            continue  # the CLI row: "operators with database access", not per role
        operations = tuple(re.findall(r"`([^`]+)`", cells[0]))
        marks = dict(zip(roles, cells[1:], strict=True))
        unknown = set(marks.values()) - MARKS
        assert not unknown, f"unknown marks {unknown} in {cells}"
        rows.append((operations, marks))
    return roles, tuple(rows)


@cache
def permission_rows() -> tuple[tuple[str, ...], tuple[Row, ...]]:
    """The living table: what the code and the e2e role matrices must enforce."""
    return parse_rows(LIVING_PERMISSIONS.read_text(encoding="utf-8"))


def marks_for(operation: str) -> dict[str, str]:
    """role -> Y / P / P/Y / — for one operation named in the table."""
    _, rows = permission_rows()
    for operations, marks in rows:
        if operation in operations:
            return marks
    raise KeyError(f"{operation} is not in docs/contract/permissions.md")


def allowed(operation: str, role: str) -> bool:
    return marks_for(operation)[role] != "—"


def changed_rows(shared: str, living: str) -> list[str]:
    """Rows and cells of the `shared` table that `living` lacks or marks otherwise (matched by
    the operation cell, compared per shared role, so living may add rows and role columns)."""
    shared_header, shared_rows = table_cells(shared)
    living_header, living_rows = table_cells(living)
    by_operation = {
        cells[0]: dict(zip(living_header, cells, strict=False)) for cells in living_rows
    }
    problems = []
    for cells in shared_rows:
        found = by_operation.get(cells[0])
        if found is None:
            problems.append(f"row {cells[0]!r}: missing")
            continue
        # The CLI row's one text cell compares under the first role column, as both read it.
        for column, mark in zip(shared_header, cells, strict=False):
            if found.get(column) != mark:
                problems.append(f"row {cells[0]!r}, {column}: {mark} became {found.get(column)}")
    return problems
