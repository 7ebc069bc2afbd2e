"""Reading the role table of permissions.md (../shared/spec/permissions.md), for tests."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC_CANDIDATES = [
    ROOT.parent / "shared" / "spec" / "permissions.md",
    ROOT / "docs" / "contract" / "permissions.md",
]
MARKS = frozenset({"Y", "P", "P/Y", "—"})


def permissions_path() -> Path:
    for path in DOC_CANDIDATES:
        if path.exists():
            return path
    raise FileNotFoundError("permissions.md not found beside the clone (../shared/spec/)")


@cache
def permission_rows() -> tuple[tuple[str, ...], tuple[tuple[tuple[str, ...], dict[str, str]], ...]]:
    """(roles in column order, rows of (operation names in backticks, role -> mark))."""
    lines = permissions_path().read_text(encoding="utf-8").splitlines()
    table = [line for line in lines if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header[0] == "operation", header
    roles = tuple(header[1:])
    rows = []
    for line in table[2:]:  # past the header and its |---| rule
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(header):
            continue  # the CLI row: "operators with database access", not per role
        operations = tuple(re.findall(r"`([^`]+)`", cells[0]))
        marks = dict(zip(roles, cells[1:], strict=True))
        unknown = set(marks.values()) - MARKS
        assert not unknown, f"unknown marks {unknown} in {line}"
        rows.append((operations, marks))
    return roles, tuple(rows)


def marks_for(operation: str) -> dict[str, str]:
    """role -> Y / P / P/Y / — for one operation named in the table."""
    _, rows = permission_rows()
    for operations, marks in rows:
        if operation in operations:
            return marks
    raise KeyError(f"{operation} is not in permissions.md")


def allowed(operation: str, role: str) -> bool:
    return marks_for(operation)[role] != "—"
