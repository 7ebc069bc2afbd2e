"""`subscribers(filter)` over HTTP: every handle finds the customer, a frontend reads its own
writes with consistentWith, pages carry cursors, a text shorter than 3 characters is
BAD_USER_INPUT, and every role gets what permissions.md says (a scoped reader only their
province, another province's alias included)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import ROLE_ACCOUNTS, GraphQL, error_codes
from tests.permissions_doc import marks_for

SEARCH = """query($f: SubscriberFilter, $first: Int, $after: String, $p: Int) {
  subscribers(filter: $f, first: $first, after: $after, consistentWith: $p) {
    nodes { msisdn mailbox province status alias plan { code } version }
    pageInfo { endCursor hasNextPage }
  }
}"""


def register(gql: GraphQL, msisdn: str, province: str, alias: str | None = None) -> int:
    result = gql(
        "mutation($i: RegisterMailboxInput!) { registerMailbox(input: $i) { position } }",
        {"i": {"msisdn": msisdn, "province": province, "planCode": "FREE"}},
        as_user="admin",
    )
    position: int = result["data"]["registerMailbox"]["position"]
    if alias is not None:
        result = gql(
            "mutation($i: SetAliasInput!) { setAlias(input: $i) { position userErrors { code } } }",
            {"i": {"msisdn": msisdn, "alias": alias}},
            as_user="admin",
        )
        assert result["data"]["setAlias"]["userErrors"] == []
        position = result["data"]["setAlias"]["position"]
    return position


def search(gql: GraphQL, user: str, p: int | None = None, **f: Any) -> list[str]:
    result = gql(SEARCH, {"f": f, "p": p}, as_user=user)
    assert "errors" not in result, result
    return [n["msisdn"] for n in result["data"]["subscribers"]["nodes"]]


@pytest.fixture
def customers(gql: GraphQL) -> int:
    register(gql, "13800138000", "GD", "zhang.wei")
    register(gql, "13800138011", "GD")
    return register(gql, "13800238000", "BJ", "zhang.bj")


def test_every_handle_finds_the_customer(gql: GraphQL, customers: int) -> None:
    assert search(gql, "admin", customers, text="138001") == ["13800138000", "13800138011"]
    assert search(gql, "admin", customers, text="Zhang") == ["13800138000", "13800238000"]
    assert search(gql, "admin", customers, text="zhang.wei@139.com") == ["13800138000"]
    assert search(gql, "admin", customers, text="13800238000@139.com") == ["13800238000"]
    found = gql(SEARCH, {"f": {"text": "zhang.wei"}}, as_user="second")
    assert found["data"]["subscribers"]["nodes"] == [
        {
            "msisdn": "13800138000",
            "mailbox": "13800138000@139.com",
            "province": "GD",
            "status": "ACTIVE",
            "alias": "zhang.wei",
            "plan": {"code": "FREE"},
            "version": 2,
        }
    ]


def test_a_frontend_reads_its_own_writes(gql: GraphQL, customers: int) -> None:
    position = register(gql, "13800138099", "GD", "just.now")
    assert search(gql, "gd.agent", position, text="just.now@139.com") == ["13800138099"]
    # A found customer is a whole Subscriber: its changes and points resolve as for
    # `subscriber`.
    deeper = gql(
        'query($p: Int) { subscribers(filter: {text: "just.now"}, consistentWith: $p) {'
        " nodes { pointsBalance changes(first: 1) { nodes { type actor { username } } } } } }",
        {"p": position},
        as_user="gd.agent",
    )
    assert deeper["data"]["subscribers"]["nodes"] == [
        {
            "pointsBalance": 0,
            "changes": {"nodes": [{"type": "AliasChanged", "actor": {"username": "admin"}}]},
        }
    ], deeper


def test_pages_and_bad_input(gql: GraphQL, customers: int) -> None:
    first = gql(SEARCH, {"f": {"text": "138"}, "first": 2, "p": customers}, as_user="admin")
    page = first["data"]["subscribers"]
    assert [n["msisdn"] for n in page["nodes"]] == ["13800138000", "13800138011"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = gql(SEARCH, {"f": {"text": "138"}, "after": page["pageInfo"]["endCursor"]}, "admin")
    assert [n["msisdn"] for n in rest["data"]["subscribers"]["nodes"]] == ["13800238000"]
    assert rest["data"]["subscribers"]["pageInfo"]["hasNextPage"] is False
    for bad in ({"f": {"text": "13"}}, {"f": {"text": "ab"}}, {"f": {"text": "张三"}},
                {"f": {"planCode": "GOLD"}}, {"after": "forged"}):  # fmt: skip
        assert error_codes(gql(SEARCH, bad, as_user="admin")) == ["BAD_USER_INPUT"], bad


def test_every_role_as_permissions_md_says(gql: GraphQL, customers: int) -> None:
    marks = marks_for("subscribers")
    for user, (role, own) in ROLE_ACCOUNTS.items():
        mark = marks[role.value]
        result = gql(SEARCH, {"f": {"text": "zhang"}, "p": customers}, as_user=user)
        if mark == "—":
            assert error_codes(result) == ["FORBIDDEN"], user
            continue
        found = [n["msisdn"] for n in result["data"]["subscribers"]["nodes"]]
        scoped = mark == "P" or (mark == "P/Y" and own is not None)
        if not scoped:
            assert found == ["13800138000", "13800238000"], user
            continue
        # The other province's alias is not found, and asking for that province is refused.
        assert found == {"GD": ["13800138000"], "BJ": ["13800238000"]}[own or ""], user
        other = "BJ" if own == "GD" else "GD"
        refused = gql(SEARCH, {"f": {"province": other}}, as_user=user)
        assert error_codes(refused) == ["FORBIDDEN"], user
    anonymous = gql(SEARCH, {"f": {"text": "zhang"}})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
