"""The ticket e-flow through the application services and the core store (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.shared import (
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    VersionConflictError,
)
from domain.support.errors import InvalidTransitionError
from domain.support.values import TicketCategory, TicketPriority
from infra.bootstrap import Container
from tests.helpers import seed_accounts
from tests.integration.support_helpers import FakeClock, draft, submitted, use_clock

# Monday 2026-11-23 09:00 in Asia/Shanghai.
MONDAY_9 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_the_e_flow_and_its_history(container: Container) -> None:
    """Province drafts and submits, second line answers, province resubmits, second line
    answers again, province rates; the store holds every step with who took it."""
    p = seed_accounts(container)
    agent, vendor = p["gd.agent"], p["second"]
    ticket_id = draft(container, agent)
    edited = container.tickets.save_draft(
        agent,
        ticket_id=ticket_id,
        title="邮箱无法登录(网页版)",
        body="用户反映网页版登录失败，提示密码错误",
        category=TicketCategory.FAULT,
        priority=TicketPriority.HIGH,
        msisdn="13800138000",
        expected_version=1,
    )
    assert edited.ticket is not None and edited.ticket.version == 2
    steps = [
        lambda: container.tickets.submit(agent, ticket_id, expected_version=2),
        lambda: container.tickets.answer(vendor, ticket_id, "请清除浏览器缓存后重试"),
        lambda: container.tickets.resubmit(agent, ticket_id, "清除缓存后仍然失败"),
        lambda: container.tickets.answer(vendor, ticket_id, "已重置登录状态，请再试"),
        lambda: container.tickets.rate(agent, ticket_id, 5, "问题解决"),
        lambda: container.tickets.update_archive(
            vendor, ticket_id, root_cause="会话缓存", resolution="重置", tags=["登录"]
        ),
    ]
    positions = [step().position for step in steps]
    assert positions == sorted(positions)
    view = container.ticket_queries.get(p["viewer"], ticket_id)
    assert view is not None
    assert view.status == "CLOSED" and view.rating is not None and view.rating.score == 5
    assert view.number.startswith("GD-") and view.title == "邮箱无法登录(网页版)"
    assert [e.kind for e in view.entries] == [
        "SUBMISSION",
        "ANSWER",
        "RESUBMISSION",
        "ANSWER",
        "RATING",
    ]
    history = container.ticket_queries.history(p["auditor"], ticket_id, 0, 100)
    assert [(h.type, h.actor_username) for h in history] == [
        ("TicketDrafted", "gd.agent"),
        ("TicketDraftEdited", "gd.agent"),
        ("TicketSubmitted", "gd.agent"),
        ("TicketAnswered", "second"),
        ("TicketResubmitted", "gd.agent"),
        ("TicketAnswered", "second"),
        ("TicketRated", "gd.agent"),
        ("TicketArchiveUpdated", "second"),
    ]
    assert history[-1].position == positions[-1]
    # The global audit trail names the ticket stream too.
    trail = container.audit.trail(p["auditor"], "Ticket", str(ticket_id), 0, 100)
    assert len(trail) == 8 and trail[0].stream_type == "Ticket"


def test_wrong_state_and_stale_version(container: Container) -> None:
    p = seed_accounts(container)
    ticket_id = submitted(container, p["gd.agent"])
    with pytest.raises(InvalidTransitionError) as raised:
        container.tickets.rate(p["gd.agent"], ticket_id, 4)
    assert "SUBMITTED" in raised.value.message
    with pytest.raises(VersionConflictError):
        container.tickets.answer(p["second"], ticket_id, "答复", expected_version=1)
    assert container.tickets.answer(p["second"], ticket_id, "答复", expected_version=2).position


def test_first_line_acts_only_in_its_province(container: Container) -> None:
    p = seed_accounts(container)
    gd_draft = draft(container, p["gd.agent"])
    for act in (
        lambda: container.tickets.submit(p["bj.agent"], gd_draft),
        lambda: container.tickets.discard_draft(p["bj.agent"], gd_draft),
        lambda: container.tickets.save_draft(
            p["bj.agent"],
            ticket_id=gd_draft,
            title="x",
            body="y",
            category=TicketCategory.OTHER,
            priority=TicketPriority.LOW,
        ),
        lambda: container.ticket_queries.get(p["bj.agent"], gd_draft),
        lambda: container.ticket_queries.history(p["bj.agent"], gd_draft, 0, 10),
        lambda: draft(container, p["gd.agent"], province="BJ"),
        lambda: container.tickets.submit(p["second"], gd_draft),
        lambda: draft(container, p["second"]),
        lambda: draft(container, p["viewer"]),
        lambda: container.tickets.answer(p["gd.agent"], gd_draft, "自己答复"),
    ):
        with pytest.raises(PermissionDeniedError):
            act()
    # A draft is its author's working copy; submitted, it is the province's to read.
    assert container.ticket_queries.get(p["gd.viewer"], gd_draft) is None
    container.tickets.submit(p["gd.agent"], gd_draft)
    assert container.ticket_queries.get(p["gd.viewer"], gd_draft) is not None
    with pytest.raises(ValidationError) as raised:
        draft(container, p["admin"])
    assert raised.value.code == "PROVINCE_REQUIRED"
    admin_ticket = draft(container, p["admin"], province="SH")
    view = container.ticket_queries.get(p["admin"], admin_ticket)
    assert view is not None and view.province == "SH"


def test_a_discarded_draft_is_gone_for_readers_but_kept_in_the_store(
    container: Container,
) -> None:
    p = seed_accounts(container)
    clock = FakeClock(MONDAY_9)
    use_clock(container, clock)
    ticket_id = draft(container, p["gd.agent"])
    clock.advance(minutes=5)
    result = container.tickets.discard_draft(p["gd.agent"], ticket_id)
    assert result.ticket is None and result.position
    assert container.ticket_queries.get(p["admin"], ticket_id) is None
    before = container.ticket_queries.as_of(p["admin"], ticket_id, MONDAY_9 + timedelta(minutes=1))
    assert before is not None and before.status == "DRAFT"
    with pytest.raises(InvalidTransitionError) as raised:
        container.tickets.submit(p["gd.agent"], ticket_id)
    assert "DISCARDED" in raised.value.message
    types = [h.type for h in container.ticket_queries.history(p["admin"], ticket_id, 0, 10)]
    assert types == ["TicketDrafted", "TicketDraftDiscarded"]


def test_unknown_ids(container: Container) -> None:
    p = seed_accounts(container)
    missing = p["admin"].account_id  # an Account's id is no ticket
    assert container.ticket_queries.get(p["admin"], missing) is None
    assert container.ticket_queries.as_of(p["admin"], missing, MONDAY_9) is None
    with pytest.raises(NotFoundError):
        container.tickets.submit(p["admin"], missing)
    with pytest.raises(NotFoundError):
        container.ticket_queries.history(p["admin"], missing, 0, 10)


def test_ticket_as_of_replays_up_to_the_time(container: Container) -> None:
    p = seed_accounts(container)
    clock = FakeClock(MONDAY_9)
    use_clock(container, clock)
    ticket_id = draft(container, p["gd.agent"], priority=TicketPriority.URGENT)
    submitted_at = clock.advance(minutes=10)
    container.tickets.submit(p["gd.agent"], ticket_id)
    clock.advance(hours=3)  # 12:10, past the 2-hour URGENT due time (11:10)
    container.tickets.answer(p["second"], ticket_id, "已处理")
    assert (
        container.ticket_queries.as_of(p["admin"], ticket_id, MONDAY_9 - timedelta(seconds=1))
        is None
    )
    as_draft = container.ticket_queries.as_of(
        p["admin"], ticket_id, submitted_at - timedelta(seconds=1)
    )
    assert as_draft is not None and as_draft.status == "DRAFT" and as_draft.version == 1
    late = container.ticket_queries.as_of(
        p["admin"], ticket_id, submitted_at + timedelta(hours=2, minutes=1)
    )
    assert late is not None and late.status == "SUBMITTED" and late.overdue
    assert late.due_at == submitted_at + timedelta(hours=2)
    now = container.ticket_queries.as_of(p["admin"], ticket_id, clock.now())
    assert now is not None and now.status == "ANSWERED" and not now.overdue
    with pytest.raises(PermissionDeniedError):
        container.ticket_queries.as_of(p["bj.agent"], ticket_id, clock.now())


def test_due_times_pause_while_answered(container: Container) -> None:
    p = seed_accounts(container)
    clock = FakeClock(MONDAY_9)
    use_clock(container, clock)
    ticket_id = submitted(container, p["gd.agent"], priority=TicketPriority.HIGH)  # 8 h
    view = container.ticket_queries.get(p["admin"], ticket_id)
    assert view is not None and view.due_at == MONDAY_9 + timedelta(hours=8)  # Monday 17:00
    clock.advance(hours=3)  # 12:00: 3 business hours used
    container.tickets.answer(p["second"], ticket_id, "答复")
    clock.advance(days=1)  # Tuesday 12:00; the day with first line does not count
    container.tickets.resubmit(p["gd.agent"], ticket_id, "还是不行")
    view = container.ticket_queries.get(p["admin"], ticket_id)
    assert view is not None and view.due_at == MONDAY_9 + timedelta(days=1, hours=8)  # Tue 17:00
    clock.advance(hours=5, minutes=1)
    view = container.ticket_queries.get(p["admin"], ticket_id)
    assert view is not None and view.overdue
