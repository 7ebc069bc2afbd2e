"""Read your writes on every list a mutation changes: each takes `consistentWith`, shows the
write at the position the mutation returned, and, while its read model is behind, answers
CONSISTENCY_TIMEOUT naming that read model rather than a stale page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_consistency_waits import serving
from tests.helpers import GraphQL

# list -> (its read model, a query of it at $p, who may read it)
LISTS: dict[str, tuple[str, str, str]] = {
    "accounts": ("accounts", "accounts(first: 100, consistentWith: $p) { nodes { username } }",
                 "admin"),
    "announcements": ("announcements", "announcements(consistentWith: $p) { nodes { title } }",
                      "viewer"),
    "auditCheckpoints": ("audit", "auditCheckpoints(consistentWith: $p) { nodes { position } }",
                         "auditor"),
    "subscribers": ("subscribers", 'subscribers(filter: {text: "1390"}, consistentWith: $p)'
                    " { nodes { msisdn } }", "gd.agent"),
    "tickets": ("tickets", "tickets(filter: {mine: true}, consistentWith: $p) { nodes { title } }",
                "second"),
}  # fmt: skip


def read(gql: GraphQL, name: str, position: int) -> dict[str, Any]:
    _, field, user = LISTS[name]
    return gql("query($p: Int) { " + field + " }", {"p": position}, as_user=user)


def writes(gql: GraphQL) -> dict[str, tuple[int, Any]]:
    """A write per list, by admin: (its position, what the list then shows)."""

    def payload(document: str, variables: dict[str, Any], field: str) -> int:
        result = gql(document, variables, as_user="admin")["data"][field]
        assert not result.get("userErrors"), result
        position: int = result["position"]
        return position

    account = payload(
        'mutation { createAccount(input: {username: "new.hire", displayName: "New",'
        ' role: VIEWER, initialPassword: "a-good-password-2"}) { position userErrors { code } } }',
        {},
        "createAccount",
    )
    announcement = payload(
        'mutation { publishAnnouncement(input: {title: "邮件延迟", body: "正在处理",'
        " severity: WARNING}) { position userErrors { code } } }",
        {},
        "publishAnnouncement",
    )
    subscriber = payload(
        "mutation($i: RegisterMailboxInput!) { registerMailbox(input: $i) { position"
        " userErrors { code } } }",
        {"i": {"msisdn": "13900139000", "province": "GD", "planCode": "FREE"}},
        "registerMailbox",
    )
    drafted = gql(
        'mutation { saveTicketDraft(input: {title: "认领我", body: "b", category: FAULT,'
        " priority: LOW}) { ticket { id } } }",
        as_user="gd.agent",
    )["data"]["saveTicketDraft"]["ticket"]["id"]
    gql("mutation($id: ID!) { submitTicket(id: $id) { position } }", {"id": drafted}, "gd.agent")
    claimed = gql(
        "mutation($id: ID!) { claimTicket(id: $id) { position userErrors { code } } }",
        {"id": drafted},
        as_user="second",
    )["data"]["claimTicket"]["position"]
    return {
        "accounts": (account, {"username": "new.hire"}),
        "announcements": (announcement, {"title": "邮件延迟"}),
        "subscribers": (subscriber, {"msisdn": "13900139000"}),
        "tickets": (claimed, {"title": "认领我"}),
        "auditCheckpoints": (claimed, None),  # sealed every 1,000th event: none yet
    }


def test_every_list_reads_its_own_writes(gql: GraphQL) -> None:
    for name, (position, shown) in writes(gql).items():
        result = read(gql, name, position)
        assert "errors" not in result, (name, result)
        if shown is not None:
            assert shown in result["data"][name]["nodes"], (name, result)


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_list_behind_its_write_says_so(database_url: str, name: str) -> None:
    # No projection runs: every write stays unapplied, and each wait reaches its bound.
    with serving(database_url, False, consistency_timeout_seconds=0.3) as (gql, _):
        position = writes(gql)[name][0]
        result = read(gql, name, position)
        assert result["data"] is None, result
        [error] = result["errors"]
        assert error["extensions"]["code"] == "CONSISTENCY_TIMEOUT"
        assert error["extensions"]["projection"] == LISTS[name][0]
