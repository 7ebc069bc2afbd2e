"""Drafts are private working copies: who sees a ticket that is still a draft.

A draft shows in no one's lists, counts, searches or statistics but its author's and a
SUPER_ADMIN's, other agents of the same province included; the log stays complete, so an
AUDITOR still reads a draft by id, as of a time and in the audit trail.
"""

from __future__ import annotations

from application.authz import Principal
from domain.access.permissions import Role
from domain.support.lifecycle import TicketState

#: Roles that list every draft (besides each draft's author, who always does).
LIST_EVERY_DRAFT = frozenset({Role.SUPER_ADMIN})
#: Roles that read any draft by id and as of a time (besides its author).
READ_EVERY_DRAFT = frozenset({Role.SUPER_ADMIN, Role.AUDITOR})


def lists_every_draft(principal: Principal) -> bool:
    return principal.role in LIST_EVERY_DRAFT


def may_read(principal: Principal, status: TicketState, created_by: str) -> bool:
    """May the caller, who may read the ticket's province, read it in this state?"""
    if status is not TicketState.DRAFT or principal.role in READ_EVERY_DRAFT:
        return True
    return created_by == str(principal.account_id)
