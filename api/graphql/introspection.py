"""Introspection (`__schema`, `__type`) only for authenticated callers, outside dev mode.

A validation rule added per request for anonymous callers. It depends on the caller, so the
validation cache (validation_cache.py) keys on whether it applied: a document an authenticated
caller validated is still checked for an anonymous one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class IntrospectionNeedsAuthentication(ValidationRule):
    depends_on_caller = True

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            self.report_error(
                GraphQLError(
                    "introspection needs authentication",
                    node,
                    extensions={"code": "UNAUTHENTICATED"},
                )
            )


class AnonymousIntrospectionGuard(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        if not getattr(context.context, "authenticated", False):
            context.validation_rules = (*context.validation_rules, IntrospectionNeedsAuthentication)
        yield
