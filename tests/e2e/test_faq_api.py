"""The knowledge base over GraphQL: create, search (read your writes), revise, as-of, remove."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.access_world import World, open_world
from tests.helpers import error_codes

FAQ_FIELDS = "id title body category keywords version updatedAt documents { id }"
CREATE = (
    "mutation($i: FaqInput!) { createFaq(input: $i) {"
    f" faq {{ {FAQ_FIELDS} }} position userErrors {{ code message field }} }} }}"
)
REVISE = (
    "mutation($id: ID!, $i: FaqInput!, $v: Int) { reviseFaq(id: $id, input: $i,"
    f" expectedVersion: $v) {{ faq {{ {FAQ_FIELDS} }} position userErrors {{ code field }} }} }}"
)
SEARCH = (
    "query($q: String!, $c: String, $first: Int, $after: String, $p: Int) {"
    " searchFaqs(query: $q, category: $c, first: $first, after: $after, consistentWith: $p) {"
    " nodes { faq { id title } highlightedTitle score } pageInfo { endCursor hasNextPage }"
    " totalCount } }"
)


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


def create(w: World, title: str, body: str = "正文", user: str = "second", **extra: Any) -> Any:
    data = {"title": title, "body": body, "category": "测试", **extra}
    return w.gql(CREATE, {"i": data}, as_user=user)["data"]["createFaq"]


def search(w: World, q: str, position: int | None = None, **variables: Any) -> Any:
    result = w.gql(SEARCH, {"q": q, "p": position, **variables}, as_user="viewer")
    assert "errors" not in result, result
    return result["data"]["searchFaqs"]


def test_create_then_search_reads_its_own_write(world: World) -> None:
    created = create(world, "如何修改郵箱密碼", keywords=["密碼", "修改"])
    assert created["userErrors"] == []
    faq = created["faq"]
    assert (faq["title"], faq["keywords"], faq["version"]) == (
        "如何修改郵箱密碼",
        ["密碼", "修改"],
        1,
    )
    found = search(world, "密码", created["position"])
    assert found["nodes"][0]["faq"]["id"] == faq["id"]
    assert found["nodes"][0]["highlightedTitle"] == "如何修改郵箱<mark>密碼</mark>"
    assert found["totalCount"] >= 1


def test_titles_and_queries_cannot_inject_html(world: World) -> None:
    created = create(world, '<img src=x onerror="alert(1)"> 解冻 & <b>邮箱</b>')
    hits = search(world, "解冻 <script>", created["position"])["nodes"]
    assert hits == []  # "script" is a term too, and nothing contains it
    hit = next(
        h
        for h in search(world, "解冻", created["position"])["nodes"]
        if h["faq"]["id"] == created["faq"]["id"]
    )
    assert hit["highlightedTitle"] == (
        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; <mark>解冻</mark> &amp; "
        "&lt;b&gt;邮箱&lt;/b&gt;"
    )


def test_revise_keeps_versions_and_faq_as_of_shows_them(world: World) -> None:
    created = create(world, "套餐变更说明 v1")
    faq_id = created["faq"]["id"]
    time.sleep(0.01)
    between = datetime.now(UTC).isoformat()
    revised = world.gql(
        REVISE,
        {"id": faq_id, "i": {"title": "套餐变更说明 v2", "body": "新正文", "category": "套餐"}},
        as_user="gd.agent",
    )["data"]["reviseFaq"]
    assert revised["userErrors"] == [] and revised["faq"]["version"] == 2
    stale = world.gql(
        REVISE,
        {"id": faq_id, "v": 1, "i": {"title": "x", "body": "y", "category": "z"}},
        as_user="second",
    )["data"]["reviseFaq"]
    assert stale["userErrors"] == [{"code": "VERSION_CONFLICT", "field": ["expectedVersion"]}]
    result = world.gql(
        f"query($id: ID!, $at: DateTime!) {{ faq(id: $id) {{ title }}"
        f" faqAsOf(id: $id, at: $at) {{ {FAQ_FIELDS} }} }}",
        {"id": faq_id, "at": between},
        as_user="auditor",
    )["data"]
    assert result["faq"]["title"] == "套餐变更说明 v2"
    assert (result["faqAsOf"]["title"], result["faqAsOf"]["version"]) == ("套餐变更说明 v1", 1)
    history = world.gql(
        'query($id: ID!) { auditTrail(streamType: "Faq", streamId: $id) { nodes { type actor'
        " { username } } } }",
        {"id": faq_id},
        as_user="auditor",
    )["data"]["auditTrail"]["nodes"]
    assert [(n["type"], n["actor"]["username"]) for n in history] == [
        ("FaqCreated", "second"),
        ("FaqRevised", "gd.agent"),
    ]


def test_remove_hides_the_faq_from_search_and_lookup(world: World) -> None:
    created = create(world, "待删除的冻结说明 zzqx")
    faq_id = created["faq"]["id"]
    assert search(world, "zzqx", created["position"])["totalCount"] == 1
    removed = world.gql(
        "mutation($id: ID!) { removeFaq(id: $id) { faq { id } position userErrors { code } } }",
        {"id": faq_id},
        as_user="admin",
    )["data"]["removeFaq"]
    assert removed["userErrors"] == []
    page = search(world, "zzqx", removed["position"])
    assert (page["nodes"], page["totalCount"]) == ([], 0)
    assert world.gql("query($id: ID!) { faq(id: $id) { id } }", {"id": faq_id}, as_user="viewer")[
        "data"
    ] == {"faq": None}
    again = world.gql(
        "mutation($id: ID!) { removeFaq(id: $id) { userErrors { code } } }",
        {"id": faq_id},
        as_user="admin",
    )["data"]["removeFaq"]
    assert again["userErrors"] == [{"code": "FAQ_REMOVED"}]


def test_an_id_of_another_kind_of_record_is_no_faq(world: World) -> None:
    """Found by the GraphQL fuzz: an account's id (every kind of record shares the event
    store) loaded the account and failed on it (INTERNAL_SERVER_ERROR)."""
    head, account_id = world.head(), str(world.admin.account_id)
    data = {"title": "t", "body": "b", "category": "c"}
    revised = world.gql(REVISE, {"id": account_id, "i": data}, as_user="admin")
    assert revised["data"]["reviseFaq"]["userErrors"] == [{"code": "NOT_FOUND", "field": None}]
    removed = world.gql(
        "mutation($id: ID!) { removeFaq(id: $id) { userErrors { code } } }",
        {"id": account_id},
        as_user="admin",
    )
    assert removed["data"]["removeFaq"]["userErrors"] == [{"code": "NOT_FOUND"}]
    found = world.gql("query($id: ID!) { faq(id: $id) { id } }", {"id": account_id}, "viewer")
    assert found == {"data": {"faq": None}}
    assert world.head() == head


def test_invalid_input_is_a_user_error_and_stores_nothing(world: World) -> None:
    head = world.head()
    result = create(world, "   ")
    assert result["faq"] is None
    assert result["userErrors"][0]["field"] == ["title"]
    assert world.head() == head


def test_pagination_and_total_count(world: World) -> None:
    position = 0
    for i in range(5):
        position = create(world, f"分页测试 qpage {i}")["position"]
    first = search(world, "qpage", position, first=2)
    assert first["totalCount"] == 5 and first["pageInfo"]["hasNextPage"]
    ids = [n["faq"]["id"] for n in first["nodes"]]
    after = first["pageInfo"]["endCursor"]
    while after:
        page = search(world, "qpage", first=2, after=after)
        ids += [n["faq"]["id"] for n in page["nodes"]]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    assert len(ids) == len(set(ids)) == 5


def test_bad_arguments_are_bad_user_input(world: World) -> None:
    for document, variables in [
        ('query { faq(id: "nope") { id } }', {}),
        ("query($q: String!) { searchFaqs(query: $q) { totalCount } }", {"q": "长" * 201}),
        ('query { searchFaqs(query: "x", after: "forged") { totalCount } }', {}),
        ('query { searchFaqs(query: "x", first: -1) { totalCount } }', {}),
    ]:
        assert error_codes(world.gql(document, variables, as_user="viewer")) == ["BAD_USER_INPUT"]
