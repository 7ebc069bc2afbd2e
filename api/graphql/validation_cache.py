"""Validate a GraphQL document once per distinct query text, not on every request.

Validation is the largest CPU cost of a small mutation (profiled by
bench/subscribers_mutations.py). strawberry's own ValidationCache keys on the rule classes
too, and the depth and alias limiters build new rule classes per request, so it never hits.
The rules of one schema are the same for every request (fixed limits), so the query text is
key enough, except for rules that depend on who is calling (marked `depends_on_caller`, e.g.
no introspection for anonymous callers): which of those applied is part of the key, so a
document that passed for one caller is never taken as valid for another. Only documents that
passed are remembered; a failing one is checked every time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

MAX_CACHED_QUERY_CHARS = 20_000


class ValidDocuments:
    """A bounded LRU set of query texts that passed validation against one schema."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, query: str) -> bool:
        with self._lock:
            if query in self._seen:
                self._seen.move_to_end(query)
                return True
            return False

    def add(self, query: str) -> None:
        if len(query) > MAX_CACHED_QUERY_CHARS:
            return
        with self._lock:
            self._seen[query] = None
            self._seen.move_to_end(query)
            while len(self._seen) > self.maxsize:
                self._seen.popitem(last=False)


class QueryValidationCache(SchemaExtension):
    def __init__(self, valid: ValidDocuments) -> None:
        super().__init__()
        self.valid = valid

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        key = self._key()
        if key is not None and key in self.valid:
            context.pre_execution_errors = []  # tells strawberry validation already ran
            yield
            return
        yield
        if key is not None and context.pre_execution_errors == []:
            self.valid.add(key)

    def _key(self) -> str | None:
        context = self.execution_context
        if context.query is None:
            return None
        per_caller = [
            rule.__name__
            for rule in context.validation_rules
            if getattr(rule, "depends_on_caller", False)
        ]
        return "\0".join([*per_caller, context.query])
