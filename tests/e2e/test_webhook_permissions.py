"""Every webhook operation × every role, over HTTP, per permissions.md: allowed does its job;
forbidden is FORBIDDEN with no data and not a single event stored; no session is
UNAUTHENTICATED."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from application.webhooks.endpoints import EndpointInput
from tests.e2e.access_world import ROLE_USERS, World, open_world
from tests.helpers import error_codes
from tests.permissions_doc import allowed, permission_rows


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


_numbers = itertools.count(1)


def an_endpoint(w: World, enabled: bool = True) -> str:
    data = EndpointInput("https://boss.example/hooks", ["Subscriber.*"], "matrix")
    endpoint = w.container.webhook_endpoints.create(w.admin, data).endpoint.id
    if not enabled:
        w.container.webhook_endpoints.disable(w.admin, endpoint)
    return str(endpoint)


def a_failed_delivery(w: World) -> str:
    an_endpoint(w)
    msisdn = f"1390000{next(_numbers):04d}"
    position = w.container.subscribers.register(w.admin, msisdn, "GD", "FREE").position
    w.container.engine.catch_up("webhooks")
    with w.container.read_pool.connection() as conn:
        row = conn.execute(
            "UPDATE webhook_deliveries SET status = 'FAILED', attempts = 1"
            " WHERE position = %s RETURNING id",
            (position,),
        ).fetchone()
    assert row is not None
    return str(row[0])


@dataclass(frozen=True)
class Call:
    document: str
    variables: dict[str, Any]
    field: str
    writes: bool = False


def endpoint_mutation(name: str, enabled: bool = True) -> Callable[[World], Call]:
    def call(w: World) -> Call:
        return Call(
            f"mutation($id: ID!) {{ {name}(id: $id) {{ endpoint {{ id }} position"
            " userErrors { code } } }",
            {"id": an_endpoint(w, enabled)},
            name,
            writes=True,
        )

    return call


OPERATIONS: dict[str, Callable[[World], Call]] = {
    "webhookEndpoints": lambda w: Call("{ webhookEndpoints { id url } }", {}, "webhookEndpoints"),
    "webhookDeliveries": lambda w: Call(
        "{ webhookDeliveries(first: 5) { nodes { id status } pageInfo { hasNextPage } } }",
        {},
        "webhookDeliveries",
    ),
    "createWebhookEndpoint": lambda w: Call(
        "mutation($in: WebhookEndpointInput!) { createWebhookEndpoint(input: $in) {"
        " endpoint { id } secret position userErrors { code } } }",
        {"in": {"url": "https://boss.example/h", "eventTypes": ["Ticket.*"]}},
        "createWebhookEndpoint",
        writes=True,
    ),
    "updateWebhookEndpoint": lambda w: Call(
        "mutation($id: ID!, $in: WebhookEndpointInput!) { updateWebhookEndpoint(id: $id,"
        " input: $in) { endpoint { id } position userErrors { code } } }",
        {"id": an_endpoint(w), "in": {"url": "https://boss.example/v2", "eventTypes": ["Faq.*"]}},
        "updateWebhookEndpoint",
        writes=True,
    ),
    "disableWebhookEndpoint": endpoint_mutation("disableWebhookEndpoint"),
    "enableWebhookEndpoint": endpoint_mutation("enableWebhookEndpoint", enabled=False),
    "rotateWebhookSecret": endpoint_mutation("rotateWebhookSecret"),
    "redeliverWebhook": lambda w: Call(
        "mutation($id: ID!) { redeliverWebhook(id: $id) { delivery { id status } position"
        " userErrors { code } } }",
        {"id": a_failed_delivery(w)},
        "redeliverWebhook",
        writes=True,
    ),
}


def test_the_matrix_covers_every_webhook_row_of_the_document() -> None:
    _, rows = permission_rows()
    documented = {op for operations, _ in rows for op in operations if "ebhook" in op}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize("role", list(ROLE_USERS))
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_webhook_operation_by_role(world: World, operation: str, role: str) -> None:
    call = OPERATIONS[operation](world)
    user = ROLE_USERS[role]
    world.gql.tokens.get(user) or world.gql.login(user)
    before = world.head()
    result = world.gql(call.document, call.variables, as_user=user)
    if allowed(operation, role):
        assert "errors" not in result, result
        payload = result["data"][call.field]
        if call.writes:
            assert payload["userErrors"] == [] and payload["position"] > before
        else:
            assert payload is not None
        return
    assert error_codes(result) == ["FORBIDDEN"], result
    assert result["data"] is None or set(result["data"].values()) == {None}, result
    assert world.head() == before, "a forbidden request stored events"


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_every_webhook_operation_needs_a_session(world: World, operation: str) -> None:
    call = OPERATIONS[operation](world)
    before = world.head()
    assert error_codes(world.gql(call.document, call.variables)) == ["UNAUTHENTICATED"]
    assert world.head() == before
