"""Second line's queue over HTTP: claim, assign and unassign return the ticket with its
assignee and a position the list reads its own writes at; ASSIGNED_TO_OTHER and
INVALID_ASSIGNEE are userErrors that change nothing; a stale expectedVersion is
VERSION_CONFLICT; the queue's filters; another agent's draft is null to the province."""

from __future__ import annotations

from typing import Any

from domain.access.account import account_id_for
from domain.access.permissions import Role
from infra.bootstrap import Container
from tests.helpers import PASSWORD, GraphQL, error_codes

FIELDS = "id status version assignee { username role } createdBy { username }"
PAYLOAD = "{ ticket { " + FIELDS + " } position userErrors { code field } }"
QUEUE = (
    "query($f: TicketFilter, $p: Int) { tickets(filter: $f, consistentWith: $p) {"
    " totalCount nodes { title assignee { username } } } }"
)


def submit(gql: GraphQL, title: str, user: str = "gd.agent") -> str:
    drafted = gql(
        "mutation($t: String!) { saveTicketDraft(input: {title: $t, body: '登录失败',"
        " category: COMPLAINT, priority: HIGH}) { ticket { id } } }".replace("'", '"'),
        {"t": title},
        as_user=user,
    )
    ticket_id: str = drafted["data"]["saveTicketDraft"]["ticket"]["id"]
    submitted = gql(
        "mutation($id: ID!) { submitTicket(id: $id) { userErrors { code } } }",
        {"id": ticket_id},
        as_user=user,
    )
    assert submitted["data"]["submitTicket"]["userErrors"] == []
    return ticket_id


def call(gql: GraphQL, user: str, mutation: str, args: str, **variables: Any) -> dict[str, Any]:
    declared = ", ".join(f"${k}: {'Int' if k == 'v' else 'ID!'}" for k in variables)
    result = gql(
        f"mutation({declared}) {{ {mutation}({args}) {PAYLOAD} }}", variables, as_user=user
    )
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"][mutation]
    return payload


def test_the_queue_over_http(gql: GraphQL, container: Container) -> None:
    ticket_id = submit(gql, "网页版无法登录")
    claimed = call(gql, "second", "claimTicket", "id: $id", id=ticket_id)
    assert claimed["userErrors"] == []
    assert claimed["ticket"]["assignee"] == {"username": "second", "role": "SECOND_LINE_AGENT"}
    mine = gql(QUEUE, {"f": {"mine": True}, "p": claimed["position"]}, as_user="second")
    assert mine["data"]["tickets"] == {
        "totalCount": 1,
        "nodes": [{"title": "网页版无法登录", "assignee": {"username": "second"}}],
    }
    queue = gql(QUEUE, {"f": {"unassigned": True}, "p": claimed["position"]}, as_user="second")
    assert queue["data"]["tickets"]["totalCount"] == 0

    # Someone else's ticket: another agent's answer is refused and stores nothing; a
    # SUPER_ADMIN's is taken.
    container.access.create_account(
        None,
        username="second.two",
        display_name="Second Two",
        role=Role.SECOND_LINE_AGENT,
        province=None,
        initial_password=PASSWORD,
    )
    answer = 'mutation($id: ID!) { answerTicket(id: $id, body: "我来") { userErrors { code } } }'
    gql.login("second.two")
    head = container.core_log.head()
    other = gql(answer, {"id": ticket_id}, as_user="second.two")
    assert other["data"]["answerTicket"]["userErrors"] == [{"code": "ASSIGNED_TO_OTHER"}]
    assert container.core_log.head() == head
    taken = gql(answer, {"id": ticket_id}, as_user="admin")
    assert taken["data"]["answerTicket"]["userErrors"] == []

    second_id = submit(gql, "短信提醒失效")
    call(gql, "second", "claimTicket", "id: $id", id=second_id)
    admin_takes = call(gql, "admin", "claimTicket", "id: $id", id=second_id)
    assert admin_takes["ticket"]["assignee"]["username"] == "admin"
    refused = call(gql, "second", "claimTicket", "id: $id", id=second_id)
    assert refused == {"ticket": None, "position": None, "userErrors": [
        {"code": "ASSIGNED_TO_OTHER", "field": ["id"]}]}  # fmt: skip

    freed = call(gql, "admin", "unassignTicket", "id: $id", id=second_id)
    assert freed["ticket"]["assignee"] is None
    version = freed["ticket"]["version"]
    stale = call(gql, "second", "claimTicket", "id: $id, expectedVersion: $v", id=second_id,
                 v=version - 1)  # fmt: skip
    assert [e["code"] for e in stale["userErrors"]] == ["VERSION_CONFLICT"]
    to = str(account_id_for("second"))
    given = call(gql, "second", "assignTicket", "id: $id, assigneeId: $to, expectedVersion: $v",
                 id=second_id, to=to, v=version)  # fmt: skip
    assert given["ticket"]["assignee"]["username"] == "second"
    held = gql(QUEUE, {"f": {"assignee": to}, "p": given["position"]}, as_user="viewer")
    # Both are second's: an answered ticket keeps its holder for when it comes back.
    assert held["data"]["tickets"]["totalCount"] == 2


def test_assigning_needs_an_enabled_second_line_agent(gql: GraphQL) -> None:
    ticket_id = submit(gql, "附件无法下载")
    for who in ("viewer", "gd.agent", "admin"):
        result = call(gql, "admin", "assignTicket", "id: $id, assigneeId: $to", id=ticket_id,
                      to=str(account_id_for(who)))  # fmt: skip
        assert result["userErrors"] == [{"code": "INVALID_ASSIGNEE", "field": ["assigneeId"]}]
    bad = gql(
        'mutation($id: ID!) { assignTicket(id: $id, assigneeId: "nobody") { position } }',
        {"id": ticket_id},
        as_user="admin",
    )
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    forbidden = gql(
        'mutation($id: ID!) { claimTicket(id: $id) { position } }', {"id": ticket_id},
        as_user="gd.agent",
    )  # fmt: skip
    assert error_codes(forbidden) == ["FORBIDDEN"]


def test_another_agents_draft_is_null_and_unlisted(gql: GraphQL, container: Container) -> None:
    drafted = gql(
        'mutation { saveTicketDraft(input: {title: "只给自己看", body: "b", category: FAULT,'
        " priority: LOW}) { ticket { id } position } }",
        as_user="gd.agent",
    )["data"]["saveTicketDraft"]
    ticket_id, position = drafted["ticket"]["id"], drafted["position"]
    read = "query($id: ID!) { ticket(id: $id) { title } }"
    listed = "query($p: Int) { tickets(consistentWith: $p) { totalCount } }"
    for user, sees in (("gd.agent", True), ("admin", True), ("gd.viewer", False)):
        found = gql(read, {"id": ticket_id}, as_user=user)["data"]["ticket"]
        assert (found is not None) is sees, user
        count = gql(listed, {"p": position}, as_user=user)["data"]["tickets"]["totalCount"]
        assert count == int(sees), user
    audited = gql(read, {"id": ticket_id}, as_user="auditor")["data"]["ticket"]
    assert audited == {"title": "只给自己看"}
