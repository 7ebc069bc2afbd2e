"""The ticket lifecycle written as data: state, command, next state, permission needed.

The aggregate consults this table for every command (the state a command leads to comes
from here, also when events are replayed), and the application takes the permission from
here, so the rules live in exactly one place (Request Tracker style lifecycles).
Claiming, assigning and unassigning (second line's queue) are rows like any other: allowed
while an answer is awaited, they leave the state as it is; the companion table in
assignment.py says whose tickets each of them (and answering) reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.access.permissions import Permission
from domain.support.errors import InvalidTransitionError


class TicketState(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    ANSWERED = "ANSWERED"
    RESUBMITTED = "RESUBMITTED"
    CLOSED = "CLOSED"
    # A discarded draft is gone for readers (the contract has no such status), but its
    # events stay in the store and its state is terminal.
    DISCARDED = "DISCARDED"


class TicketCommand(StrEnum):
    SAVE_DRAFT = "SAVE_DRAFT"
    SUBMIT = "SUBMIT"
    DISCARD = "DISCARD"
    ANSWER = "ANSWER"
    RESUBMIT = "RESUBMIT"
    RATE = "RATE"
    UPDATE_ARCHIVE = "UPDATE_ARCHIVE"
    # Second line's queue: who works the ticket (assignment.py adds whose tickets each reaches).
    CLAIM = "CLAIM"
    ASSIGN = "ASSIGN"
    UNASSIGN = "UNASSIGN"


@dataclass(frozen=True)
class Transition:
    state: TicketState
    command: TicketCommand
    next_state: TicketState
    permission: Permission


_S, _C = TicketState, TicketCommand
_FIRST, _SECOND = Permission.TICKET_FIRST_LINE, Permission.TICKET_SECOND_LINE

LIFECYCLE: tuple[Transition, ...] = (
    # state            command              next state        permission needed
    Transition(_S.DRAFT, _C.SAVE_DRAFT, _S.DRAFT, _FIRST),
    Transition(_S.DRAFT, _C.SUBMIT, _S.SUBMITTED, _FIRST),
    Transition(_S.DRAFT, _C.DISCARD, _S.DISCARDED, _FIRST),
    Transition(_S.SUBMITTED, _C.ANSWER, _S.ANSWERED, _SECOND),
    Transition(_S.SUBMITTED, _C.UPDATE_ARCHIVE, _S.SUBMITTED, _SECOND),
    Transition(_S.SUBMITTED, _C.CLAIM, _S.SUBMITTED, _SECOND),
    Transition(_S.SUBMITTED, _C.ASSIGN, _S.SUBMITTED, _SECOND),
    Transition(_S.SUBMITTED, _C.UNASSIGN, _S.SUBMITTED, _SECOND),
    Transition(_S.ANSWERED, _C.RESUBMIT, _S.RESUBMITTED, _FIRST),
    Transition(_S.ANSWERED, _C.RATE, _S.CLOSED, _FIRST),
    Transition(_S.ANSWERED, _C.UPDATE_ARCHIVE, _S.ANSWERED, _SECOND),
    Transition(_S.RESUBMITTED, _C.ANSWER, _S.ANSWERED, _SECOND),
    Transition(_S.RESUBMITTED, _C.UPDATE_ARCHIVE, _S.RESUBMITTED, _SECOND),
    Transition(_S.RESUBMITTED, _C.CLAIM, _S.RESUBMITTED, _SECOND),
    Transition(_S.RESUBMITTED, _C.ASSIGN, _S.RESUBMITTED, _SECOND),
    Transition(_S.RESUBMITTED, _C.UNASSIGN, _S.RESUBMITTED, _SECOND),
    Transition(_S.CLOSED, _C.UPDATE_ARCHIVE, _S.CLOSED, _SECOND),
)

#: Creating a ticket (saveTicketDraft without an id) starts in DRAFT and needs this.
CREATE_PERMISSION = _FIRST
INITIAL_STATE = _S.DRAFT

#: States in which the SLA clock runs (an answer is awaited); it pauses everywhere else.
CLOCK_RUNS_IN = frozenset({_S.SUBMITTED, _S.RESUBMITTED})

#: States readers see; a discarded draft is not served.
VISIBLE_STATES = frozenset(s for s in TicketState if s is not _S.DISCARDED)

_TABLE: dict[tuple[TicketState, TicketCommand], Transition] = {
    (t.state, t.command): t for t in LIFECYCLE
}

_VERBS = {
    _C.SAVE_DRAFT: "edit the draft of",
    _C.SUBMIT: "submit",
    _C.DISCARD: "discard",
    _C.ANSWER: "answer",
    _C.RESUBMIT: "resubmit",
    _C.RATE: "rate",
    _C.UPDATE_ARCHIVE: "update the archive fields of",
    _C.CLAIM: "claim",
    _C.ASSIGN: "assign",
    _C.UNASSIGN: "unassign",
}


def _permission_per_command() -> dict[TicketCommand, Permission]:
    found: dict[TicketCommand, Permission] = {}
    for t in LIFECYCLE:
        if found.setdefault(t.command, t.permission) is not t.permission:
            raise AssertionError(f"{t.command} needs one permission in every state")
    return found


COMMAND_PERMISSIONS = _permission_per_command()


def permission_for(command: TicketCommand) -> Permission:
    """The permission a command needs (the same in every state it is allowed in)."""
    return COMMAND_PERMISSIONS[command]


def allowed_commands(state: TicketState) -> list[TicketCommand]:
    return [t.command for t in LIFECYCLE if t.state is state]


def next_state(state: TicketState, command: TicketCommand) -> TicketState:
    """Where the command leads from this state; INVALID_TRANSITION when it is not allowed."""
    transition = _TABLE.get((state, command))
    if transition is None:
        allowed = ", ".join(c.value for c in allowed_commands(state)) or "nothing"
        raise InvalidTransitionError(
            f"cannot {_VERBS[command]} a ticket that is {state.value}"
            f" (allowed in {state.value}: {allowed})",
            state=state.value,
        )
    return transition.next_state
