"""Build tickets in any state, in memory (no I/O), for support-desk unit tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.shared import Actor, ChangeMeta
from domain.support.lifecycle import TicketCommand, TicketState
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import TicketCategory, TicketPriority

# Monday 2026-11-23 10:00 in Asia/Shanghai.
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
POLICY = SlaPolicy()


def meta(account_id: str = "agent-1", role: str = "PROVINCE_AGENT") -> ChangeMeta:
    return ChangeMeta(Actor(account_id=account_id, username=account_id, role=role, province="GD"))


FIRST, SECOND = meta("agent-1"), meta("vendor-1", "SECOND_LINE_AGENT")


def content(**overrides: Any) -> DraftContent:
    values: dict[str, Any] = {
        "title": "邮箱无法登录",
        "body": "用户反映网页版登录失败",
        "category": TicketCategory.FAULT,
        "priority": TicketPriority.NORMAL,
        "msisdn": "13800138000",
    }
    values.update(overrides)
    return DraftContent.clean(**values)


class Numbers:
    """An in-memory number allocator (the sequence aggregate is tested elsewhere)."""

    def __init__(self) -> None:
        self.issued = 0

    def __call__(self) -> str:
        self.issued += 1
        return f"GD-20261123-{self.issued:04d}"


def run(ticket: Ticket, command: TicketCommand, at: datetime, numbers: Numbers) -> None:
    """Run a command with valid input."""
    cal = POLICY.calendar
    actions: dict[TicketCommand, Callable[[], None]] = {
        TicketCommand.SAVE_DRAFT: lambda: ticket.edit_draft(
            content=content(title=f"{ticket.title}+"), at=at, meta=FIRST
        ),
        TicketCommand.SUBMIT: lambda: ticket.submit(
            at=at, sla=POLICY, allocate_number=numbers, meta=FIRST
        ),
        TicketCommand.DISCARD: lambda: ticket.discard(at=at, meta=FIRST),
        TicketCommand.ANSWER: lambda: ticket.answer(
            body="请清除浏览器缓存后重试", at=at, calendar=cal, meta=SECOND
        ),
        TicketCommand.RESUBMIT: lambda: ticket.resubmit(
            body="清除缓存后仍然无法登录", at=at, calendar=cal, meta=FIRST
        ),
        TicketCommand.RATE: lambda: ticket.rate(score=4, comment="解决了", at=at, meta=FIRST),
        TicketCommand.UPDATE_ARCHIVE: lambda: ticket.update_archive(
            resolution=f"resolution {ticket.version}", at=at, meta=SECOND
        ),
        TicketCommand.CLAIM: lambda: ticket.claim(by="vendor-1", at=at, meta=SECOND),
        TicketCommand.ASSIGN: lambda: ticket.assign(to="vendor-2", at=at, meta=SECOND),
        TicketCommand.UNASSIGN: lambda: ticket.unassign(at=at, meta=SECOND),
    }
    actions[command]()


# A path of commands from a fresh draft to each state.
PATHS: dict[TicketState, list[TicketCommand]] = {
    TicketState.DRAFT: [],
    TicketState.SUBMITTED: [TicketCommand.SUBMIT],
    TicketState.ANSWERED: [TicketCommand.SUBMIT, TicketCommand.ANSWER],
    TicketState.RESUBMITTED: [TicketCommand.SUBMIT, TicketCommand.ANSWER, TicketCommand.RESUBMIT],
    TicketState.CLOSED: [TicketCommand.SUBMIT, TicketCommand.ANSWER, TicketCommand.RATE],
    TicketState.DISCARDED: [TicketCommand.DISCARD],
}


def ticket_in(state: TicketState, at: datetime = MONDAY_10) -> Ticket:
    ticket = Ticket.draft(province="GD", content=content(), at=at, meta=FIRST)
    numbers = Numbers()
    for step, command in enumerate(PATHS[state]):
        run(ticket, command, at + timedelta(minutes=10 * (step + 1)), numbers)
    assert ticket.status is state
    return ticket
