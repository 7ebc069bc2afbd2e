"""Second line's queue and private drafts in PostgreSQL: of two agents claiming one ticket at
once exactly one wins; the list's queue filters (assignee, unassigned, mine); a draft is in
no one's list, count or search but its author's and a SUPER_ADMIN's, and read by id only by
them and an AUDITOR; a rebuild equals the live read model."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from application.access.service import principal_of
from application.authz import Principal
from application.support.ticket_queries import TicketFilter
from domain.access.permissions import Role
from domain.shared import DomainError, ValidationError
from infra.bootstrap import Container
from tests.helpers import PASSWORD, seed_accounts
from tests.integration.support_helpers import draft, submitted


def staff(container: Container, username: str, role: Role, province: str | None = None) -> Any:
    result = container.access.create_account(
        None,
        username=username,
        display_name=username,
        role=role,
        province=province,
        initial_password=PASSWORD,
    )
    return principal_of(result.account)


@pytest.fixture
def desk(container: Container) -> dict[str, Principal]:
    p = seed_accounts(container)
    p["second.two"] = staff(container, "second.two", Role.SECOND_LINE_AGENT)
    p["gd.two"] = staff(container, "gd.two", Role.PROVINCE_AGENT, "GD")
    return p


def titles(container: Container, who: Principal, **filters: Any) -> tuple[set[str], int]:
    container.engine.catch_up("tickets")
    views, total = container.ticket_queries.search(who, TicketFilter(**filters), None, 100)
    return {v.title for v in views}, total


def test_of_two_agents_claiming_at_once_exactly_one_wins(
    container: Container, desk: dict[str, Principal]
) -> None:
    """Without expectedVersion the loser is told the ticket is someone else's; with the
    version both saw, the loser's write is a VERSION_CONFLICT."""
    agents = [desk["second"], desk["second.two"]]
    for round_ in range(6):
        ticket_id = submitted(container, desk["gd.agent"], title=f"抢单 {round_}")
        seen = 2 if round_ % 2 else None  # drafted, submitted
        lost = "VERSION_CONFLICT" if seen else "ASSIGNED_TO_OTHER"
        start = threading.Barrier(len(agents))
        outcomes: dict[str, str] = {}

        def claim(
            agent: Principal,
            ticket_id: UUID = ticket_id,
            seen: int | None = seen,
            start: threading.Barrier = start,
            outcomes: dict[str, str] = outcomes,
        ) -> None:
            start.wait()
            try:
                container.tickets.claim(agent, ticket_id, seen)
                outcomes[agent.username] = "won"
            except DomainError as exc:
                outcomes[agent.username] = exc.code

        threads = [threading.Thread(target=claim, args=(a,)) for a in agents]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes.values()) == [lost, "won"], outcomes
        winner = next(u for u, o in outcomes.items() if o == "won")
        claims = [
            r.event
            for r in container.core_log.stream(ticket_id, 0, 100)
            if type(r.event).__name__ == "TicketClaimed"
        ]
        assert [(c.previous_assignee, c.meta.actor.username) for c in claims] == [(None, winner)]
        ticket = container.ticket_queries.get(desk["admin"], ticket_id)
        assert ticket is not None and ticket.assignee_id == claims[0].assignee


def test_the_queue_filters(container: Container, desk: dict[str, Principal]) -> None:
    gd, second, other = desk["gd.agent"], desk["second"], desk["second.two"]
    mine = submitted(container, gd, title="归我")
    theirs = submitted(container, gd, title="归同事")
    submitted(container, gd, title="无人认领")
    draft(container, gd, title="草稿")
    container.tickets.claim(second, mine)
    container.tickets.assign(desk["admin"], theirs, other.account_id)
    waiting = ["SUBMITTED", "RESUBMITTED"]
    assert titles(container, second, unassigned=True, statuses=waiting) == ({"无人认领"}, 1)
    assert titles(container, second, unassigned=False) == ({"归我", "归同事"}, 2)
    assert titles(container, second, mine=True) == ({"归我"}, 1)
    assert titles(container, second, mine=False) == ({"归同事", "无人认领"}, 2)
    assert titles(container, second, assignee=str(other.account_id)) == ({"归同事"}, 1)
    # "mine" for first line: what they created (their draft included).
    assert titles(container, gd, mine=True)[1] == 4
    assert titles(container, desk["gd.two"], mine=True) == (set(), 0)
    with pytest.raises(ValidationError):
        titles(container, second, assignee="not-an-id")
    views, _ = container.ticket_queries.search(second, TicketFilter(mine=True), None, 10)
    assert views == [container.ticket_queries.get(second, mine)]


def test_drafts_are_private_to_their_author(
    container: Container, desk: dict[str, Principal]
) -> None:
    gd, gd_two = desk["gd.agent"], desk["gd.two"]
    secret = draft(container, gd, title="私人草稿", body="还没想好怎么写")
    submitted(container, gd, title="已提交")
    for who, sees in (
        ("gd.agent", True),
        ("admin", True),
        ("gd.two", False),  # another agent of the same province
        ("gd.viewer", False),
        ("second", False),
        ("viewer", False),
        ("auditor", False),  # reads it by id, but lists no one's drafts
    ):
        listed, total = titles(container, desk[who])
        assert ("私人草稿" in listed) is sees and total == 1 + sees, who
        searched, found = titles(container, desk[who], text="没想好")
        assert (searched, found) == (({"私人草稿"}, 1) if sees else (set(), 0)), who
        assert titles(container, desk[who], statuses=["DRAFT"])[1] == int(sees), who
    now = datetime.now(UTC)
    for who, reads in (("gd.agent", True), ("admin", True), ("auditor", True), ("gd.two", False)):
        assert (container.ticket_queries.get(desk[who], secret) is not None) is reads, who
        assert (container.ticket_queries.as_of(desk[who], secret, now) is not None) is reads
    container.tickets.submit(gd, secret)
    assert "私人草稿" in titles(container, gd_two)[0]
    assert container.ticket_queries.get(gd_two, secret) is not None


def test_rebuild_equals_live(container: Container, desk: dict[str, Principal]) -> None:
    ticket_id = submitted(container, desk["gd.agent"], title="重建")
    container.tickets.claim(desk["second"], ticket_id)
    container.engine.catch_up("tickets")
    before = container.ticket_queries.search(desk["admin"], TicketFilter(), None, 50)
    container.rebuilds.rebuild("tickets")
    after = container.ticket_queries.search(desk["admin"], TicketFilter(), None, 50)
    assert after == before
    assert after[0][0].assignee_id == str(desk["second"].account_id)
