"""Second line's queue: whose tickets claiming, assigning, unassigning and answering reach.

The companion of the lifecycle table (lifecycle.py), written as data the same way: the
lifecycle says in which states each command is allowed and which permission it needs; this
table says how far each reaches among tickets someone already holds. A role that reaches
every ticket (SUPER_ADMIN) acts on any; anyone else acting beyond the reach of their command is
refused with ASSIGNED_TO_OTHER, which tells them who holds the ticket is not them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.access.permissions import Role
from domain.shared import DomainError
from domain.support.lifecycle import TicketCommand, TicketState, next_state


class Reach(StrEnum):
    """Which tickets a command reaches for a caller whose role does not reach every one."""

    UNASSIGNED = "UNASSIGNED"  # only tickets nobody holds
    OWN_OR_UNASSIGNED = "OWN_OR_UNASSIGNED"  # tickets nobody holds, and the caller's own


@dataclass(frozen=True)
class QueueRule:
    command: TicketCommand
    reach: Reach


_C, _R = TicketCommand, Reach

QUEUE: tuple[QueueRule, ...] = (
    # command       reach (unless the caller's role reaches every ticket)
    QueueRule(_C.CLAIM, _R.OWN_OR_UNASSIGNED),
    QueueRule(_C.ASSIGN, _R.UNASSIGNED),
    QueueRule(_C.UNASSIGN, _R.OWN_OR_UNASSIGNED),
    QueueRule(_C.ANSWER, _R.OWN_OR_UNASSIGNED),
)

#: Roles whose commands reach every ticket, whoever holds it.
REACHES_EVERY_TICKET = frozenset({Role.SUPER_ADMIN})
#: Who may be given a ticket by assignTicket: the people who work second line's queue.
ASSIGNEE_ROLE = Role.SECOND_LINE_AGENT

_REACH: dict[TicketCommand, Reach] = {rule.command: rule.reach for rule in QUEUE}


class AssignedToOtherError(DomainError):
    """The ticket is held by someone else (or, for assigning, by anyone at all)."""

    code = "ASSIGNED_TO_OTHER"


class InvalidAssigneeError(DomainError):
    code = "INVALID_ASSIGNEE"


def reach_of(command: TicketCommand) -> Reach | None:
    """How far the command reaches among held tickets; None: the queue does not limit it."""
    return _REACH.get(command)


def check_reach(
    command: TicketCommand,
    state: TicketState,
    assignee: str | None,
    caller_id: str,
    caller_role: Role,
) -> None:
    """May the caller run `command` on a ticket in `state` held by `assignee`? The state
    is asked first (INVALID_TRANSITION), then the queue (ASSIGNED_TO_OTHER)."""
    next_state(state, command)
    reach = _REACH.get(command)
    if reach is None or assignee is None or caller_role in REACHES_EVERY_TICKET:
        return
    if reach is Reach.OWN_OR_UNASSIGNED and assignee == caller_id:
        return
    if assignee == caller_id:
        raise AssignedToOtherError(
            "the ticket is already yours; only a SUPER_ADMIN reassigns a ticket someone holds",
            field=["id"],
        )
    raise AssignedToOtherError(
        "the ticket is assigned to another agent; only they or a SUPER_ADMIN may do this",
        field=["id"],
    )


def check_assignee(role: Role, enabled: bool) -> None:
    """A ticket is assigned only to an enabled account of the role that works the queue."""
    if role is not ASSIGNEE_ROLE:
        raise InvalidAssigneeError(
            f"tickets are assigned to {ASSIGNEE_ROLE.value} accounts, not {role.value}",
            field=["assigneeId"],
        )
    if not enabled:
        raise InvalidAssigneeError(
            "the account is disabled: assign the ticket to an enabled one", field=["assigneeId"]
        )
