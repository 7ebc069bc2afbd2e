"""Support contacts (客服聯系人) over GraphQL: add, update, list (read your writes), remove."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.access_world import World, open_world
from tests.helpers import error_codes

UPSERT = (
    "mutation($id: ID, $i: SupportContactInput!) { upsertSupportContact(id: $id, input: $i) {"
    " contact { id name title phone email hours notes } position"
    " userErrors { code message field } } }"
)
REMOVE = (
    "mutation($id: ID!) { removeSupportContact(id: $id) { contact { id name } position"
    " userErrors { code } } }"
)
LIST = "query($p: Int) { supportContacts(consistentWith: $p) { id name phone hours } }"


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


def upsert(w: World, data: dict[str, Any], id: str | None = None, user: str = "second") -> Any:
    return w.gql(UPSERT, {"id": id, "i": data}, as_user=user)["data"]["upsertSupportContact"]


def listed(w: World, position: int) -> list[dict[str, Any]]:
    result = w.gql(LIST, {"p": position}, as_user="viewer")
    assert "errors" not in result, result
    contacts: list[dict[str, Any]] = result["data"]["supportContacts"]
    return contacts


def test_add_update_list_and_remove(world: World) -> None:
    desk = upsert(
        world,
        {
            "name": "客服中心 7×24 值班台",
            "title": "一线故障受理",
            "phone": "020-0000-1390 转 1",
            "email": "duty@support.example.com",
            "hours": "7×24",
            "notes": "紧急故障请先致电",
        },
    )
    assert desk["userErrors"] == [] and desk["position"] > 0
    contact = desk["contact"]
    assert contact["phone"] == "020-0000-1390 转 1" and contact["notes"] == "紧急故障请先致电"
    second = upsert(world, {"name": "二线技术支持", "hours": "工作日 09:00–18:00"}, user="admin")
    names = [c["name"] for c in listed(world, second["position"])]
    assert names == ["二线技术支持", "客服中心 7×24 值班台"]

    updated = upsert(world, {"name": "客服中心值班台", "phone": "020-0000-1399"}, contact["id"])
    assert updated["contact"]["id"] == contact["id"]
    assert (updated["contact"]["phone"], updated["contact"]["email"]) == ("020-0000-1399", None)
    now = {c["id"]: c for c in listed(world, updated["position"])}
    assert now[contact["id"]]["phone"] == "020-0000-1399"

    removed = world.gql(REMOVE, {"id": contact["id"]}, as_user="second")["data"]
    removed = removed["removeSupportContact"]
    assert removed["userErrors"] == [] and removed["contact"]["name"] == "客服中心值班台"
    assert contact["id"] not in {c["id"] for c in listed(world, removed["position"])}
    again = world.gql(REMOVE, {"id": contact["id"]}, as_user="second")["data"]
    assert again["removeSupportContact"]["userErrors"] == [{"code": "CONTACT_REMOVED"}]


def test_invalid_details_are_user_errors_and_store_nothing(world: World) -> None:
    head = world.head()
    for data, field in [
        ({"name": " "}, ["name"]),
        ({"name": "x", "phone": "call me maybe"}, ["phone"]),
        ({"name": "x", "email": "not-an-email"}, ["email"]),
        ({"name": "x\u202e"}, ["name"]),
    ]:
        result = upsert(world, data)
        assert result["contact"] is None and result["userErrors"][0]["field"] == field
    unknown = upsert(world, {"name": "x"}, "00000000-0000-4000-8000-000000000000")
    assert unknown["userErrors"][0]["code"] == "NOT_FOUND"
    assert world.head() == head


def test_a_malformed_id_is_bad_input(world: World) -> None:
    result = world.gql(UPSERT, {"id": "nope", "i": {"name": "x"}}, as_user="second")
    assert error_codes(result) == ["BAD_USER_INPUT"]


def test_an_id_of_another_kind_of_record_is_no_contact(world: World) -> None:
    """Found by the GraphQL fuzz: an account's id (every kind of record shares the event
    store) loaded the account and failed on it (INTERNAL_SERVER_ERROR)."""
    head = world.head()
    account_id = str(world.admin.account_id)
    updated = upsert(world, {"name": "x"}, account_id)
    assert [e["code"] for e in updated["userErrors"]] == ["NOT_FOUND"]
    removed = world.gql(REMOVE, {"id": account_id}, as_user="second")
    assert removed["data"]["removeSupportContact"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert world.head() == head
