"""Announcements over HTTP: publish, list (active only by default, a province agent's
audience), revise, withdraw with a reason, and read as at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import GraphQL, error_codes

PAYLOAD = (
    "{ announcement { id title severity provinces status effectiveFrom effectiveUntil"
    " publishedBy { username } publishedAt revisedAt version } position"
    " userErrors { code field } }"
)


def publish(gql: GraphQL, data: dict[str, Any], user: str = "second") -> dict[str, Any]:
    result = gql(
        "mutation($i: AnnouncementInput!) { publishAnnouncement(input: $i) " + PAYLOAD + " }",
        {"i": data},
        as_user=user,
    )
    payload: dict[str, Any] = result["data"]["publishAnnouncement"]
    return payload


def titles(gql: GraphQL, user: str, args: str = "") -> list[str]:
    result = gql("{ announcements" + args + " { nodes { title } } }", as_user=user)
    assert not result.get("errors"), result
    return [n["title"] for n in result["data"]["announcements"]["nodes"]]


def test_announcements_over_http(gql: GraphQL, container: Any) -> None:
    now = datetime.now(UTC)
    everyone = publish(gql, {"title": "全网短信延迟", "body": "正在处理", "severity": "WARNING"})
    assert everyone["userErrors"] == [] and everyone["position"] > 0
    first = everyone["announcement"]
    assert first["status"] == "ACTIVE" and first["provinces"] == []
    assert first["publishedBy"]["username"] == "second"
    publish(gql, {"title": "北京维护", "body": "b", "severity": "INFO", "provinces": ["BJ"]})
    publish(
        gql,
        {
            "title": "明日升级",
            "body": "b",
            "severity": "INFO",
            "effectiveFrom": (now + timedelta(days=1)).isoformat(),
        },
    )
    bad = publish(
        gql,
        {
            "title": "x",
            "body": "b",
            "severity": "INFO",
            "effectiveFrom": now.isoformat(),
            "effectiveUntil": (now - timedelta(hours=1)).isoformat(),
        },
    )
    assert bad["userErrors"] == [{"code": "INVALID_WINDOW", "field": ["effectiveUntil"]}]
    container.engine.catch_up("announcements")

    assert set(titles(gql, "viewer")) == {"全网短信延迟", "北京维护"}
    assert titles(gql, "gd.agent") == ["全网短信延迟"]
    assert set(titles(gql, "bj.agent")) == {"全网短信延迟", "北京维护"}
    assert set(titles(gql, "gd.agent", "(activeOnly: false)")) == {"全网短信延迟", "明日升级"}
    assert error_codes(
        gql('{ announcements(province: "BJ") { nodes { id } } }', as_user="gd.agent")
    ) == ["FORBIDDEN"]
    assert titles(gql, "viewer", '(province: "GD")') == ["全网短信延迟"]

    revised = gql(
        "mutation($id: ID!, $i: AnnouncementInput!) { reviseAnnouncement(id: $id, input: $i,"
        " expectedVersion: 1) " + PAYLOAD + " }",
        {
            "id": first["id"],
            "i": {
                "title": "全网短信延迟（已定位）",
                "body": "预计一小时恢复",
                "severity": "CRITICAL",
            },
        },
        as_user="admin",
    )["data"]["reviseAnnouncement"]["announcement"]
    assert revised["version"] == 2 and revised["severity"] == "CRITICAL"
    assert revised["revisedAt"] is not None
    assert revised["effectiveFrom"] == first["effectiveFrom"]

    withdrawn = gql(
        'mutation($id: ID!) { withdrawAnnouncement(id: $id, reason: "已恢复") ' + PAYLOAD + " }",
        {"id": first["id"]},
        as_user="second",
    )["data"]["withdrawAnnouncement"]
    assert withdrawn["announcement"]["status"] == "WITHDRAWN"
    again = gql(
        "mutation($id: ID!) { withdrawAnnouncement(id: $id) { userErrors { code message } } }",
        {"id": first["id"]},
        as_user="second",
    )["data"]["withdrawAnnouncement"]
    assert again["userErrors"][0]["code"] == "INVALID_TRANSITION"
    container.engine.catch_up("announcements")
    assert "全网短信延迟（已定位）" not in titles(gql, "viewer")

    as_of = gql(
        "query($id: ID!, $at: DateTime!) { announcementAsOf(id: $id, at: $at) {"
        " title status version } }",
        {"id": first["id"], "at": first["publishedAt"]},
        as_user="gd.agent",
    )["data"]["announcementAsOf"]
    assert as_of == {"title": "全网短信延迟", "status": "ACTIVE", "version": 1}
    trail = gql(
        'query($id: ID!) { auditTrail(streamType: "Announcement", streamId: $id) {'
        " nodes { type reason actor { username } } } }",
        {"id": first["id"]},
        as_user="auditor",
    )["data"]["auditTrail"]["nodes"]
    assert [(n["type"], n["actor"]["username"]) for n in trail] == [
        ("AnnouncementPublished", "second"),
        ("AnnouncementRevised", "admin"),
        ("AnnouncementWithdrawn", "second"),
    ]
    assert trail[-1]["reason"] == "已恢复"


def test_announcement_pages(gql: GraphQL, container: Any) -> None:
    for n in range(5):
        publish(gql, {"title": f"公告{n}", "body": "b", "severity": "INFO"})
    container.engine.catch_up("announcements")
    seen: list[str] = []
    after = None
    while True:
        result = gql(
            "query($after: String) { announcements(first: 2, after: $after) {"
            " nodes { title } pageInfo { endCursor hasNextPage } } }",
            {"after": after},
            as_user="viewer",
        )["data"]["announcements"]
        seen.extend(n["title"] for n in result["nodes"])
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
    assert seen == [f"公告{n}" for n in reversed(range(5))]


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:30:00-01:00"], ids=["year 0", "10000"]
)
def test_a_time_outside_years_1_to_9999_in_utc_is_bad_input(
    gql: GraphQL, container: Any, moment: str
) -> None:
    """Found by the GraphQL fuzz: stored, such a time could not be read back, so every list of
    announcements failed from then on (INTERNAL_SERVER_ERROR)."""
    for field in ("effectiveFrom", "effectiveUntil"):
        data = {"title": "t", "body": "b", "severity": "INFO", field: moment}
        result = gql(
            "mutation($i: AnnouncementInput!) { publishAnnouncement(input: $i) { position } }",
            {"i": data},
            as_user="admin",
        )
        assert error_codes(result) == ["BAD_USER_INPUT"], result
    container.engine.catch_up("announcements")
    assert titles(gql, "viewer", "(activeOnly: false)") == []
