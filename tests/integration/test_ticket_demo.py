"""Demo data for the support desk: every state, several provinces and priorities, some
overdue; announcements in every status; loading twice adds nothing."""

from __future__ import annotations

from uuid import UUID

from application.access.service import principal_of
from application.support.announcements import AnnouncementService
from application.support.ticket_queries import TicketFilter
from demo.loader import (
    DEMO_TICKET_CHANGES,
    load_demo_accounts,
    load_demo_subscribers,
    load_demo_support_desk,
    load_demo_ticket_changes,
)
from demo.support import DEMO_TICKETS
from domain.access.account import account_id_for
from infra.bootstrap import Container


def test_demo_support_desk(container: Container) -> None:
    load_demo_accounts(container.access)
    desk = (container.access, container.tickets, container.announcements, container.audit)
    first = load_demo_support_desk(*desk)
    assert first.tickets_created >= 10 and first.announcements_created == 5
    assert set(first.statuses) == {"DRAFT", "SUBMITTED", "ANSWERED", "RESUBMITTED", "CLOSED"}
    again = load_demo_support_desk(*desk)
    assert (again.tickets_created, again.announcements_created) == (0, 0)
    assert again.ticket_ids == first.ticket_ids  # found again, not made again

    container.engine.catch_up_all()
    admin = principal_of(container.access.actor_account(account_id_for("admin")))
    views, total = container.ticket_queries.search(admin, TicketFilter(), None, 100)
    assert total == first.tickets_created
    assert len({v.province for v in views}) >= 4
    assert {v.priority for v in views} == {"LOW", "NORMAL", "HIGH", "URGENT"}
    overdue, n_overdue = container.ticket_queries.search(
        admin, TicketFilter(overdue=True), None, 100
    )
    assert n_overdue >= 2 and all(v.status in {"SUBMITTED", "RESUBMITTED"} for v in overdue)
    waiting = container.ticket_queries.search(
        admin, TicketFilter(statuses=["SUBMITTED", "RESUBMITTED"], overdue=False), None, 100
    )[1]
    assert waiting >= 1
    assert container.ticket_queries.search(admin, TicketFilter(text="短信"), None, 100)[1] >= 2

    service: AnnouncementService = container.announcements
    notices = service.list(admin, False, None, None, 100)
    assert {n.status for n in notices} == {"ACTIVE", "SCHEDULED", "EXPIRED", "WITHDRAWN"}


def test_demo_changes_cite_real_demo_tickets(container: Container) -> None:
    load_demo_accounts(container.access)
    load_demo_subscribers(container.access, container.subscribers, container.audit)
    desk = load_demo_support_desk(
        container.access, container.tickets, container.announcements, container.audit
    )
    made = load_demo_ticket_changes(container.access, container.subscribers, desk.ticket_ids)
    assert made == len(DEMO_TICKET_CHANGES)
    auditor = principal_of(container.access.actor_account(account_id_for("auditor")))
    for demo in DEMO_TICKET_CHANGES:
        ticket = next(t for t in DEMO_TICKETS if t.key == demo.ticket_key)
        assert ticket.msisdn is not None
        trail = container.audit.trail(auditor, "Subscriber", ticket.msisdn, 0, 500)
        cited = [e.ticket_id for e in trail if e.ticket_id is not None]
        assert cited == [str(desk.ticket_ids[demo.ticket_key])]
        found = container.tickets.store.repository.get(UUID(cited[0]))
        assert found.msisdn == ticket.msisdn
