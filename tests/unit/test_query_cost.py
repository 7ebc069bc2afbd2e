"""The cost of GraphQL documents (api/graphql/cost.py), on the served schema, without I/O."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import GraphQLSchema, get_introspection_query, parse
from hypothesis import given
from hypothesis import strategies as st

from api.graphql import cost as cost_module
from api.graphql.budget import CostPlans
from api.graphql.cost import Measure, plan_operations
from api.graphql.schema import build_schema

SCHEMA: GraphQLSchema = build_schema()._schema
PAGE_MAX = 500


def measure(
    document: str, variables: dict[str, Any] | None = None, name: str | None = None
) -> Measure:
    plan = plan_operations(SCHEMA, parse(document), PAGE_MAX)[name]
    found = plan.measure(SCHEMA, variables, PAGE_MAX)
    assert found is not None
    return found


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    return measure(document, variables).cost


def test_leaves_are_free_and_an_object_costs_one() -> None:
    assert cost("{ me { id username role } }") == 1
    assert cost("{ plans { code } }") == 10  # a list without `first`: ten items


@pytest.mark.parametrize(
    ("first", "page"), [("", 50), ("(first: 3)", 3), ("(first: 100000)", 500), ("(first: -2)", 0)]
)
def test_a_connection_costs_its_page(first: str, page: int) -> None:
    assert cost(
        f"{{ accounts{first} {{ totalCount nodes {{ id }} pageInfo {{ hasNextPage }} }} }}"
    ) == (1 + page + 1)


def test_a_subscriber_search_is_a_page_like_the_others() -> None:
    document = """{ subscribers(filter: {text: "138"}, first: 20) {
        nodes { msisdn plan { code } changes(first: 5) { nodes { type } } }
        pageInfo { hasNextPage } } }"""
    plans, changes, page_info = 20, 20 * (1 + 5), 1
    assert cost(document) == 1 + 20 + plans + changes + page_info
    assert cost("{ subscribers { nodes { msisdn } } }") == 1 + 50  # `first` omitted: 50


def test_nested_lists_multiply() -> None:
    document = """{ tickets(first: 2) { nodes {
        createdBy { username }
        entries { body author { username } }
        history(first: 4) { nodes { actor { username } } }
    } } }"""
    tickets, created_by, entries, authors = 1, 2, 2 * 10, 2 * 10
    history = 2 * (1 + 4 + 4)
    assert cost(document) == tickets + 2 + created_by + entries + authors + history


def test_statistics_cost_the_rows_a_grouping_can_produce_plus_the_days_it_reads() -> None:
    def stats(field: str) -> int:
        return cost(f"{{ statistics {{ {field} }} }}") - 1

    month = 'from: "2026-01-01", to: "2026-01-31"'
    assert stats(f"proxyOperations({month}, groupBy: []) {{ count }}") == 1 + 31
    assert stats(f"proxyOperations({month}, groupBy: [DAY]) {{ count }}") == 31 + 31
    assert stats(f"proxyOperations({month}, groupBy: [DAY, OPERATION]) {{ count }}") == (
        31 * 11 + 31
    )
    assert stats(f"proxyOperations({month}, groupBy: [PROVINCE]) {{ count }}") == 31 + 31
    one_province = f'proxyOperations({month}, groupBy: [PROVINCE], province: "GD") {{ count }}'
    assert stats(one_province) == 1 + 31
    # complaintTickets counts complaints only, unless given the categories to count.
    assert stats(f"complaintTickets({month}, groupBy: [CATEGORY, STATUS]) {{ count }}") == 4 + 31
    widened = f"complaintTickets({month}, groupBy: [CATEGORY, STATUS], categories: [FAULT, OTHER])"
    assert stats(f"{widened} {{ count }}") == 2 * 4 + 31
    assert stats(f"ticketTimes({month}) {{ answered }}") == 31


def test_a_year_by_province_is_well_within_the_default_budget() -> None:
    year = 'from: "2026-01-01", to: "2026-12-31"'
    found = measure(
        f"{{ statistics {{ proxyOperations({year}, groupBy: [PROVINCE]) {{ count }} }} }}"
    )
    assert found.cost < 1000


def test_the_thirty_alias_statistics_request_is_far_over_any_budget() -> None:
    field = (
        'statistics { proxyOperations(from: "1900-01-01", to: "2999-12-31",'
        " groupBy: [DAY, PROVINCE, OPERATION, OPERATOR]) { keys count } }"
    )
    found = measure("{ " + " ".join(f"a{i}: {field}" for i in range(30)) + " }")
    assert found.cost > 10**9 and found.expensive


def test_variables_are_costed_with_their_values_and_the_plan_is_reused() -> None:
    document = "query($n: Int, $from: Date!) { events(first: $n) { nodes { position } }"
    document += ' statistics { ticketTimes(from: $from, to: "2026-01-10") { answered } } }'
    plans = CostPlans(PAGE_MAX)
    plan = plans.of(SCHEMA, document, parse(document))[None]
    assert plans.of(SCHEMA, document, parse(document))[None] is plan
    small = plan.measure(SCHEMA, {"n": 2, "from": "2026-01-10"}, PAGE_MAX)
    large = plan.measure(SCHEMA, {"n": 400, "from": "2026-01-01"}, PAGE_MAX)
    assert small is not None and large is not None
    assert (small.cost, large.cost) == (1 + 2 + 1 + 1, 1 + 400 + 1 + 10)
    defaulted = "query($n: Int = 7) { events(first: $n) { nodes { position } } }"
    assert cost(defaulted) == 1 + 7 and cost(defaulted, {"n": 9}) == 1 + 9


def test_variables_that_do_not_coerce_are_left_to_execution_to_refuse() -> None:
    document = "query($n: Int) { events(first: $n) { nodes { position } } }"
    plan = plan_operations(SCHEMA, parse(document), PAGE_MAX)[None]
    assert plan.measure(SCHEMA, {"n": "many"}, PAGE_MAX) is None


def test_fragments_and_inline_fragments_count_where_they_are_spread() -> None:
    inline = "{ events(first: 20) { nodes { position actor { username } } } }"
    spread = """query { ...Feed } fragment Feed on Query { events(first: 20) { nodes { ...E } } }
        fragment E on AuditEvent { position ... on AuditEvent { actor { username } } }"""
    assert cost(spread) == cost(inline) == 1 + 20 + 20
    page = "events(first: 20) { nodes { position } }"
    twice = f"{{ a: {page} b: {page} }}"
    assert cost(twice) == 2 * (1 + 20)  # aliases are separate calls
    merged = "{ events(first: 20) { nodes { position } } events(first: 20) { nodes { type } } }"
    assert cost(merged) == 1 + 20  # the same response key is one call, as executed


def test_skip_and_include_are_honoured() -> None:
    document = """query($heavy: Boolean!) { me { id }
        events(first: 100) @include(if: $heavy) { nodes { position } }
        ... @skip(if: $heavy) { plans { code } } }"""
    assert measure(document, {"heavy": False}) == Measure(1 + 10, False)
    assert measure(document, {"heavy": True}) == Measure(1 + 101, True)


def test_introspection_is_cheap() -> None:
    assert cost(get_introspection_query()) <= 2
    assert cost("{ __typename me { __typename id } }") == 1


@pytest.mark.parametrize(
    ("document", "expensive"),
    [
        ("{ me { id } tickets { totalCount } }", False),
        ('{ tickets(filter: {text: "登录"}) { totalCount } }', True),
        ('{ searchFaqs(query: "x") { totalCount } }', True),
        ("{ events { nodes { position } } }", True),
        ('{ statistics { ticketTimes(from: "2026-01-01", to: "2026-01-02") { answered } } }', True),
        ('{ subscriber(msisdn: "13800138000") { changes { nodes { type } } } }', True),
        ('{ subscriber(msisdn: "13800138000") { smsRecords { nodes { id } } } }', False),
        ('mutation { login(username: "a", password: "b") { userErrors { code } } }', False),
    ],
)
def test_expensive_work_is_recognised(document: str, expensive: bool) -> None:
    assert measure(document).expensive is expensive


def test_a_document_expanding_past_the_plan_limit_is_costed_by_its_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cost_module, "MAX_PLAN_FIELDS", 5)
    found = measure("{ me { id username displayName role province enabled } }")
    assert found.oversized and found.cost > 5


def test_each_operation_of_a_document_has_its_plan() -> None:
    document = "query A { me { id } } query B { events(first: 9) { nodes { position } } }"
    assert measure(document, name="A").cost == 1
    assert measure(document, name="B").cost == 10


HISTORY = """query($a: Int, $b: Int) { subscriber(msisdn: "13800138000") {
    smsRecords(first: $a) { nodes { id } }
    changes(first: $a) { nodes { actor { username } } }
} tickets(first: $b) { nodes { history(first: $a) { nodes { type } } } } }"""


@given(
    a=st.integers(-5, 1000), b=st.integers(-5, 1000), more=st.integers(0, 1000), which=st.booleans()
)
def test_cost_is_monotone_in_first(a: int, b: int, more: int, which: bool) -> None:
    before = cost(HISTORY, {"a": a, "b": b})
    after = cost(HISTORY, {"a": a + more, "b": b} if which else {"a": a, "b": b + more})
    assert after >= before
    literal = HISTORY.replace("$a", str(a)).replace("$b", str(b)).split("{", 1)[1]
    assert cost("{" + literal) == before  # a variable costs what the same literal costs


def execute(document: str, **limits: int) -> Any:
    """Run a document on a schema with these limits and no context: a resolver that ran would
    fail for want of one."""
    return asyncio.run(build_schema(**limits).execute(document))


def test_a_costly_request_is_refused_before_any_resolver_runs() -> None:
    result = execute("{ events(first: 100) { nodes { position } } }", max_cost=50)
    assert result.data is None
    (error,) = result.errors
    assert error.extensions == {"code": "QUERY_TOO_COSTLY", "cost": 101, "limit": 50}
    assert "SPOA_QUERY_MAX_COST" in error.message
    within = execute("{ events(first: 49) { nodes { position } } }", max_cost=50)
    assert within.errors[0].path == ["events"]  # its resolver ran (and failed: no context)


def test_a_document_too_large_to_plan_is_refused_whatever_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cost_module, "MAX_PLAN_FIELDS", 3)
    result = execute("{ me { id username displayName role } }", max_cost=10**9)
    assert result.errors[0].extensions["code"] == "QUERY_TOO_COSTLY"
