"""Request bodies in JSON: strict UTF-8 and bounded nesting, so bad input is a 400, never a 500.

The standard library's json accepts lone surrogates (which then fail deep inside a command or
the database driver), NaN, and nests until the interpreter's recursion limit: a JSON body with
invalid UTF-8 or 50,000 nested arrays answered 500. orjson refuses invalid UTF-8, lone
surrogates and NaN, and stops at depth 1024; the depth check below keeps variables shallow
enough for every recursive walk after it (input coercion, the domain's validators).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

BOM = b"\xef\xbb\xbf"


class BadJSONError(json.JSONDecodeError):
    """A body that is not acceptable JSON (a JSONDecodeError, so strawberry answers 400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)
        self.reason = reason


def loads(data: bytes | str, max_depth: int) -> Any:
    """The parsed body; BadJSONError names what is wrong with it."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")  # a lone surrogate then fails below
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadJSONError(f"the body is not valid JSON in UTF-8: {exc.msg}") from None
    if too_deep(value, max_depth):
        raise BadJSONError(f"the body nests deeper than {max_depth} levels")
    return value


def too_deep(value: Any, max_depth: int) -> bool:
    """Whether objects and arrays nest more than `max_depth` levels (iteratively: no
    recursion for an attacker to exhaust)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                if depth >= max_depth:
                    return True
                stack.append((child, depth + 1))
    return False
