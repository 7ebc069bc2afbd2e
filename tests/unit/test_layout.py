"""The house rules of the layout that no linter states: module size, the domain's imports, and
no import cycle among our modules (scripts/import_cycles.py)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "application", "projections", "api", "infra", "demo", "tests", "bench")
MAX_LINES = 400


def modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in modules(*PACKAGES)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", modules("domain"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_domain_imports_only_the_standard_library_and_eventsourcing_domain(
    path: Path,
) -> None:
    def allowed(name: str) -> bool:
        top = name.split(".")[0]
        return (
            top in sys.stdlib_module_names
            or top == "domain"
            or name == "eventsourcing.domain"
            or name.startswith("eventsourcing.domain.")
        )

    assert sorted(n for n in imported_names(path) if not allowed(n)) == []


def test_no_import_cycle_counting_lazy_and_type_checking_imports() -> None:
    spec = importlib.util.spec_from_file_location(
        "import_cycles", ROOT / "scripts/import_cycles.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    graph = grimp.build_graph(*script.PACKAGES, cache_dir=None)
    assert script.cycles(graph) == []
