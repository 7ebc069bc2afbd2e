"""The ticket e-flow end to end over HTTP: a province agent drafts and submits, second line
answers, the province resubmits, second line answers again, the province rates; the ticket's
history shows every step and who took it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.helpers import GraphQL, error_codes

SHANGHAI = ZoneInfo("Asia/Shanghai")

FIELDS = """
  id number title category priority province msisdn status version
  createdAt submittedAt answeredAt closedAt dueAt overdue
  createdBy { username }
  entries { kind body at author { username role } }
  archive { resolutionCategory rootCause resolution tags }
  rating { score comment at }
"""
PAYLOAD = "{ ticket { " + FIELDS + " } position userErrors { code message field } }"


def run(gql: GraphQL, user: str, mutation: str, **variables: Any) -> dict[str, Any]:
    name = mutation.split("(", 1)[0].strip()
    signature = ", ".join(f"${k}: {TYPES[k]}" for k in variables)
    arguments = ", ".join(f"{k}: ${k}" for k in variables)
    document = f"mutation({signature}) {{ {name}({arguments}) {PAYLOAD} }}"
    result = gql(document, variables, as_user=user)
    assert not result.get("errors"), result
    payload: dict[str, Any] = result["data"][name]
    return payload


TYPES = {
    "input": "SaveTicketDraftInput!",
    "id": "ID!",
    "body": "String!",
    "score": "Int!",
    "comment": "String",
    "expectedVersion": "Int",
    "rootCause": "String",
    "resolution": "String",
    "tags": "[String!]",
}


def ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["userErrors"] == [], payload
    assert payload["position"] > 0
    ticket: dict[str, Any] = payload["ticket"]
    return ticket


def test_the_e_flow_over_http(gql: GraphQL) -> None:
    new = {
        "title": "邮箱无法登录",
        "body": "",
        "category": "FAULT",
        "priority": "HIGH",
        "msisdn": "13800138000",
    }
    drafted = ok(run(gql, "gd.agent", "saveTicketDraft", input=new))
    tid = drafted["id"]
    assert drafted["status"] == "DRAFT" and drafted["province"] == "GD"
    assert drafted["number"].startswith("GD-DRAFT-") and drafted["dueAt"] is None
    assert drafted["createdBy"]["username"] == "gd.agent"

    # A draft without a body cannot be submitted.
    refused = run(gql, "gd.agent", "submitTicket", id=tid)
    assert refused["ticket"] is None and refused["position"] is None
    assert refused["userErrors"][0]["code"] == "REQUIRED"
    assert refused["userErrors"][0]["field"] == ["body"]

    edited = ok(
        run(
            gql,
            "gd.agent",
            "saveTicketDraft",
            input={**new, "id": tid, "body": "用户反映网页版登录失败", "expectedVersion": 1},
        )
    )
    assert edited["version"] == 2 and edited["entries"][0]["body"] == "用户反映网页版登录失败"

    sent = ok(run(gql, "gd.agent", "submitTicket", id=tid, expectedVersion=2))
    shanghai_day = datetime.fromisoformat(sent["submittedAt"]).astimezone(SHANGHAI)
    assert sent["number"] == f"GD-{shanghai_day:%Y%m%d}-0001"
    assert sent["status"] == "SUBMITTED" and sent["dueAt"] is not None and not sent["overdue"]

    stale = run(gql, "second", "answerTicket", id=tid, body="请清除缓存", expectedVersion=2)
    assert [e["code"] for e in stale["userErrors"]] == ["VERSION_CONFLICT"]
    answered = ok(run(gql, "second", "answerTicket", id=tid, body="请清除浏览器缓存后重试"))
    assert answered["status"] == "ANSWERED" and answered["dueAt"] is None

    wrong = run(gql, "gd.agent", "submitTicket", id=tid)
    assert wrong["userErrors"][0]["code"] == "INVALID_TRANSITION"
    assert "ANSWERED" in wrong["userErrors"][0]["message"]

    again = ok(run(gql, "gd.agent", "resubmitTicket", id=tid, body="清除缓存后仍然无法登录"))
    assert again["status"] == "RESUBMITTED" and again["dueAt"] is not None
    ok(run(gql, "second", "answerTicket", id=tid, body="已重置会话，请再试"))
    closed = ok(run(gql, "gd.agent", "rateTicket", id=tid, score=5, comment="解决了"))
    assert closed["status"] == "CLOSED" and closed["closedAt"] is not None
    assert closed["rating"]["score"] == 5 and closed["rating"]["comment"] == "解决了"
    archived = run(
        gql, "second", "updateTicketArchive", id=tid, rootCause="会话缓存", tags=["登录"]
    )
    final = ok(archived)
    assert final["archive"] == {
        "resolutionCategory": None,
        "rootCause": "会话缓存",
        "resolution": None,
        "tags": ["登录"],
    }
    assert [(e["kind"], e["author"]["username"]) for e in final["entries"]] == [
        ("SUBMISSION", "gd.agent"),
        ("ANSWER", "second"),
        ("RESUBMISSION", "gd.agent"),
        ("ANSWER", "second"),
        ("RATING", "gd.agent"),
    ]

    history = gql(
        "query($id: ID!) { ticket(id: $id) { history { nodes {"
        " type version position actor { username role province } data } } } }",
        {"id": tid},
        as_user="gd.viewer",
    )["data"]["ticket"]["history"]["nodes"]
    assert [(h["type"], h["actor"]["username"]) for h in history] == [
        ("TicketDrafted", "gd.agent"),
        ("TicketDraftEdited", "gd.agent"),
        ("TicketSubmitted", "gd.agent"),
        ("TicketAnswered", "second"),
        ("TicketResubmitted", "gd.agent"),
        ("TicketAnswered", "second"),
        ("TicketRated", "gd.agent"),
        ("TicketArchiveUpdated", "second"),
    ]
    assert history[0]["actor"] == {
        "username": "gd.agent",
        "role": "PROVINCE_AGENT",
        "province": "GD",
    }
    assert history[2]["data"]["number"] == sent["number"]
    assert [h["version"] for h in history] == list(range(1, 9))
    assert archived["position"] == history[-1]["position"]

    # History in pages.
    page = gql(
        "query($id: ID!, $after: String) { ticket(id: $id) { history(first: 3, after: $after) {"
        " nodes { version } pageInfo { endCursor hasNextPage } } } }",
        {"id": tid},
        as_user="auditor",
    )["data"]["ticket"]["history"]
    assert [n["version"] for n in page["nodes"]] == [1, 2, 3] and page["pageInfo"]["hasNextPage"]
    rest = gql(
        "query($id: ID!, $after: String) { ticket(id: $id) { history(first: 10, after: $after) {"
        " nodes { version } pageInfo { hasNextPage } } } }",
        {"id": tid, "after": page["pageInfo"]["endCursor"]},
        as_user="auditor",
    )["data"]["ticket"]["history"]
    assert [n["version"] for n in rest["nodes"]] == [4, 5, 6, 7, 8]

    # The list reads its own writes and finds the ticket by Chinese words of its entries.
    listed = gql(
        'query($p: Int) { tickets(filter: {text: "重置会话"}, consistentWith: $p) {'
        " totalCount nodes { id status entries { kind } } pageInfo { hasNextPage endCursor } } }",
        {"p": archived["position"]},
        as_user="viewer",
    )["data"]["tickets"]
    assert listed["totalCount"] == 1 and listed["nodes"][0]["id"] == tid
    assert listed["nodes"][0]["status"] == "CLOSED"

    # The ticket as it was before it was answered.
    as_of = gql(
        "query($id: ID!, $at: DateTime!) { ticketAsOf(id: $id, at: $at) { status number } }",
        {"id": tid, "at": sent["submittedAt"]},
        as_user="admin",
    )["data"]["ticketAsOf"]
    assert as_of == {"status": "SUBMITTED", "number": sent["number"]}


def test_inputs_and_errors_over_http(gql: GraphQL) -> None:
    created = gql(
        'mutation { saveTicketDraft(input: {title: "t", body: "b", category: OTHER,'
        ' priority: LOW, msisdn: "123"}) { ticket { id } userErrors { code field } } }',
        as_user="gd.agent",
    )["data"]["saveTicketDraft"]
    assert created["userErrors"] == [{"code": "INVALID_MSISDN", "field": ["msisdn"]}]
    assert error_codes(gql('{ ticket(id: "not-an-id") { id } }', as_user="admin")) == [
        "BAD_USER_INPUT"
    ]
    assert error_codes(gql('{ tickets(after: "forged") { totalCount } }', as_user="admin")) == [
        "BAD_USER_INPUT"
    ]
    assert error_codes(
        gql('{ tickets(filter: {province: "XX"}) { totalCount } }', as_user="admin")
    ) == ["BAD_USER_INPUT"]
    assert error_codes(gql("{ tickets { totalCount } }")) == ["UNAUTHENTICATED"]
    nobody = gql('{ ticket(id: "00000000-0000-0000-0000-000000000000") { id } }', as_user="viewer")
    assert nobody == {"data": {"ticket": None}}


def test_archive_arguments_left_out_are_kept_and_nulls_clear(gql: GraphQL) -> None:
    created = gql(
        'mutation { saveTicketDraft(input: {title: "存档", body: "b", category: OTHER,'
        " priority: LOW}) { ticket { id } } }",
        as_user="gd.agent",
    )["data"]["saveTicketDraft"]["ticket"]["id"]
    gql("mutation($id: ID!) { submitTicket(id: $id) { position } }", {"id": created}, "gd.agent")
    archive = (
        "mutation($id: ID!) { updateTicketArchive(id: $id, %s) { ticket { archive {"
        " resolutionCategory rootCause resolution tags } } userErrors { code } } }"
    )
    first = gql(
        archive % 'rootCause: "缓存", resolution: "重置", tags: ["登录"]', {"id": created}, "second"
    )["data"]["updateTicketArchive"]["ticket"]["archive"]
    assert first == {
        "resolutionCategory": None,
        "rootCause": "缓存",
        "resolution": "重置",
        "tags": ["登录"],
    }
    second = gql(archive % "rootCause: null", {"id": created}, "second")["data"][
        "updateTicketArchive"
    ]["ticket"]["archive"]
    assert second == {**first, "rootCause": None}
    unchanged = gql(archive % 'resolution: "重置"', {"id": created}, "second")["data"][
        "updateTicketArchive"
    ]
    assert unchanged["userErrors"] == [{"code": "NO_CHANGE"}]
