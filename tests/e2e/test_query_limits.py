"""Request budgets over HTTP: costly documents refused before anything runs, statistics row
limits, expensive work per account, worker threads, and our errors' extensions intact."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from graphql import parse

from api.graphql.base import ApiError
from api.graphql.cost import plan_operations
from api.graphql.schema import build_schema
from tests.e2e.access_world import World, open_world
from tests.helpers import error_codes
from tests.subscriber_helpers import GD_NUMBER

STATS_30 = (
    "{ "
    + " ".join(
        f'a{i}: statistics {{ proxyOperations(from: "1900-01-01", to: "2999-12-31",'
        " groupBy: [DAY, PROVINCE, OPERATION, OPERATOR]) { keys count } }"
        for i in range(30)
    )
    + " }"
)
SMALL_STATS = """{ statistics { proxyOperations(from: "2026-01-01", to: "2026-01-31",
    groupBy: [DAY, OPERATION]) { keys count } } }"""
PAGE = "nodes { id occurredAt } pageInfo { endCursor hasNextPage }"
# A subscriber page as a frontend shows it: the mailbox, its nine history lists, usage counts
# and the changes made to it, each at first: 50 (the default page).
SUBSCRIBER_PAGE = f"""query($m: String!) {{ subscriber(msisdn: $m) {{
  msisdn mailbox province status registeredAt companionEnabled billDelivery loginReminder alias
  smsBlacklistLevel pointsBalance level version plan {{ code name monthlyFeeFen }}
  arrivalNotification {{ enabled mode windowStart windowEnd }}
  smsRecords(first: 50) {{ {PAGE} }} mmsRecords(first: 50) {{ {PAGE} }}
  wapPushRecords(first: 50) {{ {PAGE} }} campaignEntries(first: 50) {{ {PAGE} }}
  charges(first: 50) {{ {PAGE} }} logins(first: 50) {{ {PAGE} }} usageLog(first: 50) {{ {PAGE} }}
  syncLog(first: 50) {{ {PAGE} }} pointsLog(first: 50) {{ {PAGE} }}
  usageCounts(from: "2026-11-01", to: "2026-11-30") {{ selfWrittenSms arrivalNotifications }}
  changes(first: 50) {{ nodes {{ position type occurredAt actor {{ username }} reason data }}
    pageInfo {{ endCursor hasNextPage }} }}
}} }}"""
EVENT_PAGES = (
    "query($n: Int) { "
    + " ".join(
        f"p{i}: events(first: $n) {{ nodes {{ position actor {{ username }} }} }}"
        for i in range(10)
    )
    + " }"
)


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        w.container.subscribers.register(w.admin, GD_NUMBER, "GD", "FREE")
        yield w


def post(world: World, document: str, variables: Any = None, user: str = "admin") -> Any:
    token = world.gql.tokens[user]
    response = world.client.post(
        "/graphql",
        json={"query": document, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def export(world: World, user: str, **params: str) -> Any:
    return world.client.get(
        "/exports/statistics/proxy-operations.csv",
        params=params,
        headers={"Authorization": f"Bearer {world.gql.tokens[user]}"},
    )


def never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("nothing may run for a refused request")


def the_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] is None, body
    (error,) = body["errors"]
    return error  # type: ignore[no-any-return]


def test_the_thirty_alias_statistics_request_is_refused_before_anything_runs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    statistics = world.container.statistics
    monkeypatch.setattr(statistics, "open", never)
    monkeypatch.setattr(statistics.read_model, "proxy_operations", never)
    extensions = the_error(post(world, STATS_30, user="viewer"))["extensions"]
    limit = world.container.settings.query_max_cost
    assert extensions["code"] == "QUERY_TOO_COSTLY"
    assert extensions["limit"] == limit == 10_000
    assert extensions["cost"] > 10**9
    assert extensions["correlationId"]
    viewer = world.principals["viewer"]
    assert world.container.expensive.running(viewer) == 0


def test_a_heavy_frontend_page_passes_with_room(world: World) -> None:
    body = post(world, SUBSCRIBER_PAGE, {"m": GD_NUMBER}, user="gd.agent")
    assert "errors" not in body, body
    assert body["data"]["subscriber"]["changes"]["nodes"][0]["type"] == "MailboxRegistered"
    schema = build_schema()._schema
    plan = plan_operations(schema, parse(SUBSCRIBER_PAGE), 500)[None]
    measure = plan.measure(schema, {"m": GD_NUMBER}, 500)
    assert measure is not None and measure.cost * 10 < world.container.settings.query_max_cost


def test_first_from_a_variable_is_costed_with_each_requests_value(world: World) -> None:
    """The same text, costed once per request: a document that passed with small pages does
    not let large ones through (the plan is cached, the cost is not)."""
    assert "errors" not in post(world, EVENT_PAGES, {"n": 50}, user="auditor")
    refused = the_error(post(world, EVENT_PAGES, {"n": 500}, user="auditor"))["extensions"]
    assert refused["code"] == "QUERY_TOO_COSTLY"
    assert refused["cost"] == 10 * (1 + 500 + 500) and refused["limit"] == 10_000
    assert "errors" not in post(world, EVENT_PAGES, {"n": 50}, user="auditor")
    assert error_codes(post(world, EVENT_PAGES, {"n": "x"}, user="auditor")) == ["BAD_USER_INPUT"]


def test_statistics_over_the_row_limit_are_refused_naming_the_limit(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GraphQL: a range under the request budget but over a (smaller) row limit.
    monkeypatch.setattr(world.container.statistics, "max_rows", 300)
    year = """{ statistics { proxyOperations(from: "2026-01-01", to: "2026-12-31",
        groupBy: [DAY]) { keys count } } }"""
    error = post(world, year)["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "300" in error["message"] and "SPOA_STATISTICS_MAX_ROWS" in error["message"]
    monkeypatch.undo()
    # The CSV export has no GraphQL budget; the default row limit holds there.
    response = export(
        world, "admin", **{"from": "1990-01-01", "to": "2029-12-31", "groupBy": "DAY"}
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "10000" in error["message"] and "SPOA_STATISTICS_MAX_ROWS" in error["message"]
    fits = export(
        world, "admin", **{"from": "1990-01-01", "to": "2029-12-31", "groupBy": "OPERATION"}
    )
    assert fits.status_code == 200


class Blocking:
    """The statistics read model, held inside the worker thread until released."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def proxy_operations(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.release()
        assert self.release.wait(30)
        return self.real.proxy_operations(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_each_account_runs_at_most_its_expensive_operations_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    statistics = world.container.statistics
    blocking = Blocking(statistics.read_model)
    monkeypatch.setattr(statistics, "read_model", blocking)
    allowed = world.container.settings.expensive_per_account
    assert allowed == 2
    with ThreadPoolExecutor(allowed) as pool:
        running = [pool.submit(post, world, SMALL_STATS, None, "viewer") for _ in range(allowed)]
        try:
            for _ in range(allowed):
                assert blocking.entered.acquire(timeout=30)
            refused = the_error(post(world, SMALL_STATS, user="viewer"))
            assert refused["extensions"]["code"] == "RATE_LIMITED"
            assert refused["extensions"]["limit"] == allowed
            assert refused["extensions"]["retryAfter"] == 1
            assert "SPOA_EXPENSIVE_PER_ACCOUNT" in refused["message"]
            csv = export(world, "viewer", **{"from": "2026-01-01", "to": "2026-01-02"})
            assert csv.status_code == 429 and csv.headers["retry-after"] == "1"
            assert csv.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            # Cheap requests of the same account, and another account's expensive ones, pass.
            assert post(world, "{ me { username } }", user="viewer")["data"]["me"]
            assert "errors" not in post(world, "{ events(first: 5) { nodes { type } } }")
        finally:
            blocking.release.set()
        for done in running:
            assert "errors" not in done.result(timeout=30)
    assert world.container.expensive.running(world.principals["viewer"]) == 0
    assert "errors" not in post(world, SMALL_STATS, user="viewer")


def on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_expensive_work_runs_in_worker_threads(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, bool] = {}

    def spy(owner: Any, name: str) -> None:
        real = getattr(owner, name)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            seen[name] = on_event_loop()
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, recorded)

    container = world.container
    spy(container.statistics.read_model, "proxy_operations")
    spy(container.statistics.read_model, "ticket_times")
    spy(container.audit, "events")
    spy(container.audit, "trail")
    spy(container.knowledge, "search")
    post(world, SMALL_STATS)
    post(world, '{ statistics { ticketTimes(from: "2026-01-01", to: "2026-01-02") { answered } } }')
    post(world, "{ events(first: 3) { nodes { type } } }")
    post(world, '{ auditTrail(streamType: "Account", streamId: "admin") { nodes { type } } }')
    post(world, '{ searchFaqs(query: "登录") { totalCount } }')
    assert seen == dict.fromkeys(
        ["proxy_operations", "ticket_times", "events", "trail", "search"], False
    )
    seen.clear()
    assert export(world, "admin", **{"from": "2026-01-01", "to": "2026-01-02"}).status_code == 200
    assert seen == {"proxy_operations": False}


def test_our_errors_reach_the_client_with_their_extensions_and_internals_stay_masked(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    class LateError(ApiError):
        def __init__(self) -> None:
            super().__init__("CONSISTENCY_TIMEOUT", "the audit projection is behind")
            assert self.extensions is not None
            self.extensions.update(projection="audit", position=42)

    def late(*args: Any, **kwargs: Any) -> Any:
        raise LateError

    monkeypatch.setattr(world.container.audit, "events", late)
    error = post(world, "{ events(first: 1) { nodes { type } } }")["errors"][0]
    extensions = error["extensions"]
    assert extensions.pop("correlationId")
    assert extensions == {"code": "CONSISTENCY_TIMEOUT", "projection": "audit", "position": 42}

    class LeakyError(Exception):
        extensions = {"code": "OOPS", "dsn": "postgresql://spoa:hunter2@db"}  # noqa: RUF012

    def leak(*args: Any, **kwargs: Any) -> Any:
        raise LeakyError("psycopg said hunter2")

    monkeypatch.setattr(world.container.audit, "events", leak)
    body = post(world, "{ events(first: 1) { nodes { type } } }")
    assert "hunter2" not in str(body)
    assert set(body["errors"][0]["extensions"]) == {"code", "correlationId"}


def test_an_anonymous_costly_request_is_refused_too(world: World) -> None:
    response = world.client.post("/graphql", json={"query": STATS_30})
    assert error_codes(response.json()) == ["QUERY_TOO_COSTLY"]
