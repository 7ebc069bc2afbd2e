"""A live socket holds only while its session does: a missing or invalid token is refused at
connection_init, and a socket is closed (4403) when its account is disabled, its role changes,
its session is ended or revoked, or its token expires."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from domain.access.account import account_id_for
from infra.bootstrap import Container
from infra.tokens import JwtTokenService, SystemClock
from tests.conftest import TEST_SECRET
from tests.e2e.live_helpers import following, socket, submitted, update_of
from tests.helpers import GraphQL

DISABLE = "mutation($id: ID!) { disableAccount(id: $id) { userErrors { code } } }"
ROLE = (
    "mutation($id: ID!) { changeAccountRole(id: $id, role: PROVINCE_AGENT, province: BJ) {"
    " userErrors { code } } }"
)
REVOKE = "mutation($id: ID!) { revokeSessions(accountId: $id) { userErrors { code } } }"


def _id(username: str) -> str:
    return str(account_id_for(username))


def test_no_token_or_a_bad_one_is_refused(client: TestClient, gql: GraphQL) -> None:
    for token in (None, "not-a-token"):
        with socket(client) as ws:
            ws.session.send_json(
                {
                    "type": "connection_init",
                    "payload": {} if token is None else {"Authorization": f"Bearer {token}"},
                }
            )
            assert ws.close_code() == 4403
    with socket(client) as ws:  # a token as a header of the handshake is not how it goes
        ws.subscribe("1", "{ me { username } }")
        assert ws.close_code() == 4401


def test_disabled_mid_stream_is_closed(client: TestClient, gql: GraphQL) -> None:
    with following(client, gql.login("gd.agent")) as ws:
        submitted(gql, "gd.agent", "before")
        assert update_of(ws.next())["type"] == "TicketDrafted"
        gql(DISABLE, {"id": _id("gd.agent")}, as_user="admin")
        assert ws.close_code() == 4403


def test_logout_closes_the_sockets_of_that_session(client: TestClient, gql: GraphQL) -> None:
    token = gql.login("gd.agent")
    with following(client, token) as ws:
        assert gql("mutation { logout }", token=token) == {"data": {"logout": True}}
        assert ws.close_code() == 4403


def test_logout_sent_over_the_socket_closes_it(client: TestClient, gql: GraphQL) -> None:
    with following(client, gql.login("gd.agent"), "mutation { logout }") as ws:
        assert ws.next() == {"data": {"logout": True}}
        assert ws.close_code() == 4403


def test_revoked_sessions_and_a_changed_role_close_the_socket(
    client: TestClient, gql: GraphQL
) -> None:
    with following(client, gql.login("second")) as ws:
        gql(REVOKE, {"id": _id("second")}, as_user="admin")
        assert ws.close_code() == 4403
    with following(client, gql.login("gd.agent")) as ws:
        gql(ROLE, {"id": _id("gd.agent")}, as_user="admin")
        assert ws.close_code() == 4403


def test_an_expired_token_closes_the_socket(
    client: TestClient, gql: GraphQL, container: Container
) -> None:
    gql.login("gd.agent")
    account = container.access.me(container.access.authenticate(gql.tokens["gd.agent"]))
    short = JwtTokenService(TEST_SECRET, timedelta(seconds=1), SystemClock())
    token, _ = short.issue(account.id, account.security_stamp)
    with following(client, token) as ws:
        assert ws.close_code() == 4403
