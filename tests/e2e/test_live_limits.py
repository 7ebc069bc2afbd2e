"""What bounds a live socket: browser origins, sockets per account, operations per socket,
the request limits on every operation sent over it, the protocol's own rules, and a client
that does not read (disconnected, not buffered without bound: over a real server's TCP)."""

from __future__ import annotations

import json
import socket as sockets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from api.app import create_app
from application.support.tickets import TicketCategory, TicketPriority
from domain.access.account import account_id_for
from infra.bootstrap import Container
from tests.conftest import make_settings
from tests.e2e.live_helpers import PROTOCOL, TICKET_UPDATES, following, socket
from tests.helpers import PASSWORD, GraphQL, error_codes, seed_accounts

COSTLY = (
    "subscription { ticketUpdates { "
    + " ".join(f"a{n}: ticket {{ history(first: 500) {{ nodes {{ type }} }} }}" for n in range(20))
    + " } }"
)


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[TestClient, GraphQL, Container]]:
    settings = make_settings(
        database_url,
        ws_allowed_origins="https://desk.example.cn",
        ws_max_per_account=2,
        ws_max_operations=2,
    )
    container = Container(settings, database_url)
    seed_accounts(container)
    try:
        with TestClient(create_app(container, run_projections=True)) as client:
            yield client, GraphQL(client), container
    finally:
        container.close()


def test_browser_origins_are_limited(world: tuple[TestClient, GraphQL, Container]) -> None:
    client, gql, _ = world
    token = gql.login("gd.agent")
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        socket(client, origin="https://evil.example"),
    ):
        pass
    assert refused.value.code == 1008
    # Listed, the server's own (GraphiQL) and none (not a browser) are let in.
    for origin in ({"origin": "https://desk.example.cn"}, {"origin": "http://testserver"}, {}):
        with socket(client, **origin) as ws:
            assert ws.init(token) == {"type": "connection_ack"}


def test_sockets_per_account_are_limited(world: tuple[TestClient, GraphQL, Container]) -> None:
    client, gql, _ = world
    token = gql.login("gd.agent")
    with following(client, token), following(client, token):
        with socket(client) as third:
            third.session.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            )
            assert third.close_code() == 4429
        with following(client, gql.login("bj.agent")):  # another account has its own count
            pass
    with following(client, token):  # the two closed: room again
        pass


def test_operations_per_socket_are_limited(world: tuple[TestClient, GraphQL, Container]) -> None:
    client, gql, _ = world
    with following(client, gql.login("gd.agent")) as ws:
        ws.subscribe("2", TICKET_UPDATES)
        ws.subscribe("3", TICKET_UPDATES)
        refused = ws.receive()
    assert (refused["id"], refused["type"]) == ("3", "error")
    assert refused["payload"][0]["extensions"] == {"code": "RATE_LIMITED", "limit": 2}


def test_a_costly_subscription_is_refused(world: tuple[TestClient, GraphQL, Container]) -> None:
    client, gql, _ = world
    too_many_aliases = (
        "subscription { ticketUpdates { " + " ".join(f"a{n}: position" for n in range(31)) + " } }"
    )
    with following(client, gql.login("second"), COSTLY) as ws:
        costly = ws.receive()
        ws.subscribe("2", too_many_aliases)
        aliased = ws.receive()
    assert (costly["id"], costly["type"]) == ("1", "error")
    assert error_codes({"errors": costly["payload"]}) == ["QUERY_TOO_COSTLY"]
    assert costly["payload"][0]["extensions"]["limit"] == 10_000
    assert (aliased["id"], aliased["type"]) == ("2", "error")
    assert error_codes({"errors": aliased["payload"]}) == ["BAD_USER_INPUT"]


def test_the_protocol_is_kept(world: tuple[TestClient, GraphQL, Container]) -> None:
    client, gql, _ = world
    token = gql.login("gd.agent")
    with client.websocket_connect("/graphql") as plain:  # no graphql-transport-ws
        with pytest.raises(WebSocketDisconnect) as closed:
            plain.receive_json()
        assert closed.value.code == 4406
    with following(client, token) as ws:
        ws.session.send_json({"type": "ping"})
        assert ws.receive() == {"type": "pong"}
        ws.subscribe("1", TICKET_UPDATES)  # its id is in use
        assert ws.close_code() == 4409
    with following(client, token) as ws:
        ws.session.send_json({"type": "connection_init", "payload": {}})
        assert ws.close_code() == 4429
    with following(client, token) as ws:
        ws.session.send_text("not json")
        assert ws.close_code() == 4400


@contextmanager
def served(app: FastAPI) -> Iterator[int]:
    """The app on a real uvicorn server on a free 127.0.0.1 port, in a thread."""
    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)


def test_a_consumer_that_does_not_read_is_disconnected(database_url: str) -> None:
    settings = make_settings(database_url, ws_queue_messages=2)
    container = Container(settings, database_url)
    try:
        agent = seed_accounts(container)["gd.agent"]
        app = create_app(container, run_projections=True)
        with served(app) as port:
            token = _token(container, "gd.agent")
            # Each update is large (the draft's 10,000 characters, 20 times): the socket's
            # buffers fill after a few, then the queue of 2, then the server lets it go.
            big = " ".join(f"b{n}: ticket {{ entries {{ body }} }}" for n in range(20))
            tiny = sockets.socket()
            tiny.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
            tiny.connect(("127.0.0.1", port))
            uri = f"ws://127.0.0.1:{port}/graphql"
            with connect(
                uri, sock=tiny, subprotocols=[PROTOCOL], max_queue=1, compression=None
            ) as ws:  # type: ignore[arg-type]
                ws.send(
                    _json(
                        {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                    )
                )
                assert "connection_ack" in str(ws.recv(timeout=10))
                ws.send(
                    _json(
                        {
                            "id": "1",
                            "type": "subscribe",
                            "payload": {"query": "subscription { ticketUpdates { " + big + " } }"},
                        }
                    )
                )
                time.sleep(0.5)
                hub: Any = app.state.live
                assert hub.sockets_of(account_id_for("gd.agent")) == 1
                ticket_id = None
                for n in range(40):
                    result = container.tickets.save_draft(
                        agent,
                        ticket_id=ticket_id,
                        title=f"edit {n}",
                        body="問" * 10_000,
                        category=TicketCategory.FAULT,
                        priority=TicketPriority.LOW,
                    )
                    ticket_id = result.ticket.id
                    if hub.sockets_of(account_id_for("gd.agent")) == 0:
                        break
                    time.sleep(0.1)
                deadline = time.monotonic() + 20
                while hub.sockets_of(account_id_for("gd.agent")) and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert hub.sockets_of(account_id_for("gd.agent")) == 0
                with pytest.raises(ConnectionClosed):
                    while True:
                        ws.recv(timeout=20)
    finally:
        container.close()


def _token(container: Container, username: str) -> str:
    return container.access.login(username, PASSWORD).token


def _json(value: Any) -> str:
    return json.dumps(value)


def test_a_malformed_filter_is_refused(
    world: tuple[TestClient, GraphQL, Container],
) -> None:
    client, gql, _ = world
    with following(client, gql.login("viewer"), variables={"f": {"msisdn": "123"}}) as ws:
        message = ws.receive()
    assert message["type"] == "error"
    assert error_codes({"errors": message["payload"]}) == ["BAD_USER_INPUT"]
