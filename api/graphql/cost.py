"""What a GraphQL operation may cost, from its validated document, before any resolver runs.

The cost counts the items a request may make the server resolve (design decision 10):

- an object field: 1 for each parent item;
- a field with a `first` argument (a connection or a page): 1, and the list inside it (`nodes`)
  one per item of the page: `first` capped at SPOA_PAGE_MAX, 50 when omitted, 0 when negative
  (application/pagination.py); exports, history and event pages are such pages;
- a list without `first` (plans, ticket entries, contacts: short by nature): 10 items;
- statistics: the rows a grouping can produce (a row per day only when grouped by DAY, times
  the other dimensions' fan-out, CATEGORY the categories counted; see
  application/statistics/service.py) plus the days in the range it reads (proxyOperations,
  complaintTickets), the days in the range (ticketTimes);
- scalars and enums nothing, `__typename` nothing, `__schema` and `__type` 1 (introspection
  is cheap and served from memory).

Nested lists multiply: 50 tickets with 10 entries each, each entry with its author, cost
1 + 50 + 500 + 500. Fragments and inline fragments count where they are spread; fields with
the same response key count once, as execution merges them; @skip and @include are honoured.

A `Plan` is the document's shape with what each rule reads (arguments, directives) and does not
depend on the variables, so it is made once per query text; the cost is computed per request
from that request's variables, coerced as execution coerces them. A document costed with one
set of variables therefore never lets another set through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
)
from graphql.execution.values import (
    VariableValues,
    get_argument_values,
    get_directive_values,
    get_variable_values,
)

from application.pagination import page_size
from application.statistics.service import days_in, grouping_fan_out

UNPAGED_LIST_ITEMS = 10
#: Fields charged by their date range, by type and field name: with a grouping or without.
GROUPED_FIELDS = frozenset({("Statistics", "proxyOperations"), ("Statistics", "complaintTickets")})
RANGED_FIELDS = frozenset({("Statistics", "ticketTimes")})
#: Expensive work (statistics, searches, event pages): each account may have only a few
#: requests holding some at once (application/limits.py). `tickets` is a search with a text.
EXPENSIVE_FIELDS = frozenset(
    {
        *GROUPED_FIELDS,
        *RANGED_FIELDS,
        ("Query", "searchFaqs"),
        ("Query", "events"),
        ("Query", "auditTrail"),
        ("Subscriber", "changes"),
        ("Ticket", "history"),
        ("Ticket", "changes"),
    }
)
TEXT_SEARCHES = frozenset({("Query", "tickets")})
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
#: A document that expands (fragments spread under aliases) into more fields than this is
#: refused without costing it further: no real frontend sends one, and planning it is work.
MAX_PLAN_FIELDS = 20_000

_NO_VARIABLES = VariableValues(sources={}, coerced={})


class Rule(Enum):
    OBJECT = "object"
    LIST = "list"  # a list without `first`
    PAGE = "page"  # a field with `first`: a connection (or a list) of one page
    NODES = "nodes"  # the list inside a connection: one page of items
    GROUPED = "grouped"  # statistics rows: days in range x the grouping's fan-out
    RANGED = "ranged"  # one figure over a range of days
    INTROSPECTION = "introspection"


Directed = FieldNode | InlineFragmentNode | FragmentSpreadNode


@dataclass(frozen=True, slots=True)
class Node:
    """One response key of a selection: its field, how it is charged, and what it selects."""

    rule: Rule
    field: GraphQLField | None
    occurrences: tuple[FieldNode, ...]
    #: Per occurrence, the nodes carrying @skip/@include it depends on; included if any
    #: occurrence's all pass.
    conditions: tuple[tuple[Directed, ...], ...]
    children: tuple[Node, ...]
    expensive: bool
    text_search: bool


@dataclass(frozen=True)
class Measure:
    cost: int
    expensive: bool
    #: Planning stopped at MAX_PLAN_FIELDS: `cost` is only the fields planned, and the
    #: request is refused whatever the budget.
    oversized: bool = False


@dataclass(frozen=True)
class Plan:
    roots: tuple[Node, ...]
    #: The operation's variable definitions the plan reads (arguments, @skip/@include).
    definitions: tuple[Any, ...]
    fields: int
    constant: Measure | None = field(default=None)

    @property
    def oversized(self) -> bool:
        return self.fields > MAX_PLAN_FIELDS

    def measure(
        self, schema: GraphQLSchema, variables: dict[str, Any] | None, page_max: int
    ) -> Measure | None:
        """The cost with these (raw) variables; None when they do not coerce (execution then
        refuses the request before any resolver runs)."""
        if self.oversized:
            return Measure(self.fields, False, oversized=True)
        if self.constant is not None:
            return self.constant
        coerced = get_variable_values(schema, self.definitions, variables or {})
        if isinstance(coerced, list):
            return None
        return _evaluate(self.roots, coerced, page_max)


def possible_rows(
    days: int, dimensions: list[str], province: str | None, categories: int | None = None
) -> int:
    """The rows of a grouping over `days` days (as the statistics service counts them)."""
    fan_out = grouping_fan_out(dimensions, province, categories)
    return (max(days, 1) if "DAY" in dimensions else 1) * fan_out


def plan_operations(
    schema: GraphQLSchema, document: DocumentNode, page_max: int
) -> dict[str | None, Plan]:
    """A plan per operation of a valid document, by name (None: the only one, unnamed)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    plans: dict[str | None, Plan] = {}
    for operation in operations:
        root = schema.get_root_type(operation.operation)
        if root is None:
            continue
        planner = _Planner(schema, fragments)
        roots = planner.selections(root, [operation.selection_set], [()], paged=False)
        used = planner.variables
        definitions = tuple(
            d for d in operation.variable_definitions or () if d.variable.name.value in used
        )
        plan = Plan(roots, definitions, planner.fields)
        if not definitions and not plan.oversized:
            plan = Plan(roots, definitions, planner.fields, _evaluate(roots, None, page_max))
        name = operation.name.value if operation.name else None
        plans[name] = plan
        if len(operations) == 1:
            plans[None] = plan
    return plans


class _Planner:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]):
        self.schema = schema
        self.fragments = fragments
        self.variables: set[str] = set()
        self.fields = 0

    def selections(
        self,
        parent: GraphQLObjectType,
        selection_sets: list[SelectionSetNode],
        conditions: list[tuple[Directed, ...]],
        paged: bool,
    ) -> tuple[Node, ...]:
        grouped: dict[str, list[tuple[GraphQLObjectType, FieldNode, tuple[Directed, ...]]]] = {}
        for selection_set, condition in zip(selection_sets, conditions, strict=True):
            self._collect(parent, selection_set, condition, grouped, set())
        nodes = []
        for occurrences in grouped.values():
            node = self._node(occurrences, paged)
            if node is not None:
                nodes.append(node)
        return tuple(nodes)

    def _collect(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode,
        condition: tuple[Directed, ...],
        into: dict[str, list[tuple[GraphQLObjectType, FieldNode, tuple[Directed, ...]]]],
        spread: set[tuple[str, tuple[Directed, ...]]],
    ) -> None:
        for selection in selection_set.selections:
            here = (*condition, selection) if selection.directives else condition
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                into.setdefault(key, []).append((parent, selection, here))
                continue
            if isinstance(selection, InlineFragmentNode):
                target = self._narrow(parent, selection.type_condition)
                self._collect(target, selection.selection_set, here, into, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or (name, here) in spread:
                    continue  # spread again under the same conditions: execution merges it
                spread.add((name, here))
                target = self._narrow(parent, fragment.type_condition)
                self._collect(target, fragment.selection_set, here, into, spread)

    def _narrow(self, parent: GraphQLObjectType, condition: Any) -> GraphQLObjectType:
        found = self.schema.get_type(condition.name.value) if condition is not None else None
        return found if isinstance(found, GraphQLObjectType) else parent

    def _node(
        self,
        occurrences: list[tuple[GraphQLObjectType, FieldNode, tuple[Directed, ...]]],
        paged: bool,
    ) -> Node | None:
        parent, first, _ = occurrences[0]
        name = first.name.value
        conditions = tuple(c for _, _, c in occurrences)
        nodes = tuple(n for _, n, _ in occurrences)
        self.fields += 1
        if self.fields > MAX_PLAN_FIELDS:
            return None
        for condition in conditions:
            for directed in condition:
                self._note_variables(
                    a.value for d in directed.directives or () for a in d.arguments or ()
                )
        if name in INTROSPECTION_FIELDS:
            return Node(Rule.INTROSPECTION, None, nodes, conditions, (), False, False)
        definition = parent.fields.get(name)
        if definition is None:  # __typename, or a field validation would have refused
            return None
        coordinate = (parent.name, name)
        named = get_named_type(definition.type)
        listed = is_list_type(get_nullable_type(definition.type))
        if coordinate in GROUPED_FIELDS:
            rule = Rule.GROUPED
        elif coordinate in RANGED_FIELDS:
            rule = Rule.RANGED
        elif "first" in definition.args:
            rule = Rule.PAGE
        elif is_leaf_type(named):
            return None
        elif listed:
            rule = Rule.NODES if paged else Rule.LIST
        else:
            rule = Rule.OBJECT
        text_search = coordinate in TEXT_SEARCHES
        if rule in (Rule.GROUPED, Rule.RANGED, Rule.PAGE) or text_search:
            self._note_variables(a.value for n in nodes for a in n.arguments or ())
        children: tuple[Node, ...] = ()
        if isinstance(named, GraphQLObjectType):
            sets = [n.selection_set for n in nodes if n.selection_set is not None]
            sub_conditions = [c for n, c in zip(nodes, conditions, strict=True) if n.selection_set]
            children = self.selections(
                named, sets, sub_conditions, paged=rule is Rule.PAGE and not listed
            )
        expensive = coordinate in EXPENSIVE_FIELDS
        return Node(rule, definition, nodes, conditions, children, expensive, text_search)

    def _note_variables(self, values: Iterable[ValueNode]) -> None:
        for value in values:
            if isinstance(value, VariableNode):
                self.variables.add(value.name.value)
            elif isinstance(value, ListValueNode):
                self._note_variables(value.values)
            elif isinstance(value, ObjectValueNode):
                self._note_variables(f.value for f in value.fields)


def _evaluate(roots: tuple[Node, ...], variables: VariableValues | None, page_max: int) -> Measure:
    evaluation = _Evaluation(variables or _NO_VARIABLES, page_max)
    cost = evaluation.cost(roots, 1, None)
    return Measure(cost, evaluation.expensive)


class _Evaluation:
    def __init__(self, variables: VariableValues, page_max: int) -> None:
        self.variables = variables
        self.page_max = page_max
        self.expensive = False

    def cost(self, nodes: tuple[Node, ...], multiplier: int, page: int | None) -> int:
        total = 0
        for node in nodes:
            if not self._included(node):
                continue
            own, fan_out, inner_page = self._weigh(node, page)
            if node.expensive or (node.text_search and self._has_text(node)):
                self.expensive = True
            total += multiplier * own
            if node.children:
                total += self.cost(node.children, multiplier * fan_out, inner_page)
        return total

    def _weigh(self, node: Node, page: int | None) -> tuple[int, int, int | None]:
        """(cost per parent item, items the children are resolved for, the page a
        connection's list holds)."""
        rule = node.rule
        if rule is Rule.OBJECT:
            return 1, 1, None
        if rule is Rule.LIST:
            return UNPAGED_LIST_ITEMS, UNPAGED_LIST_ITEMS, None
        if rule is Rule.NODES:
            items = UNPAGED_LIST_ITEMS if page is None else page
            return items, items, None
        if rule is Rule.INTROSPECTION:
            return 1, 0, None
        args = self._arguments(node)
        if rule is Rule.PAGE:
            first = args.get("first")
            items = page_size(max(first, 0) if isinstance(first, int) else None, self.page_max)
            if node.field is not None and is_list_type(get_nullable_type(node.field.type)):
                return items, items, None
            return 1, 1, items
        first_day, last_day = args.get("from"), args.get("to")
        days = (
            days_in(first_day, last_day)
            if isinstance(first_day, date) and isinstance(last_day, date)
            else 1
        )
        if rule is Rule.RANGED:
            return max(days, 1), 1, None
        dimensions = [getattr(d, "value", d) for d in args.get("groupBy") or ()]
        # The rows it can answer, plus a unit per day of daily counts it reads to sum them.
        # complaintTickets counts one category (COMPLAINT) unless given `categories`.
        counted = args.get("categories")
        categories = len(set(counted)) if counted else 1
        rows = possible_rows(days, dimensions, args.get("province"), categories)
        return rows + max(days, 1), rows, None

    def _arguments(self, node: Node) -> dict[str, Any]:
        assert node.field is not None
        return get_argument_values(node.field, node.occurrences[0], self.variables)

    def _has_text(self, node: Node) -> bool:
        given = self._arguments(node).get("filter")
        return isinstance(given, dict) and bool(given.get("text"))

    def _included(self, node: Node) -> bool:
        return any(all(self._passes(d) for d in condition) for condition in node.conditions)

    def _passes(self, directed: Directed) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, directed, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, directed, self.variables)
        return not (include is not None and include.get("if") is False)
