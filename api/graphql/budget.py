"""Each request's budget, checked after validation and before any resolver runs: a document
costing more than SPOA_QUERY_MAX_COST is QUERY_TOO_COSTLY (api/graphql/cost.py says what costs
what), and a request doing expensive work (statistics, searches, event pages) is RATE_LIMITED
while its account already has SPOA_EXPENSIVE_PER_ACCOUNT such requests running.

The plan of a document is cached by query text, like its validation; the cost itself is
computed for every request from its own variables, and the caller is counted on every request,
so nothing another caller or another set of variables passed is taken on trust.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, ExecutionResult, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.graphql.base import ApiError, rate_limited
from api.graphql.cost import Measure, Plan, plan_operations
from application.limits import TooMuchAtOnceError

MAX_CACHED_QUERY_CHARS = 20_000


class QueryTooCostlyError(ApiError):
    def __init__(self, cost: int, limit: int) -> None:
        super().__init__(
            "QUERY_TOO_COSTLY",
            f"this request may cost {cost}, over the limit of {limit} (SPOA_QUERY_MAX_COST):"
            " ask for smaller pages (`first`), shorter statistics ranges, fewer aliases, or"
            " split it into several requests",
        )
        assert self.extensions is not None
        self.extensions.update(cost=cost, limit=limit)


class CostPlans:
    """Plans by query text: a bounded LRU, per schema (its types decide the plan)."""

    def __init__(self, page_max: int, maxsize: int = 512) -> None:
        self.page_max = page_max
        self.maxsize = maxsize
        self._plans: OrderedDict[str, dict[str | None, Plan]] = OrderedDict()
        self._lock = threading.Lock()

    def of(
        self, schema: GraphQLSchema, query: str | None, document: DocumentNode
    ) -> dict[str | None, Plan]:
        if query is None:  # a document given parsed: nothing to key it by
            return plan_operations(schema, document, self.page_max)
        with self._lock:
            plans = self._plans.get(query)
            if plans is not None:
                self._plans.move_to_end(query)
                return plans
        plans = plan_operations(schema, document, self.page_max)
        if len(query) <= MAX_CACHED_QUERY_CHARS:
            with self._lock:
                self._plans[query] = plans
                while len(self._plans) > self.maxsize:
                    self._plans.popitem(last=False)
        return plans


class RequestBudget(SchemaExtension):
    def __init__(self, plans: CostPlans, max_cost: int) -> None:
        super().__init__()
        self.plans = plans
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        measure = self._measure()
        too_costly = measure is not None and (measure.cost > self.max_cost or measure.oversized)
        if _subscription(context):
            # Strawberry starts a subscription whatever result is set here, so it is refused by
            # raising. Its deliveries are the hub's, not requests an account runs at once: the
            # expensive-work gate does not count them (the cost bounds each one).
            if too_costly and measure is not None:
                raise QueryTooCostlyError(measure.cost, self.max_cost)
            yield
            return
        if too_costly and measure is not None:
            context.result = _refused(QueryTooCostlyError(measure.cost, self.max_cost))
            yield
            return
        held = _caller(context.context) if measure is not None and measure.expensive else None
        if held is None:
            yield
            return
        gate, principal = held
        try:
            gate.begin(principal)
        except TooMuchAtOnceError as exc:
            refusal = rate_limited(exc)  # RATE_LIMITED with retryAfter, as everywhere
            refusal.extensions = {**(refusal.extensions or {}), "limit": exc.limit}
            context.result = _refused(refusal)
            yield
            return
        try:
            yield
        finally:
            gate.end(principal)

    def _measure(self) -> Measure | None:
        context = self.execution_context
        document = context.graphql_document
        if document is None:
            return None
        schema = context.schema._schema
        plan = self.plans.of(schema, context.query, document).get(context.operation_name)
        if plan is None:  # an operation name the document lacks: execution refuses it
            return None
        return plan.measure(schema, context.variables, self.plans.page_max)


def _subscription(context: Any) -> bool:
    try:
        return bool(context.operation_type is OperationType.SUBSCRIPTION)
    except RuntimeError:  # no such operation: execution refuses it
        return False


def _refused(error: ApiError) -> ExecutionResult:
    """A result in place of execution: strawberry then runs no resolver."""
    return ExecutionResult(data=None, errors=[error])


def _caller(context: Any) -> tuple[Any, Any] | None:
    """(the expensive-work gate, the caller), or None for an anonymous caller, whom the
    resolvers refuse before any work."""
    container = getattr(context, "container", None)
    gate = getattr(container, "expensive", None)
    if gate is None:
        return None
    try:
        principal = context.principal()
    except ApiError:
        return None
    return gate, principal
