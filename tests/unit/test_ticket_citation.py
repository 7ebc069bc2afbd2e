"""A proxy setting may cite the ticket it answers (ChangeContext.ticketId): the ticket must exist,
be readable by the caller, and be about this mailbox (or, naming none, of its province).
Every failing case stores nothing. Runs the application service on an in-memory store."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from application.subscribers.commands import ChangeContext, SubscriberService
from domain.shared import DomainError
from domain.subscribers.subscriber import subscriber_id_for
from domain.support.citation import check_citation, parse_cited_ticket
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import TicketCategory, TicketPriority
from tests.subscriber_helpers import (
    BJ_NUMBER,
    GD_NUMBER,
    PRINCIPALS,
    MemoryCore,
    memory_commands,
    stored_event_types,
)

_numbers = itertools.count(1)
ADMIN = PRINCIPALS["admin"]
GD_AGENT = PRINCIPALS["gd.agent"]
AT = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def world() -> tuple[SubscriberService, MemoryCore]:
    commands, store = memory_commands()
    commands.register(ADMIN, GD_NUMBER, "GD", "FREE")
    commands.register(ADMIN, BJ_NUMBER, "BJ", "FREE")
    return commands, store


def ticket(
    store: MemoryCore,
    province: str,
    msisdn: str | None,
    discarded: bool = False,
    drafted: bool = False,
) -> str:
    """A ticket submitted by the admin (or left a draft, or discarded)."""
    content = DraftContent.clean(
        "无法登录", "客户来电", TicketCategory.FAULT, TicketPriority.NORMAL, msisdn
    )
    draft = Ticket.draft(province=province, content=content, at=AT, meta=ADMIN.meta())
    if discarded:
        draft.discard(at=AT, meta=ADMIN.meta())
    elif not drafted:
        number = f"{province}-20261101-{next(_numbers):04d}"
        draft.submit(at=AT, sla=SlaPolicy(), allocate_number=lambda: number, meta=ADMIN.meta())
    store.save(draft)
    return str(draft.id)


def cite(ticket_id: str | None) -> ChangeContext:
    return ChangeContext(reason="客户来电", ticket_id=ticket_id)


def fails(store: MemoryCore, code: str, when: Callable[[], Any]) -> None:
    """The command fails with `code` (on the ticketId field) and stores nothing."""
    before = {m: stored_event_types(store, m) for m in (GD_NUMBER, BJ_NUMBER)}
    with pytest.raises(DomainError) as caught:
        when()
    assert caught.value.code == code, caught.value.message
    assert caught.value.field == ["context", "ticketId"]
    assert {m: stored_event_types(store, m) for m in (GD_NUMBER, BJ_NUMBER)} == before


def cited_in_last_event(store: MemoryCore, msisdn: str) -> Any:
    return list(store.events.get(subscriber_id_for(msisdn)))[-1].meta.ticket_id


def test_a_change_cites_a_ticket_about_its_mailbox(world: Any) -> None:
    commands, store = world
    cited = ticket(store, "GD", GD_NUMBER)
    commands.set_companion(GD_AGENT, GD_NUMBER, True, cite(cited))
    assert cited_in_last_event(store, GD_NUMBER) == cited


def test_the_cited_id_is_stored_in_its_canonical_form(world: Any) -> None:
    commands, store = world
    cited = ticket(store, "GD", GD_NUMBER)
    commands.set_companion(GD_AGENT, GD_NUMBER, True, cite(f"  {cited.upper()} "))
    assert cited_in_last_event(store, GD_NUMBER) == cited


def test_a_blank_ticket_id_cites_nothing(world: Any) -> None:
    commands, store = world
    commands.set_companion(GD_AGENT, GD_NUMBER, True, cite("   "))
    assert cited_in_last_event(store, GD_NUMBER) is None


def test_a_ticket_naming_no_mailbox_may_be_cited_in_its_own_province(world: Any) -> None:
    commands, store = world
    incident = ticket(store, "GD", None)
    commands.set_login_reminder(ADMIN, GD_NUMBER, True, cite(incident))
    assert cited_in_last_event(store, GD_NUMBER) == incident


def test_registration_may_cite_a_ticket_about_the_number(world: Any) -> None:
    commands, store = world
    number = "13700137000"
    cited = ticket(store, "GD", number)
    commands.register(GD_AGENT, number, "GD", "FREE", cite(cited))
    assert cited_in_last_event(store, number) == cited


def test_second_line_may_cite_any_provinces_ticket_about_the_mailbox(world: Any) -> None:
    commands, store = world
    cited = ticket(store, "BJ", GD_NUMBER)  # filed in BJ about a GD mailbox
    commands.set_companion(PRINCIPALS["second"], GD_NUMBER, True, cite(cited))
    assert cited_in_last_event(store, GD_NUMBER) == cited


@pytest.mark.parametrize("bad", ["GD-20260301-0001", "x" * 65, "12345", "{not-a-uuid}"])
def test_a_ticket_id_that_is_not_an_id_is_invalid(world: Any, bad: str) -> None:
    commands, store = world
    fails(
        store,
        "INVALID_TICKET_ID",
        lambda: commands.set_companion(ADMIN, GD_NUMBER, True, cite(bad)),
    )


def test_a_ticket_number_is_told_apart_in_the_error() -> None:
    for number in ("GD-20261128-0001", "BJ-DRAFT-0A1B2C3D"):
        with pytest.raises(DomainError) as caught:
            parse_cited_ticket(number)
        assert (
            caught.value.message
            == f"ticketId must be a ticket's id (Ticket.id), not its number {number}"
        )
    with pytest.raises(DomainError) as caught:
        parse_cited_ticket("T-1")
    assert caught.value.message == "ticketId must be a ticket's id (Ticket.id)"


def test_an_unknown_ticket_is_not_found(world: Any) -> None:
    commands, store = world
    unknown = str(uuid.uuid4())
    fails(
        store,
        "TICKET_NOT_FOUND",
        lambda: commands.set_companion(ADMIN, GD_NUMBER, True, cite(unknown)),
    )


def test_an_id_of_something_else_is_not_a_ticket(world: Any) -> None:
    commands, store = world
    subscriber = str(subscriber_id_for(BJ_NUMBER))
    fails(
        store,
        "TICKET_NOT_FOUND",
        lambda: commands.set_companion(ADMIN, GD_NUMBER, True, cite(subscriber)),
    )


def test_a_discarded_draft_is_not_found(world: Any) -> None:
    commands, store = world
    gone = ticket(store, "GD", GD_NUMBER, discarded=True)
    fails(
        store,
        "TICKET_NOT_FOUND",
        lambda: commands.set_companion(ADMIN, GD_NUMBER, True, cite(gone)),
    )


def test_someone_elses_draft_is_not_found_but_the_author_may_cite_their_own(
    world: Any,
) -> None:
    commands, store = world
    draft = ticket(store, "GD", GD_NUMBER, drafted=True)  # the admin's working copy
    fails(store, "TICKET_NOT_FOUND",
          lambda: commands.set_companion(GD_AGENT, GD_NUMBER, True, cite(draft)))  # fmt: skip
    commands.set_companion(ADMIN, GD_NUMBER, True, cite(draft))
    assert cited_in_last_event(store, GD_NUMBER) == draft


def test_a_ticket_about_another_mailbox_does_not_fit(world: Any) -> None:
    commands, store = world
    other = ticket(store, "GD", "13700137000")
    fails(
        store,
        "TICKET_MISMATCH",
        lambda: commands.set_companion(ADMIN, GD_NUMBER, True, cite(other)),
    )


def test_a_ticket_naming_no_mailbox_does_not_fit_another_province(world: Any) -> None:
    commands, store = world
    bj_incident = ticket(store, "BJ", None)
    fails(
        store,
        "TICKET_MISMATCH",
        lambda: commands.set_companion(ADMIN, GD_NUMBER, True, cite(bj_incident)),
    )


def test_a_province_agent_cannot_cite_a_ticket_they_may_not_read(world: Any) -> None:
    """A BJ ticket about a GD mailbox exists, but a GD agent may not read it: not found, so
    the answer tells them nothing they could not see."""
    commands, store = world
    bj_ticket = ticket(store, "BJ", GD_NUMBER)
    fails(
        store,
        "TICKET_NOT_FOUND",
        lambda: commands.set_companion(GD_AGENT, GD_NUMBER, True, cite(bj_ticket)),
    )


def test_the_platform_may_not_cite_tickets(world: Any) -> None:
    commands, store = world
    cited = ticket(store, "GD", GD_NUMBER)
    fails(
        store,
        "TICKET_NOT_FOUND",
        lambda: commands.freeze(PRINCIPALS["platform"], GD_NUMBER, "spam", cite(cited)),
    )


def test_the_rule_itself() -> None:
    assert parse_cited_ticket(None) is None
    assert parse_cited_ticket("") is None
    content = DraftContent.clean("t", "b", TicketCategory.FAULT, TicketPriority.LOW, GD_NUMBER)
    about = Ticket.draft(province="GD", content=content, at=AT, meta=ADMIN.meta())
    check_citation(about, GD_NUMBER, "BJ")  # about this mailbox: the province does not matter
    with pytest.raises(DomainError) as caught:
        check_citation(about, BJ_NUMBER, "GD")
    assert caught.value.code == "TICKET_MISMATCH"
    assert "the draft ticket is about" in caught.value.message
    with pytest.raises(DomainError) as caught:
        check_citation(None, GD_NUMBER, "GD")
    assert caught.value.code == "TICKET_NOT_FOUND"
