"""GraphQL over a real WebSocket to the app under test (graphql-transport-ws), and the ticket
steps the live-update tests take over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from tests.helpers import GraphQL

PROTOCOL = "graphql-transport-ws"
TICKET_UPDATES = (
    "subscription($f: TicketFilter) { ticketUpdates(filter: $f) {"
    " position type ticket { id province status title version createdBy { username } } } }"
)
DRAFT = (
    'mutation($t: String!, $p: Province) { saveTicketDraft(input: {title: $t, body: "b",'
    " category: COMPLAINT, priority: HIGH, province: $p}) { ticket { id } position"
    " userErrors { code } } }"
)
SUBMIT = "mutation($id: ID!) { submitTicket(id: $id) { position userErrors { code } } }"
ANSWER = (
    'mutation($id: ID!) { answerTicket(id: $id, body: "done") { position userErrors { code } } }'
)


class Socket:
    """One WebSocket session speaking graphql-transport-ws."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session

    def init(self, token: str | None) -> dict[str, Any]:
        payload = {} if token is None else {"Authorization": f"Bearer {token}"}
        self.session.send_json({"type": "connection_init", "payload": payload})
        message: dict[str, Any] = self.session.receive_json()
        return message

    def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        self.session.send_json(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = self.session.receive_json()
        return message

    def next(self, op_id: str = "1") -> dict[str, Any]:
        """The payload of the next message, which must be `next` for `op_id`."""
        message = self.receive()
        assert message["type"] == "next" and message["id"] == op_id, message
        payload: dict[str, Any] = message["payload"]
        return payload

    def close_code(self) -> int:
        """Read on until the server closes the socket; its close code."""
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                self.session.receive_json()
        return int(closed.value.code)


@contextmanager
def socket(client: TestClient, **headers: str) -> Iterator[Socket]:
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as ws:
        yield Socket(ws)


@contextmanager
def following(
    client: TestClient, token: str, query: str = TICKET_UPDATES, variables: Any = None
) -> Iterator[Socket]:
    """A socket, acknowledged, with subscription "1" running."""
    with socket(client) as ws:
        assert ws.init(token) == {"type": "connection_ack"}
        ws.subscribe("1", query, variables)
        yield ws


def draft(gql: GraphQL, user: str, title: str, province: str | None = None) -> tuple[str, int]:
    data = gql(DRAFT, {"t": title, "p": province}, as_user=user)["data"]["saveTicketDraft"]
    assert data["userErrors"] == [], data
    return data["ticket"]["id"], data["position"]


def submit(gql: GraphQL, user: str, ticket_id: str) -> int:
    data = gql(SUBMIT, {"id": ticket_id}, as_user=user)["data"]["submitTicket"]
    assert data["userErrors"] == [], data
    position: int = data["position"]
    return position


def answer(gql: GraphQL, user: str, ticket_id: str) -> int:
    data = gql(ANSWER, {"id": ticket_id}, as_user=user)["data"]["answerTicket"]
    assert data["userErrors"] == [], data
    position: int = data["position"]
    return position


def submitted(gql: GraphQL, user: str, title: str, province: str | None = None) -> str:
    ticket_id, _ = draft(gql, user, title, province)
    submit(gql, user, ticket_id)
    return ticket_id


def update_of(payload: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in payload, payload
    update: dict[str, Any] = payload["data"]["ticketUpdates"]
    return update
