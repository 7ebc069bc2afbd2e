"""Helpers for support-desk tests: a settable clock and a ticket driven through its states."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from application.authz import Principal
from domain.support.values import TicketCategory, TicketPriority
from infra.bootstrap import Container


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


def use_clock(container: Container, clock: Any) -> None:
    """Point every support-desk service at `clock`."""
    container.tickets.clock = clock
    container.ticket_queries.clock = clock
    container.announcements.clock = clock


def draft(
    container: Container,
    agent: Principal,
    title: str = "邮箱无法登录",
    body: str = "用户反映网页版登录失败",
    category: TicketCategory = TicketCategory.FAULT,
    priority: TicketPriority = TicketPriority.NORMAL,
    msisdn: str | None = "13800138000",
    province: str | None = None,
) -> UUID:
    result = container.tickets.save_draft(
        agent,
        ticket_id=None,
        title=title,
        body=body,
        category=category,
        priority=priority,
        msisdn=msisdn,
        province=province,
    )
    assert result.ticket is not None
    return result.ticket.id


def submitted(container: Container, agent: Principal, **kwargs: Any) -> UUID:
    ticket_id = draft(container, agent, **kwargs)
    container.tickets.submit(agent, ticket_id)
    return ticket_id
