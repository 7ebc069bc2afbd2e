"""StatisticsService rules (scoping, validation, ordering), the CSV format and the metrics."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.exports import BOM, render_csv, safe_cell
from application.statistics.service import (
    ProxyDimension,
    StatisticsService,
    StatRow,
    TicketDimension,
    possible_rows,
)
from domain.access.permissions import Role
from domain.shared import PermissionDeniedError, ValidationError
from domain.support.values import TicketCategory
from infra.metrics import MAX_OPERATION_NAMES, Metrics
from tests.subscriber_helpers import principal

D1, D2 = date(2026, 3, 1), date(2026, 3, 31)
NOW = datetime(2026, 4, 1, tzinfo=UTC)


class FakeReadModel:
    def __init__(self, grouped: list[tuple[tuple[Any, ...], int]] | None = None) -> None:
        self.grouped = grouped or []
        self.calls: list[tuple[Any, ...]] = []

    def proxy_operations(
        self, first: date, last: date, province: str | None, dims: Any, limit: Any = None
    ) -> Any:
        self.calls.append(("proxy", first, last, province, list(dims), limit))
        return self.grouped[:limit]

    def complaint_tickets(
        self,
        first: date,
        last: date,
        province: str | None,
        dims: Any,
        limit: Any = None,
        categories: Any = None,
    ) -> Any:
        self.calls.append(("tickets", first, last, province, list(dims), limit, categories))
        return self.grouped[:limit]

    def ticket_times(self, first: date, last: date, province: str | None, now: Any) -> Any:
        self.calls.append(("times", first, last, province, now))
        return (12.5, 30.0, 4, 1)


class FakeWaiter:
    def __init__(self) -> None:
        self.waited: list[tuple[list[str], int]] = []

    async def wait(self, projections: Any, position: int) -> None:
        self.waited.append((list(projections), position))


@dataclass
class FixedClock:
    at: datetime = NOW

    def now(self) -> datetime:
        return self.at


def service(
    read_model: FakeReadModel | None = None, max_rows: int = 10_000
) -> tuple[StatisticsService, FakeReadModel]:
    rm = read_model or FakeReadModel()
    return StatisticsService(rm, FakeWaiter(), FixedClock(), max_rows), rm


ADMIN = principal("admin", Role.SUPER_ADMIN)
GD_AGENT = principal("gd.agent", Role.PROVINCE_AGENT, "GD")
GD_VIEWER = principal("gd.viewer", Role.VIEWER, "GD")
VIEWER = principal("viewer", Role.VIEWER)
AUDITOR = principal("auditor", Role.AUDITOR)
PLATFORM = principal("platform", Role.INTEGRATION)


@pytest.mark.parametrize("who", [GD_AGENT, GD_VIEWER])
def test_a_province_bound_caller_sees_only_their_province(who: Any) -> None:
    svc, rm = service()
    svc.proxy_operations(who, D1, D2, [ProxyDimension.DAY])
    svc.complaint_tickets(who, D1, D2, [], province="GD")
    svc.ticket_times(who, D1, D2)
    assert [c[3] for c in rm.calls] == ["GD", "GD", "GD"]


@pytest.mark.parametrize("who", [GD_AGENT, GD_VIEWER])
def test_a_province_bound_caller_asking_for_another_province_is_forbidden(who: Any) -> None:
    svc, rm = service()
    with pytest.raises(PermissionDeniedError):
        svc.proxy_operations(who, D1, D2, [], province="BJ")
    with pytest.raises(PermissionDeniedError):
        svc.complaint_tickets(who, D1, D2, [], province="BJ")
    with pytest.raises(PermissionDeniedError):
        svc.ticket_times(who, D1, D2, province="BJ")
    assert rm.calls == []


@pytest.mark.parametrize("who", [ADMIN, VIEWER, AUDITOR, principal("s", Role.SECOND_LINE_AGENT)])
def test_unscoped_callers_see_every_province_or_the_one_they_ask_for(who: Any) -> None:
    svc, rm = service()
    svc.proxy_operations(who, D1, D2, [])
    svc.proxy_operations(who, D1, D2, [], province="BJ")
    assert [c[3] for c in rm.calls] == [None, "BJ"]


def test_the_platform_may_not_read_statistics() -> None:
    svc, _ = service()
    with pytest.raises(PermissionDeniedError):
        asyncio.run(svc.open(PLATFORM))
    with pytest.raises(PermissionDeniedError):
        svc.proxy_operations(PLATFORM, D1, D2, [])


def test_open_waits_for_the_statistics_projection_only_when_asked() -> None:
    rm = FakeReadModel()
    waiter = FakeWaiter()
    svc = StatisticsService(rm, waiter, FixedClock())
    asyncio.run(svc.open(ADMIN))
    asyncio.run(svc.open(ADMIN, 42))
    assert waiter.waited == [(["statistics"], 42)]


def test_a_range_ending_before_it_starts_is_refused() -> None:
    svc, _ = service()
    with pytest.raises(ValidationError) as caught:
        svc.proxy_operations(ADMIN, D2, D1, [])
    assert caught.value.code == "INVALID_DATE_RANGE"
    svc.proxy_operations(ADMIN, D1, D1, [])  # one day is a range


def test_a_dimension_twice_is_refused() -> None:
    svc, _ = service()
    with pytest.raises(ValidationError) as caught:
        svc.complaint_tickets(ADMIN, D1, D2, [TicketDimension.DAY, TicketDimension.DAY])
    assert caught.value.code == "DUPLICATE_DIMENSION"


def test_a_range_and_grouping_that_can_produce_too_many_rows_are_refused_unread() -> None:
    svc, rm = service(max_rows=1000)
    by_day_and_province = [ProxyDimension.DAY, ProxyDimension.PROVINCE]
    year = (date(2026, 1, 1), date(2026, 12, 31))
    with pytest.raises(ValidationError) as caught:
        svc.proxy_operations(ADMIN, *year, by_day_and_province)  # 365 x 31 provinces
    assert caught.value.code == "TOO_MANY_ROWS"
    assert "1000" in caught.value.message and "SPOA_STATISTICS_MAX_ROWS" in caught.value.message
    by_day_and_category = [TicketDimension.DAY, TicketDimension.CATEGORY]
    with pytest.raises(ValidationError):  # 365 days x the five categories asked for
        svc.complaint_tickets(ADMIN, *year, by_day_and_category, categories=list(TicketCategory))
    assert rm.calls == []
    svc.complaint_tickets(ADMIN, *year, by_day_and_category)  # complaints only: 365 rows
    rm.calls.clear()
    # One province (asked for, or the caller's scope) is one group a day: 365 rows fit.
    svc.proxy_operations(ADMIN, *year, by_day_and_province, "GD")
    svc.proxy_operations(GD_AGENT, *year, by_day_and_province)
    svc.proxy_operations(ADMIN, *year, [ProxyDimension.PROVINCE])  # 31 rows however long
    assert [c[5] for c in rm.calls] == [1001, 1001, 1001]


def test_a_grouping_that_does_produce_too_many_rows_is_refused() -> None:
    """OPERATOR has no catalog to bound it beforehand (10 is only an estimate): the rows
    found are counted."""
    found = [((f"agent{i}",), 1) for i in range(20)]
    svc, rm = service(FakeReadModel(found), max_rows=12)
    with pytest.raises(ValidationError) as caught:
        svc.proxy_operations(ADMIN, D1, D1, [ProxyDimension.OPERATOR])
    assert caught.value.code == "TOO_MANY_ROWS" and "more than 12 rows" in caught.value.message
    assert rm.calls[0][5] == 13  # asked for one more than fits, not for every row
    fits, _ = service(FakeReadModel(found[:12]), max_rows=12)
    assert len(fits.proxy_operations(ADMIN, D1, D1, [ProxyDimension.OPERATOR])) == 12


@given(
    first=st.dates(date(1900, 1, 1), date(2999, 12, 31)),
    days=st.integers(0, 5000),
    dimensions=st.lists(st.sampled_from(list(ProxyDimension)), unique=True),
)
def test_possible_rows_grow_with_the_range_and_bound_one_province(
    first: date, days: int, dimensions: list[ProxyDimension]
) -> None:
    names = [d.value for d in dimensions]
    last = first + timedelta(days=days)
    rows = possible_rows(first, last, names, None)
    assert possible_rows(first, last + timedelta(days=1), names, None) >= rows >= 1
    assert possible_rows(first, last, names, "GD") <= rows


def test_rows_are_sorted_by_their_keys_and_days_are_iso_dates() -> None:
    svc, rm = service(
        FakeReadModel(
            [
                (("b.agent", date(2026, 3, 2)), 1),
                (("a.agent", date(2026, 3, 10)), 2),
                (("a.agent", date(2026, 3, 9)), 3),
            ]
        )
    )
    rows = svc.proxy_operations(ADMIN, D1, D2, [ProxyDimension.OPERATOR, ProxyDimension.DAY])
    assert rows == [
        StatRow(["a.agent", "2026-03-09"], 3),
        StatRow(["a.agent", "2026-03-10"], 2),
        StatRow(["b.agent", "2026-03-02"], 1),
    ]
    assert rm.calls[0][4] == ["OPERATOR", "DAY"]


def test_ticket_times_are_asked_at_the_clocks_now() -> None:
    svc, rm = service()
    times = svc.ticket_times(ADMIN, D1, D2)
    assert (times.median_minutes_to_answer, times.p90_minutes_to_answer) == (12.5, 30.0)
    assert (times.answered, times.overdue) == (4, 1)
    assert rm.calls == [("times", D1, D2, None, NOW)]


# ---------------------------------------------------------------------- CSV
def test_csv_has_a_bom_a_header_crlf_and_quotes_commas_quotes_and_newlines() -> None:
    rows = [
        StatRow(["2026-03-01", 'li, "wei"\nzhang'], 2),
        StatRow(["2026-03-01", "王小明"], 1),
    ]
    body = render_csv(["DAY", "OPERATOR"], rows)
    assert body.startswith(BOM.encode("utf-8")) and body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8")
    assert text == (
        BOM + 'day,operator,count\r\n2026-03-01,"li, ""wei""\nzhang",2\r\n2026-03-01,王小明,1\r\n'
    )
    parsed = list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))
    assert parsed == [
        ["day", "operator", "count"],
        ["2026-03-01", 'li, "wei"\nzhang', "2"],
        ["2026-03-01", "王小明", "1"],
    ]


def test_csv_without_dimensions_is_the_total() -> None:
    assert render_csv([], [StatRow([], 7)]).decode("utf-8") == BOM + "count\r\n7\r\n"


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=1+1", "'=1+1"), ("-x", "'-x"), ("+x", "'+x"), ("@x", "'@x"), ("a-b", "a-b")],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(value: str, cell: str) -> None:
    assert safe_cell(value) == cell


# ---------------------------------------------------------------------- metrics
@dataclass
class State:
    name: str
    store: str
    generation: int
    position: int
    lag: int
    updated_at: Any = None
    building_generation: int | None = None
    building_position: int | None = None
    version: int = 1
    code_version: int = 1
    failing: bool = False

    @property
    def rebuild_needed(self) -> bool:
        return self.version < self.code_version


class FakeEngine:
    sources: ClassVar[dict[str, Any]] = {"core": None, "feed": None}

    def status(self) -> list[State]:
        return [
            State("statistics", "core", 2, 90, 10, building_generation=3, building_position=25),
            State("history", "feed", 1, 5, 0, code_version=2),
        ]

    def store_heads(self) -> dict[str, int]:
        return {store: self.store_head(store) for store in self.sources}

    def store_head(self, store: str) -> int:
        return {"core": 100, "feed": 5}[store]


def test_metrics_expose_positions_lag_appends_and_rebuild_progress() -> None:
    metrics = Metrics(FakeEngine(), lambda: {"history"})
    metrics.observe_graphql("Stats", "query", 0.02, True)
    metrics.observe_http("GET", "/metrics", 200, 0.001)
    text = metrics.render().decode()
    for line in (
        'spoa_store_events_appended_total{store="core"} 100.0',
        'spoa_projection_position{projection="statistics",store="core"} 90.0',
        'spoa_projection_lag_events{projection="statistics",store="core"} 10.0',
        'spoa_projection_rebuilding{projection="statistics"} 1.0',
        'spoa_projection_rebuild_position{projection="statistics"} 25.0',
        'spoa_projection_rebuild_progress_ratio{projection="statistics"} 0.25',
        'spoa_projection_rebuilding{projection="history"} 0.0',
        'spoa_projection_leader{projection="history"} 1.0',
        'spoa_projection_version{projection="history"} 1.0',
        'spoa_projection_rebuild_needed{projection="history"} 1.0',
        'spoa_projection_rebuild_needed{projection="statistics"} 0.0',
        'spoa_graphql_requests_total{operation="Stats",outcome="ok",type="query"} 1.0',
        'spoa_graphql_request_duration_seconds_count{operation="Stats",type="query"} 1.0',
        'spoa_http_requests_total{method="GET",route="/metrics",status="200"} 1.0',
        "spoa_database_up 1.0",
    ):
        assert line in text, line


def test_metrics_answer_when_the_database_does_not() -> None:
    class Down(FakeEngine):
        def status(self) -> list[State]:
            raise OSError("connection refused")

    assert "spoa_database_up 0.0" in Metrics(Down()).render().decode()


def test_operation_names_are_bounded_labels() -> None:
    metrics = Metrics()
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("bad name!") == "invalid"
    names = [metrics.operation_label(f"Op{i}") for i in range(MAX_OPERATION_NAMES + 5)]
    assert names[:MAX_OPERATION_NAMES] == [f"Op{i}" for i in range(MAX_OPERATION_NAMES)]
    assert set(names[MAX_OPERATION_NAMES:]) == {"other"}
    assert metrics.operation_label("Op0") == "Op0"


def test_complaint_tickets_count_complaints_unless_asked_for_more_categories() -> None:
    svc, rm = service()
    svc.complaint_tickets(ADMIN, D1, D2, [])
    fault, complaint = TicketCategory.FAULT, TicketCategory.COMPLAINT
    svc.complaint_tickets(ADMIN, D1, D2, [], categories=[fault, complaint, fault])
    assert [c[6] for c in rm.calls] == [["COMPLAINT"], ["FAULT", "COMPLAINT"]]
    with pytest.raises(ValidationError) as caught:
        svc.complaint_tickets(ADMIN, D1, D2, [], categories=[])
    assert caught.value.field == ["categories"]


def test_the_categories_counted_bound_the_rows_a_grouping_by_category_can_produce() -> None:
    dims = ["DAY", "CATEGORY"]
    assert possible_rows(D1, D2, dims, None) == 31 * 5  # every category: the catalog
    assert possible_rows(D1, D2, dims, None, categories=1) == 31
    assert possible_rows(D1, D2, dims, None, categories=2) == 62
