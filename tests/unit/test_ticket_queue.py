"""Second line's queue on an in-memory store: claim, assign and unassign are events with the
assignee before and after; the queue's table decides whose tickets each command reaches
(ASSIGNED_TO_OTHER beyond it, a SUPER_ADMIN reaches all); only an enabled SECOND_LINE_AGENT is
given a ticket; answering someone else's ticket is refused. Every refusal stores nothing."""

from __future__ import annotations

import pytest

from application.authz import Principal
from domain.access.account import Account
from domain.access.permissions import Role
from domain.shared import SYSTEM_ACTOR, ChangeMeta
from domain.support.assignment import (
    QUEUE,
    REACHES_EVERY_TICKET,
    AssignedToOtherError,
    Reach,
    check_reach,
)
from domain.support.errors import InvalidTransitionError
from domain.support.lifecycle import LIFECYCLE, TicketCommand, TicketState
from tests.memory_store import stored
from tests.subscriber_helpers import PRINCIPALS, principal
from tests.unit.test_ticket_service import VENDOR, World, build, refused, ticket_in

ADMIN, SECOND = PRINCIPALS["admin"], PRINCIPALS["second"]
OTHER = principal("second.two", Role.SECOND_LINE_AGENT)
_C, _S = TicketCommand, TicketState


def me(p: Principal) -> str:
    return str(p.account_id)


def holder(w: World, ticket_id: object) -> str | None:
    found: str | None = w.ticket(ticket_id).assignee  # type: ignore[arg-type]
    return found


# ---------------------------------------------------------------- the table
def test_the_queue_table_and_the_lifecycle_agree() -> None:
    """Claim, assign and unassign are allowed exactly while an answer is awaited, need second
    line's permission like answering, and reach what permissions.md says."""
    for command in (_C.CLAIM, _C.ASSIGN, _C.UNASSIGN):
        rows = [t for t in LIFECYCLE if t.command is command]
        assert {t.state for t in rows} == {_S.SUBMITTED, _S.RESUBMITTED}
        assert all(t.next_state is t.state for t in rows)
    assert {r.command: r.reach for r in QUEUE} == {
        _C.CLAIM: Reach.OWN_OR_UNASSIGNED,
        _C.ASSIGN: Reach.UNASSIGNED,
        _C.UNASSIGN: Reach.OWN_OR_UNASSIGNED,
        _C.ANSWER: Reach.OWN_OR_UNASSIGNED,
    }
    assert frozenset({Role.SUPER_ADMIN}) == REACHES_EVERY_TICKET


@pytest.mark.parametrize("command", [r.command for r in QUEUE])
@pytest.mark.parametrize("held_by", [None, "me", "other"])
@pytest.mark.parametrize("role", [Role.SECOND_LINE_AGENT, Role.SUPER_ADMIN])
def test_reach(command: TicketCommand, held_by: str | None, role: Role) -> None:
    reach = {r.command: r.reach for r in QUEUE}[command]
    allowed = (
        role is Role.SUPER_ADMIN
        or held_by is None
        or (held_by == "me" and reach is Reach.OWN_OR_UNASSIGNED)
    )
    if allowed:
        check_reach(command, _S.SUBMITTED, held_by, "me", role)
    else:
        with pytest.raises(AssignedToOtherError):
            check_reach(command, _S.SUBMITTED, held_by, "me", role)


def test_the_state_is_asked_before_the_queue() -> None:
    with pytest.raises(InvalidTransitionError):
        check_reach(_C.CLAIM, _S.ANSWERED, "other", "me", Role.SECOND_LINE_AGENT)


# ---------------------------------------------------------------- the commands
def test_claim_assign_unassign_record_the_assignee_before_and_after() -> None:
    w = build()
    ticket_id = ticket_in(w, _S.SUBMITTED)
    claimed = w.service.claim(SECOND, ticket_id)
    assert claimed.ticket is not None and claimed.ticket.assignee == me(SECOND)
    w.service.assign(ADMIN, ticket_id, VENDOR)
    w.service.unassign(ADMIN, ticket_id)
    events = list(w.store.events.get(ticket_id))[-3:]
    assert [(type(e).__name__, e.previous_assignee, e.assignee) for e in events] == [
        ("TicketClaimed", None, me(SECOND)),
        ("TicketAssigned", me(SECOND), str(VENDOR)),
        ("TicketUnassigned", str(VENDOR), None),
    ]
    assert [e.meta.actor.username for e in events] == ["second", "admin", "admin"]
    assert holder(w, ticket_id) is None


def test_a_second_line_agent_claims_only_what_nobody_else_holds() -> None:
    w = build()
    ticket_id = ticket_in(w, _S.SUBMITTED)
    w.service.claim(SECOND, ticket_id)
    refused(w, "NO_CHANGE", lambda: w.service.claim(SECOND, ticket_id))
    refused(w, "ASSIGNED_TO_OTHER", lambda: w.service.claim(OTHER, ticket_id))
    refused(w, "ASSIGNED_TO_OTHER", lambda: w.service.unassign(OTHER, ticket_id))
    refused(w, "ASSIGNED_TO_OTHER", lambda: w.service.assign(OTHER, ticket_id, VENDOR))
    # Assigning is for tickets nobody holds, the agent's own included.
    refused(w, "ASSIGNED_TO_OTHER", lambda: w.service.assign(SECOND, ticket_id, VENDOR))
    w.service.claim(ADMIN, ticket_id)  # a SUPER_ADMIN takes it over
    assert holder(w, ticket_id) == me(ADMIN)
    w.service.unassign(ADMIN, ticket_id)
    w.service.assign(OTHER, ticket_id, VENDOR)  # nobody holds it: any agent may assign
    assert holder(w, ticket_id) == str(VENDOR)


def test_answering_a_ticket_someone_else_holds_is_refused_but_for_a_super_admin() -> None:
    w = build()
    ticket_id = ticket_in(w, _S.SUBMITTED)
    w.service.claim(SECOND, ticket_id)
    refused(w, "ASSIGNED_TO_OTHER", lambda: w.service.answer(OTHER, ticket_id, "我来答复"))
    w.service.answer(SECOND, ticket_id, "已处理")  # the holder answers
    w.service.resubmit(PRINCIPALS["gd.agent"], ticket_id, "还是不行")
    assert holder(w, ticket_id) == me(SECOND)  # the ticket comes back to its holder
    w.service.answer(ADMIN, ticket_id, "管理员答复")
    assert w.ticket(ticket_id).status is _S.ANSWERED


def test_the_queue_changes_hands_only_while_an_answer_is_awaited() -> None:
    w = build()
    for state in (_S.DRAFT, _S.ANSWERED, _S.CLOSED):
        ticket_id = ticket_in(w, state)
        refused(w, "INVALID_TRANSITION", lambda t=ticket_id: w.service.claim(SECOND, t))
    resubmitted = ticket_in(w, _S.RESUBMITTED)
    w.service.claim(SECOND, resubmitted)
    assert holder(w, resubmitted) == me(SECOND)


def test_only_an_enabled_second_line_agent_is_given_a_ticket() -> None:
    w = build()
    ticket_id = ticket_in(w, _S.SUBMITTED)
    viewer = Account.register(
        username="just.looking",
        display_name="Viewer",
        role=Role.VIEWER,
        province=None,
        password_hash="$fake$",
        meta=ChangeMeta(SYSTEM_ACTOR),
    )
    w.store.save(viewer)
    error = refused(w, "INVALID_ASSIGNEE", lambda: w.service.assign(ADMIN, ticket_id, viewer.id))
    assert error.field == ["assigneeId"]
    refused(w, "INVALID_ASSIGNEE", lambda: w.service.assign(ADMIN, ticket_id, ticket_id))
    vendor: Account = w.store.repository.get(VENDOR)
    vendor.disable("left the company", ChangeMeta(SYSTEM_ACTOR))
    w.store.save(vendor)
    refused(w, "INVALID_ASSIGNEE", lambda: w.service.assign(ADMIN, ticket_id, VENDOR))
    assert holder(w, ticket_id) is None


def test_a_stale_version_is_a_conflict_and_without_one_the_second_claim_learns_who_won() -> None:
    w = build()
    ticket_id = ticket_in(w, _S.SUBMITTED)
    seen = w.ticket(ticket_id).version
    w.service.claim(SECOND, ticket_id, seen)
    before = len(stored(w.store))
    refused(w, "VERSION_CONFLICT", lambda: w.service.claim(OTHER, ticket_id, seen))
    refused(w, "ASSIGNED_TO_OTHER", lambda: w.service.claim(OTHER, ticket_id))
    assert len(stored(w.store)) == before
