"""Demo data for the support desk: every state, several provinces and priorities, some
overdue; announcements in every status; loading twice adds nothing."""

from __future__ import annotations

from application.access import principal_of
from application.announcements import AnnouncementService
from application.demo import load_demo_accounts, load_demo_support_desk
from application.ticket_queries import TicketFilter
from domain.access.account import account_id_for
from infra.bootstrap import Container


def test_demo_support_desk(container: Container) -> None:
    load_demo_accounts(container.access)
    first = load_demo_support_desk(container.access, container.tickets, container.announcements)
    assert first.tickets_created >= 10 and first.announcements_created == 5
    assert set(first.statuses) == {"DRAFT", "SUBMITTED", "ANSWERED", "RESUBMITTED", "CLOSED"}
    again = load_demo_support_desk(container.access, container.tickets, container.announcements)
    assert (again.tickets_created, again.announcements_created) == (0, 0)

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
