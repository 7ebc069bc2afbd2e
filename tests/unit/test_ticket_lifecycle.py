"""The ticket lifecycle table: every state × every command, and the rules of each command."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.access.permissions import PERMISSION_TABLE, Permission, Role
from domain.shared import NoChangeError, ValidationError
from domain.support.errors import InvalidTransitionError
from domain.support.lifecycle import (
    COMMAND_PERMISSIONS,
    LIFECYCLE,
    TicketCommand,
    TicketState,
    allowed_commands,
)
from domain.support.ticket import Ticket
from domain.support.ticket_content import KEEP
from domain.support.values import EntryKind
from tests.unit.support_builders import (
    FIRST,
    MONDAY_10,
    POLICY,
    SECOND,
    Numbers,
    content,
    run,
    ticket_in,
)

TABLE = {(t.state, t.command): t.next_state for t in LIFECYCLE}
LATER = MONDAY_10 + timedelta(hours=3)


@pytest.mark.parametrize("command", list(TicketCommand))
@pytest.mark.parametrize("state", list(TicketState))
def test_every_state_and_command(state: TicketState, command: TicketCommand) -> None:
    """Given a ticket in a state, when a command runs, then it lands where the table says,
    or is refused with INVALID_TRANSITION naming the state and records nothing."""
    ticket = ticket_in(state)
    if command is TicketCommand.UNASSIGN and (state, TicketCommand.CLAIM) in TABLE:
        run(ticket, TicketCommand.CLAIM, LATER, Numbers())  # someone must hold it first
    ticket.collect_events()
    version = ticket.version
    if (state, command) in TABLE:
        run(ticket, command, LATER, Numbers())
        assert ticket.status is TABLE[(state, command)]
        assert [type(e).__name__ for e in ticket.collect_events()] != []
        assert ticket.version == version + 1
    else:
        with pytest.raises(InvalidTransitionError) as raised:
            run(ticket, command, LATER, Numbers())
        assert raised.value.code == "INVALID_TRANSITION"
        assert state.value in raised.value.message
        assert raised.value.state == state.value
        assert ticket.status is state
        assert ticket.collect_events() == []
        assert ticket.version == version


def test_the_table_matches_permissions_md() -> None:
    """First line's commands need TICKET_FIRST_LINE; answering, the archive and the queue
    (claim, assign, unassign) TICKET_SECOND_LINE."""
    first = {
        TicketCommand.SAVE_DRAFT,
        TicketCommand.SUBMIT,
        TicketCommand.RESUBMIT,
        TicketCommand.RATE,
        TicketCommand.DISCARD,
    }
    for command, permission in COMMAND_PERMISSIONS.items():
        expected = (
            Permission.TICKET_FIRST_LINE if command in first else Permission.TICKET_SECOND_LINE
        )
        assert permission is expected, command
    # First line: SUPER_ADMIN everywhere, PROVINCE_AGENT in its province; second line:
    # SUPER_ADMIN and SECOND_LINE_AGENT. Nobody else.
    assert set(PERMISSION_TABLE[Permission.TICKET_FIRST_LINE]) == {
        Role.SUPER_ADMIN,
        Role.PROVINCE_AGENT,
    }
    assert set(PERMISSION_TABLE[Permission.TICKET_SECOND_LINE]) == {
        Role.SUPER_ADMIN,
        Role.SECOND_LINE_AGENT,
    }


def test_the_flow_of_the_issue() -> None:
    """DRAFT → SUBMITTED → ANSWERED → RESUBMITTED → ANSWERED → CLOSED by rating; second
    line's queue changes hands only while an answer is awaited."""
    queue = {TicketCommand.CLAIM, TicketCommand.ASSIGN, TicketCommand.UNASSIGN}
    expected = {
        TicketState.DRAFT: {TicketCommand.SAVE_DRAFT, TicketCommand.SUBMIT, TicketCommand.DISCARD},
        TicketState.SUBMITTED: {TicketCommand.ANSWER, TicketCommand.UPDATE_ARCHIVE, *queue},
        TicketState.ANSWERED: {
            TicketCommand.RESUBMIT,
            TicketCommand.RATE,
            TicketCommand.UPDATE_ARCHIVE,
        },
        TicketState.RESUBMITTED: {TicketCommand.ANSWER, TicketCommand.UPDATE_ARCHIVE, *queue},
        TicketState.CLOSED: {TicketCommand.UPDATE_ARCHIVE},
        TicketState.DISCARDED: set(),
    }
    for state, commands in expected.items():
        assert set(allowed_commands(state)) == commands, state


def test_submitting_needs_title_and_body() -> None:
    for field, overrides in (("title", {"title": "  "}), ("body", {"body": ""})):
        ticket = Ticket.draft(province="GD", content=content(**overrides), at=MONDAY_10, meta=FIRST)
        numbers = Numbers()
        with pytest.raises(ValidationError) as raised:
            ticket.submit(at=LATER, sla=POLICY, allocate_number=numbers, meta=FIRST)
        assert raised.value.field == [field]
        assert numbers.issued == 0, "no number is taken by a refused submission"


def test_resubmitting_needs_a_reason() -> None:
    ticket = ticket_in(TicketState.ANSWERED)
    with pytest.raises(ValidationError) as raised:
        ticket.resubmit(body="  ", at=LATER, calendar=POLICY.calendar, meta=FIRST)
    assert raised.value.field == ["body"]
    assert "not enough" in raised.value.message


@pytest.mark.parametrize("score", [0, 6, -1])
def test_rating_is_one_to_five(score: int) -> None:
    ticket = ticket_in(TicketState.ANSWERED)
    with pytest.raises(ValidationError) as raised:
        ticket.rate(score=score, comment=None, at=LATER, meta=FIRST)
    assert raised.value.code == "INVALID_SCORE"


def test_rating_closes_with_an_entry_and_an_optional_comment() -> None:
    ticket = ticket_in(TicketState.ANSWERED)
    ticket.rate(score=5, comment=None, at=LATER, meta=FIRST)
    assert ticket.status is TicketState.CLOSED
    assert ticket.closed_at == LATER
    assert ticket.rating is not None and ticket.rating.comment is None
    assert ticket.entries[-1].kind == EntryKind.RATING.value


def test_entries_record_each_step_and_its_author() -> None:
    ticket = ticket_in(TicketState.CLOSED)
    assert [(e.kind, e.author_id) for e in ticket.entries] == [
        ("SUBMISSION", "agent-1"),
        ("ANSWER", "vendor-1"),
        ("RATING", "agent-1"),
    ]


def test_editing_a_draft_to_the_same_content_is_no_change() -> None:
    ticket = ticket_in(TicketState.DRAFT)
    with pytest.raises(NoChangeError):
        ticket.edit_draft(content=content(), at=LATER, meta=FIRST)


def test_archive_fields_keep_clear_and_set() -> None:
    ticket = ticket_in(TicketState.ANSWERED)
    ticket.update_archive(
        resolution_category="账号",
        root_cause="缓存",
        tags=["登录", "登录", " 缓存 "],
        at=LATER,
        meta=SECOND,
    )
    assert ticket.archive.tags == ("登录", "缓存")
    ticket.update_archive(root_cause=None, at=LATER, meta=SECOND)
    assert ticket.archive.root_cause is None
    assert ticket.archive.resolution_category == "账号"
    with pytest.raises(NoChangeError):
        ticket.update_archive(resolution_category=KEEP, root_cause=None, at=LATER, meta=SECOND)


@pytest.mark.parametrize("msisdn", ["12345", "23800138000", "1380013800a", "138001380001"])
def test_msisdn_must_be_a_mobile_number(msisdn: str) -> None:
    with pytest.raises(ValidationError) as raised:
        content(msisdn=msisdn)
    assert raised.value.code == "INVALID_MSISDN"


def test_msisdn_tolerates_spaces_and_country_code() -> None:
    assert content(msisdn="+86 138 0013 8000").msisdn == "13800138000"
    assert content(msisdn="").msisdn is None


def test_a_resubmission_keeps_its_number() -> None:
    ticket = ticket_in(TicketState.RESUBMITTED)
    assert ticket.number == "GD-20261123-0001"
