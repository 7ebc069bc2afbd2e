"""Ticket commands: the e-flow between provincial first line and vendor second line, and
second line's queue (claim, assign, unassign).

Permissions come from the lifecycle table (domain/support/lifecycle.py): a role lacking a
command's permission is FORBIDDEN, a province agent acting on another province's ticket is
FORBIDDEN, and a command the ticket's state does not allow is INVALID_TRANSITION. The queue's
table (domain/support/assignment.py) adds ASSIGNED_TO_OTHER for a ticket someone else holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from application.authz import Principal
from application.ports import Clock
from application.unit_of_work import get_or_none, run_command, save
from domain.access.account import Account
from domain.access.provinces import validate_province
from domain.calendar_days import local_day
from domain.shared import ChangeMeta, NotFoundError, ValidationError
from domain.support.assignment import InvalidAssigneeError, check_assignee, check_reach
from domain.support.lifecycle import CREATE_PERMISSION, TicketCommand, permission_for
from domain.support.numbers import TicketNumberSequence, sequence_id
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.ticket_content import KEEP, DraftContent, Keep
from domain.support.values import TicketCategory, TicketPriority

_C = TicketCommand


@dataclass(frozen=True)
class TicketResult:
    """The ticket after the command (None once a draft is discarded) and the last position."""

    ticket: Ticket | None
    position: int | None


def load_ticket(store: Application[UUID], ticket_id: UUID) -> Ticket:
    found = get_or_none(store, ticket_id, Ticket)
    if found is None:
        raise NotFoundError("ticket not found", field=["id"])
    return found


class TicketService:
    """The ticket commands of saveTicketDraft ... discardTicketDraft."""

    def __init__(self, store: Application[UUID], clock: Clock, sla: SlaPolicy) -> None:
        self.store = store
        self.clock = clock
        self.sla = sla

    # ------------------------------------------------------------------ drafts
    def save_draft(
        self,
        principal: Principal,
        *,
        ticket_id: UUID | None,
        title: str,
        body: str,
        category: TicketCategory,
        priority: TicketPriority,
        msisdn: str | None = None,
        province: str | None = None,
        expected_version: int | None = None,
    ) -> TicketResult:
        """Start a draft (no id) or edit one (with its id)."""
        content = DraftContent.clean(title, body, category, priority, msisdn)
        if ticket_id is not None:
            return self._run(
                principal,
                ticket_id,
                _C.SAVE_DRAFT,
                expected_version,
                lambda t, now, meta: t.edit_draft(content=content, at=now, meta=meta),
                province=province,
            )
        scope = principal.require(CREATE_PERMISSION)
        home = self._draft_province(principal, scope, province)
        ticket = Ticket.draft(
            province=home, content=content, at=self.clock.now(), meta=principal.meta()
        )
        return TicketResult(ticket, save(self.store, ticket))

    @staticmethod
    def _draft_province(principal: Principal, scope: str | None, requested: str | None) -> str:
        if requested is not None:
            validate_province(requested)
            principal.require_in_province(CREATE_PERMISSION, requested)
            return requested
        home = scope or principal.province
        if home is None:
            raise ValidationError(
                "say which province the ticket is for", code="PROVINCE_REQUIRED", field=["province"]
            )
        return home

    def discard_draft(self, principal: Principal, ticket_id: UUID) -> TicketResult:
        return self._run(
            principal,
            ticket_id,
            _C.DISCARD,
            None,
            lambda t, now, meta: t.discard(at=now, meta=meta),
        )

    # ------------------------------------------------------------------ the e-flow
    def submit(
        self, principal: Principal, ticket_id: UUID, expected_version: int | None = None
    ) -> TicketResult:
        def act(ticket: Ticket, now: datetime, meta: ChangeMeta) -> list[Aggregate]:
            sequences: list[Aggregate] = []

            def allocate() -> str:
                found = get_or_none(
                    self.store, sequence_id(ticket.province, local_day(now)), TicketNumberSequence
                )
                sequence = found or TicketNumberSequence.start(ticket.province, now, meta)
                sequences.append(sequence)
                number: str = sequence.issue(ticket.id, meta)
                return number

            ticket.submit(at=now, sla=self.sla, allocate_number=allocate, meta=meta)
            return sequences

        return self._run(principal, ticket_id, _C.SUBMIT, expected_version, act)

    def answer(
        self,
        principal: Principal,
        ticket_id: UUID,
        body: str,
        expected_version: int | None = None,
    ) -> TicketResult:
        calendar = self.sla.calendar
        return self._run(
            principal,
            ticket_id,
            _C.ANSWER,
            expected_version,
            lambda t, now, meta: t.answer(body=body, at=now, calendar=calendar, meta=meta),
        )

    def resubmit(
        self,
        principal: Principal,
        ticket_id: UUID,
        body: str,
        expected_version: int | None = None,
    ) -> TicketResult:
        calendar = self.sla.calendar
        return self._run(
            principal,
            ticket_id,
            _C.RESUBMIT,
            expected_version,
            lambda t, now, meta: t.resubmit(body=body, at=now, calendar=calendar, meta=meta),
        )

    def rate(
        self,
        principal: Principal,
        ticket_id: UUID,
        score: int,
        comment: str | None = None,
        expected_version: int | None = None,
    ) -> TicketResult:
        return self._run(
            principal,
            ticket_id,
            _C.RATE,
            expected_version,
            lambda t, now, meta: t.rate(score=score, comment=comment, at=now, meta=meta),
        )

    def update_archive(
        self,
        principal: Principal,
        ticket_id: UUID,
        *,
        resolution_category: str | Keep | None = KEEP,
        root_cause: str | Keep | None = KEEP,
        resolution: str | Keep | None = KEEP,
        tags: list[str] | Keep | None = KEEP,
        expected_version: int | None = None,
    ) -> TicketResult:
        """Second line keeps the archive fields (存檔項); KEEP leaves a field, None clears it."""
        return self._run(
            principal,
            ticket_id,
            _C.UPDATE_ARCHIVE,
            expected_version,
            lambda t, now, meta: t.update_archive(
                resolution_category=resolution_category,
                root_cause=root_cause,
                resolution=resolution,
                tags=tags,
                at=now,
                meta=meta,
            ),
        )

    # ------------------------------------------------------------------ the queue
    def claim(
        self, principal: Principal, ticket_id: UUID, expected_version: int | None = None
    ) -> TicketResult:
        """The caller takes the ticket (a SUPER_ADMIN may take one someone holds)."""
        caller = str(principal.account_id)
        return self._run(
            principal,
            ticket_id,
            _C.CLAIM,
            expected_version,
            lambda t, now, meta: t.claim(by=caller, at=now, meta=meta),
        )

    def assign(
        self,
        principal: Principal,
        ticket_id: UUID,
        assignee_id: UUID,
        expected_version: int | None = None,
    ) -> TicketResult:
        """Give the ticket to an enabled SECOND_LINE_AGENT (INVALID_ASSIGNEE otherwise)."""

        def act(ticket: Ticket, now: datetime, meta: ChangeMeta) -> None:
            account = get_or_none(self.store, assignee_id, Account, read_only=True)
            if not isinstance(account, Account):
                raise InvalidAssigneeError("no such account", field=["assigneeId"])
            check_assignee(account.role, account.enabled)
            ticket.assign(to=str(account.id), at=now, meta=meta)

        return self._run(principal, ticket_id, _C.ASSIGN, expected_version, act)

    def unassign(
        self, principal: Principal, ticket_id: UUID, expected_version: int | None = None
    ) -> TicketResult:
        """Put the ticket back in the queue, held by nobody."""
        return self._run(
            principal,
            ticket_id,
            _C.UNASSIGN,
            expected_version,
            lambda t, now, meta: t.unassign(at=now, meta=meta),
        )

    # ------------------------------------------------------------------ plumbing
    def _run(
        self,
        principal: Principal,
        ticket_id: UUID,
        command: TicketCommand,
        expected_version: int | None,
        act: Callable[[Ticket, datetime, ChangeMeta], list[Aggregate] | None],
        province: str | None = None,
    ) -> TicketResult:
        """Check the permission, then load, check province and version, act, save (retried)."""
        permission = permission_for(command)
        principal.require(permission)
        meta = principal.meta()

        def load() -> Ticket:
            ticket = load_ticket(self.store, ticket_id)
            principal.require_in_province(permission, ticket.province)
            if province is not None and province != ticket.province:
                raise ValidationError("a ticket's province cannot be changed", field=["province"])
            return ticket

        def decide(ticket: Ticket) -> TicketResult:
            # After the version check, so a stale expectedVersion is a conflict; retried
            # after a conflict, so of two agents claiming at once the second learns who won.
            check_reach(
                command, ticket.status, ticket.assignee, str(principal.account_id), principal.role
            )
            others = act(ticket, self.clock.now(), meta) or []
            position = save(self.store, ticket, *others)
            return TicketResult(ticket if ticket.visible else None, position)

        # Concurrent submissions in one province on one day contend for the same number
        # sequence: a conflict there is retried, one that moved the ticket is reported.
        return run_command(load, decide, expected_version=expected_version)
