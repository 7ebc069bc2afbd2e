"""The ticket list projection: filters, Chinese text search, overdue, pages, province scoping,
and a rebuild from position 0 that equals the live read model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.authz import Principal
from application.support.ticket_queries import TicketFilter, TicketView
from domain.shared import PermissionDeniedError, ValidationError
from domain.support.values import TicketCategory, TicketPriority
from infra.bootstrap import Container
from tests.helpers import seed_accounts
from tests.integration.support_helpers import FakeClock, draft, submitted, use_clock

MONDAY_9 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def search(
    container: Container, who: Principal, limit: int = 50, **filters: Any
) -> tuple[list[TicketView], int]:
    container.engine.catch_up("tickets")
    return container.ticket_queries.search(who, TicketFilter(**filters), None, limit)


def titles(views: list[TicketView]) -> set[str]:
    return {v.title for v in views}


@pytest.fixture
def desk(container: Container) -> dict[str, Principal]:
    """Five tickets across GD and BJ, in several states, created a minute apart."""
    p = seed_accounts(container)
    clock = FakeClock(MONDAY_9)
    use_clock(container, clock)
    gd, bj, vendor = p["gd.agent"], p["bj.agent"], p["second"]
    draft(container, gd, title="草稿：短信通知延迟", body="尚未提交", msisdn="13900139000")
    clock.advance(minutes=1)
    login = submitted(
        container,
        gd,
        title="邮箱无法登录",
        body="网页版提示密码错误",
        priority=TicketPriority.URGENT,
    )
    clock.advance(minutes=1)
    submitted(
        container,
        gd,
        title="彩信发送失败",
        body="MMS to 13800138000 fails with POP3 error",
        category=TicketCategory.COMPLAINT,
        msisdn="13700137000",
    )
    clock.advance(minutes=1)
    bj_ticket = submitted(container, bj, title="账单投递", body="话费账单没有收到")
    container.tickets.answer(vendor, bj_ticket, "已重新投递账单到邮箱")
    clock.advance(minutes=1)
    container.tickets.answer(vendor, login, "请清除浏览器缓存")
    container.tickets.resubmit(gd, login, "清除缓存后仍然无法登录")
    submitted(container, bj, title="积分没有到账", body="活动积分", category=TicketCategory.REQUEST)
    clock.advance(hours=3)  # the URGENT ticket (2 h) is now overdue; NORMAL ones are not
    return p


def test_newest_first_with_total_and_pages(
    container: Container, desk: dict[str, Principal]
) -> None:
    views, total = search(container, desk["admin"])
    assert total == 5
    created = [v.created_at for v in views]
    assert created == sorted(created, reverse=True)
    assert views[0].title == "积分没有到账"
    seen: list[str] = []
    after = None
    while True:
        page, page_total = container.ticket_queries.search(desk["admin"], TicketFilter(), after, 2)
        assert page_total == 5
        seen.extend(v.title for v in page)
        if len(page) < 2:
            break
        after = (page[-1].created_at, page[-1].id)
    assert seen == [v.title for v in views]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("登录", {"邮箱无法登录"}),  # in the title
        ("无法 登录", {"邮箱无法登录"}),  # every word must match
        ("缓存", {"邮箱无法登录"}),  # in an answer and a resubmission
        ("账单", {"账单投递"}),
        ("重新投递", {"账单投递"}),  # only in the answer
        ("通知延迟", {"草稿：短信通知延迟"}),
        ("信", {"草稿：短信通知延迟", "彩信发送失败"}),  # one character
        ("pop3", {"彩信发送失败"}),  # case-insensitive Latin
        ("ＭＭＳ", {"彩信发送失败"}),  # full-width folds to ASCII
        ("登陆", set()),  # a different word (bigram present nowhere)
        ("录邮", set()),  # bigrams from different places do not make a match
    ],
)
def test_text_search_works_for_chinese(
    container: Container, desk: dict[str, Principal], text: str, expected: set[str]
) -> None:
    views, total = search(container, desk["admin"], text=text)
    assert titles(views) == expected
    assert total == len(expected)


def test_filters(container: Container, desk: dict[str, Principal]) -> None:
    admin = desk["admin"]
    assert titles(search(container, admin, statuses=["DRAFT"])[0]) == {"草稿：短信通知延迟"}
    assert titles(search(container, admin, statuses=["ANSWERED", "RESUBMITTED"])[0]) == {
        "账单投递",
        "邮箱无法登录",
    }
    assert titles(search(container, admin, categories=["COMPLAINT", "REQUEST"])[0]) == {
        "彩信发送失败",
        "积分没有到账",
    }
    assert titles(search(container, admin, province="BJ")[0]) == {"账单投递", "积分没有到账"}
    assert titles(search(container, admin, msisdn="+86 137 0013 7000")[0]) == {"彩信发送失败"}
    views, total = search(container, admin, overdue=True)
    assert titles(views) == {"邮箱无法登录"} and total == 1 and views[0].overdue
    assert search(container, admin, overdue=False)[1] == 4
    window = search(
        container,
        admin,
        created_from=MONDAY_9 + timedelta(minutes=1),
        created_to=MONDAY_9 + timedelta(minutes=3),
    )[0]
    assert titles(window) == {"邮箱无法登录", "彩信发送失败"}  # from included, to excluded
    with pytest.raises(ValidationError):
        search(container, admin, msisdn="12")


def test_province_scoping_includes_counts(container: Container, desk: dict[str, Principal]) -> None:
    # gd.agent's draft is theirs alone: the other GD reader and the unscoped one lack it.
    for who, expected in (("gd.agent", 3), ("gd.viewer", 2), ("bj.agent", 2), ("viewer", 4)):
        views, total = search(container, desk[who])
        assert total == expected == len(views), who
    views, total = search(container, desk["gd.agent"], text="账单")
    assert (views, total) == ([], 0)  # a BJ ticket's words never leak into a GD search
    with pytest.raises(PermissionDeniedError):
        search(container, desk["gd.agent"], province="BJ")
    for who in ("platform",):
        with pytest.raises(PermissionDeniedError):
            search(container, desk[who])


def test_list_rows_equal_the_aggregates(container: Container, desk: dict[str, Principal]) -> None:
    views, _ = search(container, desk["admin"])
    for view in views:
        assert container.ticket_queries.get(desk["admin"], view.id) == view


def test_rebuild_equals_live(container: Container, desk: dict[str, Principal]) -> None:
    before, _ = search(container, desk["admin"])
    container.rebuilds.rebuild("tickets")
    after, _ = container.ticket_queries.search(desk["admin"], TicketFilter(), None, 50)
    assert after == before
    assert titles(search(container, desk["admin"], text="缓存")[0]) == {"邮箱无法登录"}


def test_discarded_drafts_leave_the_list(container: Container, desk: dict[str, Principal]) -> None:
    views, _ = search(container, desk["admin"], statuses=["DRAFT"])
    container.tickets.discard_draft(desk["gd.agent"], views[0].id)
    assert search(container, desk["admin"], statuses=["DRAFT"]) == ([], 0)
    assert search(container, desk["admin"])[1] == 4


def test_consistent_with_waits_for_the_projection(container: Container) -> None:
    p = seed_accounts(container)
    runner = container.start_projections()
    try:
        ticket_id = draft(container, p["gd.agent"], title="读己之写")
        position = container.tickets.submit(p["gd.agent"], ticket_id).position
        wanted = TicketFilter(text="读己之写")
        asyncio.run(container.ticket_queries.wait_for_search(p["admin"], wanted, position))
        views, total = container.ticket_queries.search(p["admin"], wanted, None, 10)
        assert total == 1 and views[0].status == "SUBMITTED"
    finally:
        runner.stop()
        container.runner = None
