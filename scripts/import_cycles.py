"""Fail when any module of ours imports itself back, counting every import statement.

import-linter's layer contracts only see arrows between packages; this walks the module graph
(imports inside functions and under TYPE_CHECKING included: a lazy import that dodges a circle
is still a circle) and prints each strongly connected group of modules.
"""

from __future__ import annotations

import importlib.util
import sys

import grimp

PACKAGES = tuple(
    name
    for name in ("domain", "application", "projections", "api", "infra", "demo")
    if importlib.util.find_spec(name) is not None
)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (or a self-import)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strongconnect(root: str) -> None:
        nonlocal counter
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

    for module in modules:
        if module not in index:
            strongconnect(module)
    return found


def main() -> int:
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    # A package's __init__ importing its own submodule is not a cycle of behaviour; grimp
    # records no arrow from a submodule to its parent package unless code imports it.
    found = cycles(graph)
    for group in found:
        print("import cycle: " + " -> ".join(group))
    if found:
        return 1
    print(f"no import cycle among {len(graph.modules)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
