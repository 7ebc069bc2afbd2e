"""Live updates over a real WebSocket to the app (graphql-transport-ws): who hears which ticket
and announcement changes, that a follow-up query at the update's position is consistent, and
that each update's selection is executed once per document and caller scope."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from domain.access.permissions import Role
from infra.bootstrap import Container
from tests.e2e.live_helpers import (
    answer,
    draft,
    following,
    submit,
    submitted,
    update_of,
)
from tests.helpers import PASSWORD, GraphQL, error_codes

ANNOUNCEMENTS = (
    "subscription { announcementUpdates { position type announcement { title provinces status } } }"
)
PUBLISH = (
    "mutation($t: String!, $p: [Province!]) { publishAnnouncement(input: {title: $t,"
    ' body: "b", severity: WARNING, provinces: $p}) { announcement { id } position } }'
)
WITHDRAW = "mutation($id: ID!) { withdrawAnnouncement(id: $id) { position } }"


def test_a_gd_agent_hears_its_provinces_ticket_changes_and_not_bjs(
    client: TestClient, gql: GraphQL
) -> None:
    with following(client, gql.login("gd.agent")) as ws:
        # BJ's changes come first in the log: had the agent heard them, they would come first.
        submitted(gql, "bj.agent", "a BJ problem")
        ticket_id, drafted_at = draft(gql, "gd.agent", "a GD problem")
        update = update_of(ws.next())
        assert update["type"] == "TicketDrafted"
        assert update["ticket"]["id"] == ticket_id
        assert update["ticket"]["province"] == "GD"
        assert update["position"] <= drafted_at
        submit(gql, "gd.agent", ticket_id)
        changes = [update_of(ws.next())]
        answer(gql, "second", ticket_id)
        changes.append(update_of(ws.next()))
        assert [c["type"] for c in changes] == ["TicketSubmitted", "TicketAnswered"]
        assert [c["ticket"]["status"] for c in changes] == ["SUBMITTED", "ANSWERED"]
        assert changes[1]["ticket"]["createdBy"] == {"username": "gd.agent"}
        assert changes[0]["position"] < changes[1]["position"]


def test_a_filter_shows_what_the_list_would_show(client: TestClient, gql: GraphQL) -> None:
    wanted = {"f": {"province": "BJ", "status": ["ANSWERED"]}}
    with following(client, gql.login("second"), variables=wanted) as ws:
        gd_ticket = submitted(gql, "gd.agent", "GD")
        answer(gql, "second", gd_ticket)
        bj_ticket = submitted(gql, "bj.agent", "BJ")
        answer(gql, "second", bj_ticket)
        updates = [update_of(ws.next())]
        while updates[-1]["type"] != "TicketAnswered":
            updates.append(update_of(ws.next()))
    # Changes the read model applied in one step all show the ticket after the last: the
    # submission shows (and is sent) only when it arrived with the answer.
    assert {(u["ticket"]["id"], u["ticket"]["status"]) for u in updates} == {
        (bj_ticket, "ANSWERED")
    }


def test_a_follow_up_query_at_the_updates_position_is_consistent(
    client: TestClient, gql: GraphQL
) -> None:
    with following(client, gql.login("gd.agent"), variables={"f": {"status": ["ANSWERED"]}}) as ws:
        ticket_id = submitted(gql, "gd.agent", "answer me")
        answer(gql, "second", ticket_id)
        update = update_of(ws.next())
    listed = gql(
        "query($p: Int!) { tickets(filter: {status: [ANSWERED]}, consistentWith: $p) {"
        " nodes { id status version } } }",
        {"p": update["position"]},
        as_user="gd.agent",
    )["data"]["tickets"]["nodes"]
    assert {"id": ticket_id, "status": "ANSWERED", "version": update["ticket"]["version"]} in (
        listed
    )


def test_a_province_agent_may_not_follow_another_province(client: TestClient, gql: GraphQL) -> None:
    with following(client, gql.login("gd.agent"), variables={"f": {"province": "BJ"}}) as ws:
        message = ws.receive()
    assert message["type"] == "error" and message["id"] == "1"
    assert [e["extensions"]["code"] for e in message["payload"]] == ["FORBIDDEN"]


def test_a_role_without_ticket_reads_may_not_follow_tickets(
    client: TestClient, gql: GraphQL
) -> None:
    with following(client, gql.login("platform")) as ws:
        message = ws.receive()
    assert message["type"] == "error"
    assert [e["extensions"]["code"] for e in message["payload"]] == ["FORBIDDEN"]


def test_announcements_reach_the_callers_audience(client: TestClient, gql: GraphQL) -> None:
    with following(client, gql.login("gd.agent"), ANNOUNCEMENTS) as ws:
        gql(PUBLISH, {"t": "BJ only", "p": ["BJ"]}, as_user="admin")
        published = gql(PUBLISH, {"t": "for GD", "p": ["GD"]}, as_user="admin")["data"]
        announcement_id = published["publishAnnouncement"]["announcement"]["id"]
        gql(WITHDRAW, {"id": announcement_id}, as_user="admin")
        first, second = (ws.next()["data"]["announcementUpdates"] for _ in range(2))
    assert (first["type"], first["announcement"]["title"]) == ("AnnouncementPublished", "for GD")
    assert (second["type"], second["announcement"]["status"]) == (
        "AnnouncementWithdrawn",
        "WITHDRAWN",
    )


def test_each_update_is_executed_once_per_document_and_scope(
    client: TestClient, gql: GraphQL, container: Container
) -> None:
    container.access.create_account(
        None,
        username="gd.agent2",
        display_name="GD 2",
        role=Role.PROVINCE_AGENT,
        province="GD",
        initial_password=PASSWORD,
    )
    hub: Any = client.app.state.live  # type: ignore[attr-defined]
    executed: list[tuple[int, dict[str, Any]]] = []
    execute = hub._execute

    async def counted(document: Any, context: Any, root: Any) -> str:
        executed.append((root.position, document.variables))
        return str(await execute(document, context, root))

    hub._execute = counted
    same, overdue = {"f": {"status": ["SUBMITTED"]}}, {"f": {"overdue": False}}
    with (
        following(client, gql.login("gd.agent"), variables=same) as first,
        following(client, gql.login("gd.agent2"), variables=same) as second,
        following(client, gql.login("bj.agent"), variables=same) as other_province,
        following(client, gql.login("gd.agent"), variables=overdue) as other,
    ):
        ticket_id, _ = draft(gql, "gd.agent", "once")
        assert update_of(other.next())["type"] == "TicketDrafted"
        submit(gql, "gd.agent", ticket_id)
        seen = [update_of(ws.next()) for ws in (first, second, other)]
        assert {(u["type"], u["ticket"]["id"]) for u in seen} == {("TicketSubmitted", ticket_id)}
        bj_ticket = submitted(gql, "bj.agent", "BJ")
        assert update_of(other_province.next())["ticket"]["id"] == bj_ticket
    # The GD submission: executed once for both GD agents' document, once for the other one;
    # the BJ agent shares the document but not the scope, and does not see the GD ticket.
    at_submission = [
        variables for position, variables in executed if position == seen[0]["position"]
    ]
    assert sorted(map(str, at_submission)) == sorted(map(str, [same, overdue]))


def test_queries_and_mutations_run_over_the_socket_too(client: TestClient, gql: GraphQL) -> None:
    with following(client, gql.login("gd.agent"), "{ me { username } }") as ws:
        assert ws.next() == {"data": {"me": {"username": "gd.agent"}}}
        assert ws.receive() == {"id": "1", "type": "complete"}
        ws.subscribe("2", "{ ticket(id: 1) { id } }")
        answered = ws.next("2")  # a field error: the data (null) and the error
        assert ws.receive() == {"id": "2", "type": "complete"}
        ws.subscribe("3", "{ me { nope } }")
        refused = ws.receive()  # refused before it ran: an error message
    assert answered["data"] == {"ticket": None}
    assert error_codes(answered) == ["BAD_USER_INPUT"]
    assert (refused["id"], refused["type"]) == ("3", "error")
    assert error_codes({"errors": refused["payload"]}) == ["BAD_USER_INPUT"]
