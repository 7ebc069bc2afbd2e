"""A schema extension that times every GraphQL operation into the container's metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension


class GraphQLMetrics(SchemaExtension):
    """Counts and times operations by name, type and outcome (no-op without metrics)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ec = self.execution_context
        container = getattr(ec.context, "container", None)
        metrics = getattr(container, "metrics", None)
        if metrics is None:
            return
        try:
            operation_type = ec.operation_type.value
        except Exception:  # unparsable document, unknown operation name
            operation_type = "invalid"
        try:
            name = ec.operation_name
        except Exception:
            name = None
        result: Any = ec.result
        errors = (result.errors if result is not None else None) or ec.pre_execution_errors
        metrics.observe_graphql(name, operation_type, time.perf_counter() - started, not errors)
