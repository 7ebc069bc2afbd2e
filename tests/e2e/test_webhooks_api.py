"""Webhooks over GraphQL: endpoints (the secret shown once, never stored or read back in the
clear), every input rule as a user error that stores nothing, deliveries agents see on
`Subscriber.changes` and the feed, `webhookDeliveries`, redelivery, and /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.webhooks.rules import AllowedHosts
from infra.bootstrap import Container
from tests.conftest import make_settings
from tests.helpers import GraphQL, error_codes, seed_accounts
from tests.webhook_receiver import Received, Receiver, Reply
from tests.webhook_world import FAST

GD = "13800138000"
CREATE = (
    "mutation($in: WebhookEndpointInput!) { createWebhookEndpoint(input: $in) {"
    " endpoint { id url eventTypes description enabled createdAt } secret position"
    " userErrors { code message field } } }"
)
CHANGES = (
    "query($m: String!) { subscriber(msisdn: $m) { changes(first: 10) { nodes { position type"
    " webhookDeliveries { id status attempts lastStatusCode eventType eventPosition"
    " endpoint { id url description } } } } } }"
)
DELIVERIES = (
    "query($s: WebhookDeliveryStatus, $e: ID, $f: Int, $a: String, $c: Int) {"
    " webhookDeliveries(status: $s, endpointId: $e, first: $f, after: $a, consistentWith: $c) {"
    " nodes { id status attempts lastStatusCode lastError eventPosition eventType"
    " endpoint { id } } pageInfo { endCursor hasNextPage } } }"
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    def respond(request: Received, index: int) -> Reply:
        reject = request.payload["type"] == "Subscriber.CompanionChanged"
        return Reply(400, b"companion not supported") if reject else Reply(200)

    r = Receiver(respond)
    yield r
    r.close()


@pytest.fixture
def hooks(database_url: str) -> Iterator[tuple[GraphQL, Container]]:
    container = Container(make_settings(database_url, **FAST), database_url)
    try:
        app = create_app(container, run_projections=True, run_webhooks=True)
        with TestClient(app) as client:
            seed_accounts(container)
            yield GraphQL(client), container
    finally:
        container.close()


def until(done: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def create(gql: GraphQL, url: str, types: list[str], user: str = "admin") -> dict[str, Any]:
    variables = {"in": {"url": url, "eventTypes": types, "description": "BOSS 同步"}}
    result: dict[str, Any] = gql(CREATE, variables, as_user=user)
    return result


def test_the_secret_is_shown_once_and_never_read_back(
    hooks: tuple[GraphQL, Container], receiver: Receiver
) -> None:
    gql, container = hooks
    payload = create(gql, receiver.url, ["Subscriber.*"])["data"]["createWebhookEndpoint"]
    secret = payload["secret"]
    assert payload["userErrors"] == [] and secret.startswith("whsec_") and payload["position"]
    assert payload["endpoint"]["enabled"] and payload["endpoint"]["eventTypes"] == ["Subscriber.*"]
    listed = gql(
        "query($c: Int) { webhookEndpoints(consistentWith: $c) { id url description enabled } }",
        {"c": payload["position"]},
        as_user="auditor",
    )
    assert listed["data"]["webhookEndpoints"] == [
        {
            "id": payload["endpoint"]["id"],
            "url": receiver.url,
            "description": "BOSS 同步",
            "enabled": True,
        }
    ]
    trail = gql(
        'query($id: ID!) { auditTrail(streamType: "WebhookEndpoint", streamId: $id) {'
        " nodes { type data actor { username } } } }",
        {"id": payload["endpoint"]["id"]},
        as_user="auditor",
    )
    (created,) = trail["data"]["auditTrail"]["nodes"]
    assert created["data"]["secret_ciphertext"] == "[REDACTED]"
    assert created["actor"]["username"] == "admin"
    rotated = gql(
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) {"
        " secret position userErrors { code } } }",
        {"id": payload["endpoint"]["id"]},
        as_user="admin",
    )["data"]["rotateWebhookSecret"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    with container.read_pool.connection() as conn:
        for table in ("core_events", "rm.webhook_endpoints"):
            dump = conn.execute(f"SELECT string_agg(t::text, '') FROM {table} t").fetchone()
            assert dump is not None and dump[0] is not None
            assert secret not in dump[0] and rotated["secret"] not in dump[0]


@pytest.mark.parametrize(
    ("url", "types", "code", "field"),
    [
        ("ftp://boss.example/x", ["Subscriber.*"], "INVALID_URL_SCHEME", ["input", "url"]),
        ("https://u:p@boss.example/x", ["Subscriber.*"], "URL_HAS_CREDENTIALS", ["input", "url"]),
        ("https://boss.example/x", ["Subscriber.Planchanged"], "UNKNOWN_EVENT_TYPE", None),
        ("https://boss.example/x", [], "EVENT_TYPES_REQUIRED", ["input", "eventTypes"]),
        ("https://outside.example/x", ["Subscriber.*"], "HOST_NOT_ALLOWED", ["input", "url"]),
    ],
)
def test_every_input_rule_is_a_user_error_that_stores_nothing(
    hooks: tuple[GraphQL, Container], url: str, types: list[str], code: str, field: Any
) -> None:
    gql, container = hooks
    container.webhook_endpoints.allowed_hosts = AllowedHosts.parse("boss.example, 10.0.0.0/8")
    gql.login("admin")  # (a login is an event too)
    head = container.core_log.head()
    payload = create(gql, url, types)["data"]["createWebhookEndpoint"]
    (error,) = payload["userErrors"]
    assert (payload["endpoint"], payload["secret"], payload["position"]) == (None, None, None)
    assert error["code"] == code and error["message"]
    assert field is None or error["field"] == field
    assert container.core_log.head() == head


def test_wrong_states_and_unknown_ids(hooks: tuple[GraphQL, Container], receiver: Receiver) -> None:
    gql, container = hooks
    endpoint = create(gql, receiver.url, ["Ticket.*"])["data"]["createWebhookEndpoint"]["endpoint"]

    def call(mutation: str, id: str) -> Any:
        document = (
            f"mutation($id: ID!) {{ {mutation}(id: $id) {{ position userErrors {{ code }} }} }}"
        )
        return gql(document, {"id": id}, as_user="admin")

    assert call("enableWebhookEndpoint", endpoint["id"])["data"]["enableWebhookEndpoint"][
        "userErrors"
    ] == [{"code": "ALREADY_ENABLED"}]
    assert call("disableWebhookEndpoint", endpoint["id"])["data"]["disableWebhookEndpoint"][
        "position"
    ]
    head = container.core_log.head()
    assert call("disableWebhookEndpoint", endpoint["id"])["data"]["disableWebhookEndpoint"][
        "userErrors"
    ] == [{"code": "ALREADY_DISABLED"}]
    unknown = "00000000-0000-0000-0000-000000000001"
    assert call("rotateWebhookSecret", unknown)["data"]["rotateWebhookSecret"]["userErrors"] == [
        {"code": "NOT_FOUND"}
    ]
    assert call("redeliverWebhook", unknown)["data"]["redeliverWebhook"]["userErrors"] == [
        {"code": "NOT_FOUND"}
    ]
    assert error_codes(call("disableWebhookEndpoint", "nonsense")) == ["BAD_USER_INPUT"]
    assert container.core_log.head() == head


def test_agents_see_the_deliveries_of_changes_and_may_send_failed_ones_again(
    hooks: tuple[GraphQL, Container], receiver: Receiver
) -> None:
    gql, _ = hooks
    endpoint = create(gql, receiver.url, ["Subscriber.*"])["data"]["createWebhookEndpoint"]
    endpoint_id = endpoint["endpoint"]["id"]
    subscriber = '{ msisdn: $m, province: GD, planCode: "FREE" }'
    register = f"mutation($m: String!) {{ registerMailbox(input: {subscriber}) {{ position }} }}"
    gql(register, {"m": GD}, as_user="gd.agent")
    companion = gql(
        "mutation($m: String!) { setCompanion(input: { msisdn: $m, enabled: true }) { position } }",
        {"m": GD},
        as_user="gd.agent",
    )["data"]["setCompanion"]["position"]

    def nodes(user: str = "gd.agent") -> list[dict[str, Any]]:
        return gql(CHANGES, {"m": GD}, as_user=user)["data"]["subscriber"]["changes"]["nodes"]

    def statuses() -> list[str]:
        return [d["status"] for n in nodes() for d in n["webhookDeliveries"]]

    assert until(lambda: sorted(statuses()) == ["DELIVERED", "FAILED"]), statuses()

    seen = {n["type"]: n["webhookDeliveries"] for n in nodes()}
    assert seen["MailboxRegistered"][0]["status"] == "DELIVERED"
    (rejected,) = seen["CompanionChanged"]
    assert rejected["endpoint"] == {
        "id": endpoint_id,
        "url": receiver.url,
        "description": "BOSS 同步",
    }
    assert (rejected["status"], rejected["lastStatusCode"]) == ("FAILED", 400)
    listed = gql(DELIVERIES, {"s": "FAILED", "e": endpoint_id}, as_user="auditor")
    (node,) = listed["data"]["webhookDeliveries"]["nodes"]
    assert node["lastError"] == "companion not supported" and node["eventPosition"] == companion
    again = gql(
        "mutation($id: ID!) { redeliverWebhook(id: $id) { delivery { id status attempts }"
        " position userErrors { code } } }",
        {"id": node["id"]},
        as_user="second",
    )["data"]["redeliverWebhook"]
    assert again["userErrors"] == [] and again["delivery"]["status"] == "PENDING"
    assert receiver.wait_for(lambda rs: len(rs) == 3)
    assert until(lambda: sorted(statuses()) == ["DELIVERED", "FAILED"]), statuses()
    page = gql(DELIVERIES, {"c": again["position"], "f": 1}, as_user="admin")
    first = page["data"]["webhookDeliveries"]
    assert first["pageInfo"]["hasNextPage"] and len(first["nodes"]) == 1
    rest = gql(DELIVERIES, {"f": 5, "a": first["pageInfo"]["endCursor"]}, as_user="admin")
    positions = [
        n["eventPosition"] for n in first["nodes"] + rest["data"]["webhookDeliveries"]["nodes"]
    ]
    assert positions == sorted(positions, reverse=True) and len(positions) == 2
    delivered = next(n for n in nodes() if n["type"] == "MailboxRegistered")
    refused = gql(
        "mutation($id: ID!) { redeliverWebhook(id: $id) { delivery { id } userErrors { code } } }",
        {"id": delivered["webhookDeliveries"][0]["id"]},
        as_user="admin",
    )["data"]["redeliverWebhook"]
    assert refused == {"delivery": None, "userErrors": [{"code": "NOT_REDELIVERABLE"}]}
    feed = gql(
        "{ events(first: 100) { nodes { type webhookDeliveries { status } } } }", as_user="auditor"
    )["data"]["events"]["nodes"]
    assert {"status": "DELIVERED"} in next(n for n in feed if n["type"] == "MailboxRegistered")[
        "webhookDeliveries"
    ]
    metrics = gql.client.get("/metrics").text
    assert f'spoa_webhook_deliveries{{endpoint="{endpoint_id}",status="FAILED"}}' in metrics
    assert (
        f'spoa_webhook_attempts_total{{endpoint="{endpoint_id}",outcome="delivered"}} 1.0'
        in metrics
    )
    assert "spoa_webhook_delivery_latency_seconds_bucket" in metrics
