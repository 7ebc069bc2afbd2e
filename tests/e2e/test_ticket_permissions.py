"""Every ticket and announcement operation × every role, over HTTP, driven by permissions.md,
against a ticket of the caller's province and one of another province.

Allowed: the operation does its job. Forbidden: a GraphQL error FORBIDDEN, no data, and not
a single event stored. Lists are never FORBIDDEN for a province-scoped reader: they are
filtered to the reader's province, counts included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from application.subscribers.commands import ChangeContext
from application.support.announcements import AnnouncementInput
from domain.support.values import AnnouncementSeverity, TicketCategory, TicketPriority
from tests.e2e.access_world import World, open_world
from tests.helpers import ROLE_ACCOUNTS, error_codes
from tests.integration.support_helpers import draft, submitted
from tests.permissions_doc import marks_for

USERS = list(ROLE_ACCOUNTS)
TARGETS = ["GD", "BJ"]


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


def may(operation: str, user: str, province: str) -> bool:
    """permissions.md's answer for `user` acting on something of `province`."""
    role, own = ROLE_ACCOUNTS[user]
    mark = marks_for(operation)[role.value]
    if mark == "Y":
        return True
    if mark == "P/Y" and own is None:
        return True
    if mark in ("P", "P/Y"):
        return own == province
    return False


# ------------------------------------------------------------------ ticket fixtures (by admin)
def new_draft(w: World, province: str) -> UUID:
    result = w.container.tickets.save_draft(
        w.admin,
        ticket_id=None,
        title="权限测试",
        body="权限矩阵",
        category=TicketCategory.OTHER,
        priority=TicketPriority.LOW,
        province=province,
    )
    assert result.ticket is not None
    return result.ticket.id


def new_submitted(w: World, province: str) -> UUID:
    ticket_id = new_draft(w, province)
    w.container.tickets.submit(w.admin, ticket_id)
    return ticket_id


def new_answered(w: World, province: str) -> UUID:
    ticket_id = new_submitted(w, province)
    w.container.tickets.answer(w.admin, ticket_id, "答复")
    return ticket_id


def new_announcement(w: World) -> UUID:
    data = AnnouncementInput(title="公告", body="内容", severity=AnnouncementSeverity.INFO)
    return w.container.announcements.publish(w.admin, data).announcement.id


@dataclass(frozen=True)
class Call:
    document: str
    variables: dict[str, Any]
    field: str
    succeeded: Callable[[Any], bool]


TICKET_FIELDS = "id number status province"
PAYLOAD = "{ ticket { " + TICKET_FIELDS + " } position userErrors { code message } }"


def ok_payload(key: str, ticket: bool = True) -> Callable[[Any], bool]:
    def check(data: Any) -> bool:
        payload = data[key]
        return bool(
            payload["userErrors"] == []
            and payload["position"]
            and ((payload["ticket"] is not None) == ticket)
        )

    return check


def op_ticket(w: World, province: str) -> Call:
    tid = str(new_submitted(w, province))
    return Call(
        "query($id: ID!) { ticket(id: $id) { " + TICKET_FIELDS + " } }",
        {"id": tid},
        "ticket",
        lambda d: d["ticket"]["id"] == tid,
    )


def op_ticket_as_of(w: World, province: str) -> Call:
    tid = str(new_submitted(w, province))
    return Call(
        "query($id: ID!, $at: DateTime!) { ticketAsOf(id: $id, at: $at) { id status } }",
        {"id": tid, "at": datetime.now(UTC).isoformat()},
        "ticketAsOf",
        lambda d: d["ticketAsOf"]["status"] == "SUBMITTED",
    )


def op_history(w: World, province: str) -> Call:
    tid = new_answered(w, province)
    return Call(
        "query($id: ID!) { ticket(id: $id) { history { nodes { type actor { username } } } } }",
        {"id": str(tid)},
        "ticket",
        lambda d: (
            [n["type"] for n in d["ticket"]["history"]["nodes"]]
            == ["TicketDrafted", "TicketSubmitted", "TicketAnswered"]
        ),
    )


_numbers = iter(range(10**6))


def op_changes(w: World, province: str) -> Call:
    """A change to a `province` subscriber citing a `province` ticket about it, by admin."""
    msisdn = f"1370{next(_numbers):07d}"
    w.container.subscribers.register(w.admin, msisdn, province, "FREE")
    tid = str(submitted(w.container, w.admin, msisdn=msisdn, province=province))
    cited = w.container.subscribers.set_companion(
        w.admin, msisdn, True, ChangeContext(ticket_id=tid)
    )
    return Call(
        "query($id: ID!, $pos: Int) { ticket(id: $id) {"
        " changes(consistentWith: $pos) { nodes { type streamId } } } }",
        {"id": tid, "pos": cited.position},
        "ticket",
        lambda d: (
            d["ticket"]["changes"]["nodes"] == [{"type": "CompanionChanged", "streamId": msisdn}]
        ),
    )


def op_create_draft(w: World, province: str) -> Call:
    return Call(
        'mutation($p: Province) { saveTicketDraft(input: {title: "t", body: "b",'
        " category: OTHER, priority: LOW, province: $p}) " + PAYLOAD + " }",
        {"p": province},
        "saveTicketDraft",
        ok_payload("saveTicketDraft"),
    )


def op_edit_draft(w: World, province: str) -> Call:
    return Call(
        'mutation($id: ID!) { saveTicketDraft(input: {id: $id, title: "改", body: "b",'
        " category: FAULT, priority: HIGH}) " + PAYLOAD + " }",
        {"id": str(new_draft(w, province))},
        "saveTicketDraft",
        ok_payload("saveTicketDraft"),
    )


def simple(mutation: str, prepare: Callable[[World, str], UUID], args: str = "") -> Any:
    def op(w: World, province: str) -> Call:
        return Call(
            "mutation($id: ID!) { " + mutation + "(id: $id" + args + ") " + PAYLOAD + " }",
            {"id": str(prepare(w, province))},
            mutation,
            ok_payload(mutation, ticket=mutation != "discardTicketDraft"),
        )

    return op


def op_update_archive(w: World, province: str) -> Call:
    return Call(
        'mutation($id: ID!) { updateTicketArchive(id: $id, rootCause: "缓存",'
        ' tags: ["登录"]) ' + PAYLOAD + " }",
        {"id": str(new_submitted(w, province))},
        "updateTicketArchive",
        ok_payload("updateTicketArchive"),
    )


def held_by_second(w: World, province: str) -> UUID:
    """A submitted ticket second line's agent holds (unassigning needs a holder)."""
    ticket_id = new_submitted(w, province)
    w.container.tickets.claim(w.principals["second"], ticket_id)
    return ticket_id


def op_assign(w: World, province: str) -> Call:
    return Call(
        "mutation($id: ID!, $to: ID!) { assignTicket(id: $id, assigneeId: $to) " + PAYLOAD + " }",
        {"id": str(new_submitted(w, province)), "to": str(w.principals["second"].account_id)},
        "assignTicket",
        ok_payload("assignTicket"),
    )


def op_announcements(w: World, province: str) -> Call:
    new_announcement(w)
    w.container.engine.catch_up("announcements")
    return Call(
        "{ announcements { nodes { id status publishedBy { username } } } }",
        {},
        "announcements",
        lambda d: len(d["announcements"]["nodes"]) >= 1,
    )


def op_announcement_as_of(w: World, province: str) -> Call:
    aid = str(new_announcement(w))
    return Call(
        "query($id: ID!, $at: DateTime!) { announcementAsOf(id: $id, at: $at) { id status } }",
        {"id": aid, "at": datetime.now(UTC).isoformat()},
        "announcementAsOf",
        lambda d: d["announcementAsOf"]["id"] == aid,
    )


def op_announcement(w: World, province: str) -> Call:
    aid = str(new_announcement(w))
    return Call(
        "query($id: ID!) { announcement(id: $id) { id status } }",
        {"id": aid},
        "announcement",
        lambda d: d["announcement"]["id"] == aid,
    )


ANN_PAYLOAD = "{ announcement { id status } position userErrors { code } }"


def op_publish(w: World, province: str) -> Call:
    return Call(
        'mutation($p: [Province!]) { publishAnnouncement(input: {title: "故障", body: "b",'
        " severity: CRITICAL, provinces: $p}) " + ANN_PAYLOAD + " }",
        {"p": [province]},
        "publishAnnouncement",
        lambda d: d["publishAnnouncement"]["announcement"]["status"] == "ACTIVE",
    )


def op_revise(w: World, province: str) -> Call:
    return Call(
        'mutation($id: ID!) { reviseAnnouncement(id: $id, input: {title: "新", body: "b",'
        " severity: INFO}) " + ANN_PAYLOAD + " }",
        {"id": str(new_announcement(w))},
        "reviseAnnouncement",
        lambda d: d["reviseAnnouncement"]["userErrors"] == [],
    )


def op_withdraw(w: World, province: str) -> Call:
    return Call(
        'mutation($id: ID!) { withdrawAnnouncement(id: $id, reason: "恢复") ' + ANN_PAYLOAD + " }",
        {"id": str(new_announcement(w))},
        "withdrawAnnouncement",
        lambda d: d["withdrawAnnouncement"]["announcement"]["status"] == "WITHDRAWN",
    )


OPERATIONS: dict[str, Callable[[World, str], Call]] = {
    "ticket": op_ticket,
    "ticketAsOf": op_ticket_as_of,
    "Ticket.history": op_history,
    "Ticket.changes": op_changes,
    "saveTicketDraft": op_create_draft,
    "saveTicketDraft (edit)": op_edit_draft,
    "submitTicket": simple("submitTicket", new_draft),
    "discardTicketDraft": simple("discardTicketDraft", new_draft),
    "answerTicket": simple("answerTicket", new_submitted, ', body: "答复"'),
    "resubmitTicket": simple("resubmitTicket", new_answered, ', body: "不够"'),
    "rateTicket": simple("rateTicket", new_answered, ", score: 4"),
    "updateTicketArchive": op_update_archive,
    "claimTicket": simple("claimTicket", new_submitted),
    "assignTicket": op_assign,
    "unassignTicket": simple("unassignTicket", held_by_second),
    "announcements": op_announcements,
    "announcement": op_announcement,
    "announcementAsOf": op_announcement_as_of,
    "publishAnnouncement": op_publish,
    "reviseAnnouncement": op_revise,
    "withdrawAnnouncement": op_withdraw,
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_operation_by_every_role(world: World, operation: str) -> None:
    doc_name = operation.split(" ")[0]
    for province in TARGETS:
        for user in USERS:
            call = OPERATIONS[operation](world, province)
            head = world.head()
            result = world.gql(call.document, call.variables, as_user=user)
            expected = may(doc_name, user, province)
            # Announcements are not province-bound: the province only picks an audience.
            if doc_name.startswith("announcement") or doc_name.endswith("Announcement"):
                expected = may(doc_name, user, "")
            where = f"{operation} by {user} on {province}"
            if expected:
                assert not result.get("errors"), (where, result)
                assert call.succeeded(result["data"]), (where, result)
            else:
                assert error_codes(result) == ["FORBIDDEN"], (where, result)
                data = result["data"]
                assert data is None or data[call.field] is None, (where, result)
                assert world.head() == head, f"{where}: a refused request stored events"


def test_the_list_by_every_role(world: World) -> None:
    """`tickets`: FORBIDDEN only where permissions.md says —; a scoped reader's list and
    totalCount hold only their province, and asking for another province is FORBIDDEN; drafts
    are listed to their author and SUPER_ADMIN only."""
    for province in TARGETS:
        new_submitted(world, province)
        new_draft(world, province)  # the admin's
    draft(world.container, world.principals["gd.agent"], province="GD")
    world.container.engine.catch_up("tickets")
    document = (
        "query($p: Province) { tickets(filter: {province: $p}, first: 500) {"
        " totalCount nodes { province status createdBy { username } } } }"
    )
    everything = world.gql(document, {}, as_user="admin")["data"]["tickets"]
    assert everything["totalCount"] == len(everything["nodes"])

    def listed_to(user: str, province: str | None) -> int:
        return sum(
            1
            for n in everything["nodes"]
            if province in (None, n["province"])
            and (n["status"] != "DRAFT" or n["createdBy"]["username"] == user)
        )

    assert any(n["status"] == "DRAFT" for n in everything["nodes"])
    for user in USERS:
        role, own = ROLE_ACCOUNTS[user]
        mark = marks_for("tickets")[role.value]
        result = world.gql(document, {}, as_user=user)
        if mark == "—":
            assert error_codes(result) == ["FORBIDDEN"], user
            continue
        data = result["data"]["tickets"]
        scoped = mark == "P" or (mark == "P/Y" and own is not None)
        if scoped:
            assert {n["province"] for n in data["nodes"]} <= {own}, user
            assert data["totalCount"] == listed_to(user, own), user
            other = "BJ" if own == "GD" else "GD"
            assert error_codes(world.gql(document, {"p": other}, as_user=user)) == ["FORBIDDEN"]
        else:
            expected = everything["totalCount"] if user == "admin" else listed_to(user, None)
            assert data["totalCount"] == expected, user
