"""Statistics over HTTP: the GraphQL `statistics` query, the CSV exports, scoping in both, and
/metrics."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from application.access.service import principal_of
from application.authz import Principal
from domain.access.account import account_id_for
from domain.support.values import TicketCategory, TicketPriority
from infra.bootstrap import Container
from tests.helpers import GraphQL, error_codes
from tests.statistics_helpers import meta_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
GD_1, GD_2, BJ_1 = "13800138001", "13800138002", "13900139001"
STATS = """
query Stats($from: Date!, $to: Date!, $p: Int, $province: Province,
            $proxy: [ProxyStatDimension!]!, $tickets: [TicketStatDimension!]!,
            $categories: [TicketCategory!]) {
  statistics(consistentWith: $p) {
    proxyOperations(from: $from, to: $to, groupBy: $proxy, province: $province) { keys count }
    complaintTickets(from: $from, to: $to, groupBy: $tickets, province: $province,
                     categories: $categories) { keys count }
    ticketTimes(from: $from, to: $to, province: $province) {
      medianMinutesToAnswer p90MinutesToAnswer answered overdue
    }
  }
}
"""
PAYLOAD = "{ position userErrors { code } }"


def staff(container: Container, username: str) -> Principal:
    account = container.access.actor_account(account_id_for(username))
    assert account is not None
    return principal_of(account)


def mutate(gql: GraphQL, user: str, name: str, input_type: str, value: dict[str, Any]) -> int:
    result = gql(
        f"mutation($i: {input_type}!) {{ {name}(input: $i) {PAYLOAD} }}", {"i": value}, user
    )
    payload = result["data"][name]
    assert payload["userErrors"] == [], payload
    position: int = payload["position"]
    return position


def days() -> tuple[str, str]:
    """A range around today in Shanghai (a test running over midnight still fits)."""
    today = datetime.now(SHANGHAI).date()
    return str(today - timedelta(days=1)), str(today + timedelta(days=1))


@pytest.fixture
def world(gql: GraphQL, container: Container) -> dict[str, Any]:
    """Proxy settings by several roles (the platform's must not count) and three tickets."""
    mutate(gql, "gd.agent", "registerMailbox", "RegisterMailboxInput",
           {"msisdn": GD_1, "province": "GD", "planCode": "FREE"})  # fmt: skip
    mutate(gql, "gd.agent", "registerMailbox", "RegisterMailboxInput",
           {"msisdn": GD_2, "province": "GD", "planCode": "FREE"})  # fmt: skip
    mutate(gql, "gd.agent", "setCompanion", "SetCompanionInput", {"msisdn": GD_1, "enabled": True})
    mutate(gql, "second", "changePlan", "ChangePlanInput", {"msisdn": GD_1, "planCode": "VIP_20"})
    mutate(gql, "admin", "registerMailbox", "RegisterMailboxInput",
           {"msisdn": BJ_1, "province": "BJ", "planCode": "FREE"})  # fmt: skip
    mutate(gql, "platform", "setLoginReminder", "SetLoginReminderInput",
           {"msisdn": GD_1, "enabled": True})  # fmt: skip
    tickets = container.tickets
    gd, bj, second = (staff(container, u) for u in ("gd.agent", "bj.agent", "second"))
    ids = []
    for who, category in ((gd, TicketCategory.COMPLAINT), (gd, TicketCategory.FAULT),
                          (bj, TicketCategory.COMPLAINT)):  # fmt: skip
        draft = tickets.save_draft(who, ticket_id=None, title="无法登录", body="登录失败",
                                   category=category, priority=TicketPriority.NORMAL)  # fmt: skip
        assert draft.ticket is not None
        tickets.submit(who, draft.ticket.id)
        ids.append(draft.ticket.id)
    tickets.save_draft(gd, ticket_id=None, title="草稿", body="未提交",
                       category=TicketCategory.COMPLAINT, priority=TicketPriority.LOW)  # fmt: skip
    last = tickets.answer(second, ids[0], "请清除缓存").position
    assert last is not None
    return {"position": last}


def stats(gql: GraphQL, user: str, position: int, **variables: Any) -> dict[str, Any]:
    first, last = days()
    values = {"from": first, "to": last, "p": position, "proxy": [], "tickets": []}
    values.update(variables)
    return gql(STATS, values, user)


def test_statistics_count_staff_proxy_settings_and_submitted_tickets(
    gql: GraphQL, world: dict[str, Any]
) -> None:
    result = stats(
        gql, "admin", world["position"], proxy=["OPERATION", "OPERATOR"], tickets=["STATUS"]
    )
    assert "errors" not in result, result
    s = result["data"]["statistics"]
    assert s["proxyOperations"] == [
        {"keys": ["changePlan", "second"], "count": 1},
        {"keys": ["registerMailbox", "admin"], "count": 1},
        {"keys": ["registerMailbox", "gd.agent"], "count": 2},
        {"keys": ["setCompanion", "gd.agent"], "count": 1},
    ]
    assert s["complaintTickets"] == [  # complaints only: the GD fault is not one
        {"keys": ["ANSWERED"], "count": 1},
        {"keys": ["SUBMITTED"], "count": 1},
    ]
    times = s["ticketTimes"]
    assert times["answered"] == 1 and times["overdue"] == 0
    assert times["medianMinutesToAnswer"] is not None and times["medianMinutesToAnswer"] >= 0
    by_province = stats(gql, "admin", world["position"], proxy=["PROVINCE"], tickets=["PROVINCE",
                        "CATEGORY"])["data"]["statistics"]  # fmt: skip
    assert by_province["proxyOperations"] == [
        {"keys": ["BJ"], "count": 1},
        {"keys": ["GD"], "count": 4},
    ]
    assert by_province["complaintTickets"] == [
        {"keys": ["BJ", "COMPLAINT"], "count": 1},
        {"keys": ["GD", "COMPLAINT"], "count": 1},
    ]
    widened = stats(gql, "admin", world["position"], tickets=["PROVINCE", "CATEGORY"],
                    categories=["FAULT", "COMPLAINT"])["data"]["statistics"]  # fmt: skip
    assert widened["complaintTickets"] == [
        {"keys": ["BJ", "COMPLAINT"], "count": 1},
        {"keys": ["GD", "COMPLAINT"], "count": 1},
        {"keys": ["GD", "FAULT"], "count": 1},
    ]
    only_faults = stats(gql, "admin", world["position"], categories=["FAULT"])
    assert only_faults["data"]["statistics"]["complaintTickets"] == [{"keys": [], "count": 1}]
    assert error_codes(stats(gql, "admin", 0, categories=[])) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("user", ["gd.agent", "gd.viewer"])
def test_province_bound_callers_see_only_their_province(
    gql: GraphQL, world: dict[str, Any], user: str
) -> None:
    own = stats(gql, user, world["position"], proxy=["PROVINCE"], tickets=["PROVINCE"])
    assert own["data"]["statistics"]["proxyOperations"] == [{"keys": ["GD"], "count": 4}]
    assert own["data"]["statistics"]["complaintTickets"] == [{"keys": ["GD"], "count": 1}]
    asked = stats(gql, user, world["position"], province="GD")
    assert asked["data"]["statistics"]["proxyOperations"] == [{"keys": [], "count": 4}]
    other = stats(gql, user, world["position"], province="BJ")
    assert set(error_codes(other)) == {"FORBIDDEN"}


@pytest.mark.parametrize("user", ["admin", "second", "viewer", "auditor"])
def test_unscoped_readers_see_every_province(
    gql: GraphQL, world: dict[str, Any], user: str
) -> None:
    result = stats(gql, user, world["position"], proxy=["PROVINCE"], province="BJ")
    assert result["data"]["statistics"]["proxyOperations"] == [{"keys": ["BJ"], "count": 1}]


def test_the_platform_and_strangers_may_not_read_statistics(gql: GraphQL) -> None:
    assert error_codes(stats(gql, "platform", 0)) == ["FORBIDDEN"]
    first, last = days()
    anonymous = gql(STATS, {"from": first, "to": last, "proxy": [], "tickets": []})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


def test_malformed_statistics_arguments_are_bad_input(gql: GraphQL) -> None:
    backwards = stats(gql, "admin", 0, **{"from": "2026-03-02", "to": "2026-03-01"})
    assert set(error_codes(backwards)) == {"BAD_USER_INPUT"}
    twice = stats(gql, "admin", 0, proxy=["DAY", "DAY"])
    assert "BAD_USER_INPUT" in error_codes(twice)
    assert error_codes(stats(gql, "admin", 0, proxy=["WEEK"])) == ["BAD_USER_INPUT"]
    assert error_codes(stats(gql, "admin", 0, province="XX")) == ["BAD_USER_INPUT"]


# ---------------------------------------------------------------------- CSV
def export(client: TestClient, gql: GraphQL, user: str | None, path: str, **params: Any) -> Any:
    headers = {}
    if user is not None:
        headers["Authorization"] = f"Bearer {gql.tokens.get(user) or gql.login(user)}"
    first, last = days()
    query = {"from": first, "to": last, **params}
    return client.get(f"/exports/statistics/{path}", params=query, headers=headers)


def rows_of(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_exports_match_the_query(
    client: TestClient, gql: GraphQL, world: dict[str, Any]
) -> None:
    proxy = export(client, gql, "admin", "proxy-operations.csv",
                   groupBy="OPERATION,OPERATOR", consistentWith=world["position"])  # fmt: skip
    assert rows_of(proxy) == [
        ["operation", "operator", "count"],
        ["changePlan", "second", "1"],
        ["registerMailbox", "admin", "1"],
        ["registerMailbox", "gd.agent", "2"],
        ["setCompanion", "gd.agent", "1"],
    ]
    tickets = export(client, gql, "admin", "complaint-tickets.csv", groupBy="PROVINCE,STATUS")
    assert rows_of(tickets) == [
        ["province", "status", "count"],
        ["BJ", "SUBMITTED", "1"],
        ["GD", "ANSWERED", "1"],
    ]
    total = export(client, gql, "admin", "complaint-tickets.csv")
    assert rows_of(total) == [["count"], ["2"]]
    every = export(client, gql, "admin", "complaint-tickets.csv", categories="COMPLAINT,FAULT")
    assert rows_of(every) == [["count"], ["3"]]
    unknown = export(client, gql, "admin", "complaint-tickets.csv", categories="GRIPE")
    assert unknown.status_code == 400 and "GRIPE" in unknown.text


def test_csv_exports_are_scoped_and_authenticated(
    client: TestClient, gql: GraphQL, world: dict[str, Any]
) -> None:
    own = export(client, gql, "gd.agent", "proxy-operations.csv",
                 groupBy="PROVINCE", consistentWith=world["position"])  # fmt: skip
    assert rows_of(own) == [["province", "count"], ["GD", "4"]]
    other = export(client, gql, "gd.viewer", "complaint-tickets.csv", province="BJ")
    assert other.status_code == 403
    assert other.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert export(client, gql, "platform", "proxy-operations.csv").status_code == 403
    anonymous = export(client, gql, None, "proxy-operations.csv")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = client.get(
        "/exports/statistics/proxy-operations.csv",
        params={"from": "2026-03-01", "to": "2026-03-02"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert forged.status_code == 401
    # who is asking is settled before the parameters are even looked at
    stranger = client.get(
        "/exports/statistics/proxy-operations.csv",
        params={"groupBy": "WEEK"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert stranger.status_code == 401
    assert (
        export(client, gql, "platform", "proxy-operations.csv", groupBy="WEEK").status_code == 403
    )


@pytest.mark.parametrize(
    "params",
    [
        {"groupBy": "DAY,WEEK"},
        {"groupBy": "DAY,DAY"},
        {"from": "yesterday"},
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"province": "XX"},
        {"consistentWith": "-1"},
    ],
)
def test_csv_exports_refuse_malformed_parameters(
    client: TestClient, gql: GraphQL, params: dict[str, str]
) -> None:
    response = export(client, gql, "admin", "proxy-operations.csv", **params)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_csv_quotes_names_with_commas_quotes_and_newlines(
    client: TestClient, gql: GraphQL, container: Container
) -> None:
    # Imported histories may carry operator names no SPOA username could have.
    from domain.subscribers.subscriber import Subscriber

    odd = 'li, "wei"\nzhang'
    at = datetime.now(UTC)
    s = Subscriber.register(msisdn=GD_1, province="GD", plan_code="FREE", at=at,
                            meta=meta_of((odd, "PROVINCE_AGENT", "GD")))  # fmt: skip
    s.set_companion(True, at, meta_of(("王小明", "PROVINCE_AGENT", "GD")))
    container.core.save(s)
    position = container.core_log.head()
    response = export(client, gql, "admin", "proxy-operations.csv", groupBy="operator",
                      consistentWith=position)  # fmt: skip
    assert rows_of(response) == [["operator", "count"], [odd, "1"], ["王小明", "1"]]
    body = response.content.decode("utf-8")
    assert '\r\n"li, ""wei""\nzhang",1\r\n' in body
    assert body.endswith("王小明,1\r\n")


# ---------------------------------------------------------------------- metrics
def test_metrics_show_projections_stores_graphql_operations_and_rebuilds(
    client: TestClient, gql: GraphQL, world: dict[str, Any], container: Container
) -> None:
    stats(gql, "admin", world["position"])
    stats(gql, "platform", world["position"])  # FORBIDDEN: an error outcome

    class StopError(Exception):
        pass

    def interrupt(done: int, total: int) -> None:
        if done:
            raise StopError

    with pytest.raises(StopError):  # leaves a half-built generation: a rebuild under way
        container.rebuilds.rebuild("statistics", page_size=2, progress=interrupt)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    head = container.core_log.head()
    for expected in (
        f'spoa_store_events_appended_total{{store="core"}} {float(head)}',
        'spoa_projection_position{projection="statistics",store="core"}',
        'spoa_projection_lag_events{projection="statistics",store="core"}',
        'spoa_projection_rebuilding{projection="statistics"} 1.0',
        'spoa_projection_rebuild_position{projection="statistics"} 2.0',
        'spoa_projection_rebuild_progress_ratio{projection="statistics"}',
        'spoa_graphql_requests_total{operation="Stats",outcome="ok",type="query"} 1.0',
        'spoa_graphql_requests_total{operation="Stats",outcome="error",type="query"} 1.0',
        'spoa_graphql_request_duration_seconds_bucket{le="0.5",operation="Stats",type="query"}',
        'spoa_http_requests_total{method="POST",route="/graphql",status="200"}',
    ):
        assert expected in text, expected
