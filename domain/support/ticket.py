"""The Ticket aggregate: the e-flow between provincial first line and vendor second line.

Every command first asks the lifecycle table (lifecycle.py) whether the current state allows
it, then checks its own input rules, and only then triggers its event; the event's mutator
takes the next state from the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from eventsourcing.domain import Aggregate, event

from domain.access.provinces import validate_province
from domain.shared import ChangeMeta, NoChangeError, ValidationError
from domain.support.lifecycle import (
    CLOCK_RUNS_IN,
    INITIAL_STATE,
    VISIBLE_STATES,
    TicketCommand,
    next_state,
)
from domain.support.sla import BusinessCalendar, SlaPolicy
from domain.support.ticket_content import (
    KEEP,
    DraftContent,
    Keep,
    TicketArchive,
    TicketEntry,
    TicketRating,
)
from domain.support.values import BODY, COMMENT, EntryKind, TicketCategory, TicketPriority

_C = TicketCommand


class Ticket(Aggregate):
    """A support ticket. Events carry the command's time (`at`) and who acted (`meta`)."""

    TOPIC = "spoa.support:Ticket"

    class Event(Aggregate.Event):
        TOPIC = "spoa.support:Ticket.Event"

    # ------------------------------------------------------------------ drafting
    @classmethod
    def draft(
        cls, *, province: str, content: DraftContent, at: datetime, meta: ChangeMeta
    ) -> Ticket:
        validate_province(province)
        return cls(
            province=province,
            title=content.title,
            body=content.body,
            category=content.category.value,
            priority=content.priority.value,
            msisdn=content.msisdn,
            at=at,
            meta=meta,
        )

    @event("TicketDrafted", topic="spoa.support:Ticket.TicketDrafted")
    def __init__(
        self,
        province: str,
        title: str,
        body: str,
        category: str,
        priority: str,
        msisdn: str | None,
        at: datetime,
        meta: ChangeMeta,
    ) -> None:
        self.province = province
        self.status = INITIAL_STATE
        self.number: str | None = None
        self.title = title
        self.body = body
        self.category = TicketCategory(category)
        self.priority = TicketPriority(priority)
        self.msisdn = msisdn
        self.created_by = meta.actor.account_id
        self.created_at = at
        self.draft_saved_at = at
        self.draft_saved_by = self.created_by
        self.submitted_at: datetime | None = None
        self.first_answered_at: datetime | None = None
        self.answered_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.discarded_at: datetime | None = None
        self.entries: list[TicketEntry] = []
        self.archive = TicketArchive()
        self.rating: TicketRating | None = None
        # SLA: the business-time budget is fixed at submission; the clock runs only while
        # an answer is awaited (waiting_since is set) and the used time accumulates.
        self.sla_budget_seconds = 0
        self.sla_used_seconds = 0
        self.waiting_since: datetime | None = None
        self.due_at: datetime | None = None

    def content(self) -> DraftContent:
        return DraftContent(self.title, self.body, self.category, self.priority, self.msisdn)

    def edit_draft(self, *, content: DraftContent, at: datetime, meta: ChangeMeta) -> None:
        next_state(self.status, _C.SAVE_DRAFT)
        if content == self.content():
            raise NoChangeError("the draft already says exactly this")
        self._draft_edited(
            title=content.title,
            body=content.body,
            category=content.category.value,
            priority=content.priority.value,
            msisdn=content.msisdn,
            at=at,
            meta=meta,
        )

    @event("TicketDraftEdited", topic="spoa.support:Ticket.TicketDraftEdited")
    def _draft_edited(
        self,
        title: str,
        body: str,
        category: str,
        priority: str,
        msisdn: str | None,
        at: datetime,
        meta: ChangeMeta,
    ) -> None:
        self.status = next_state(self.status, _C.SAVE_DRAFT)
        self.title = title
        self.body = body
        self.category = TicketCategory(category)
        self.priority = TicketPriority(priority)
        self.msisdn = msisdn
        self.draft_saved_at = at
        self.draft_saved_by = meta.actor.account_id

    def discard(self, *, at: datetime, meta: ChangeMeta) -> None:
        next_state(self.status, _C.DISCARD)
        self._draft_discarded(at=at, meta=meta)

    @event("TicketDraftDiscarded", topic="spoa.support:Ticket.TicketDraftDiscarded")
    def _draft_discarded(self, at: datetime, meta: ChangeMeta) -> None:
        self.status = next_state(self.status, _C.DISCARD)
        self.discarded_at = at

    # ------------------------------------------------------------------ the e-flow
    def submit(
        self,
        *,
        at: datetime,
        sla: SlaPolicy,
        allocate_number: Callable[[], str],
        meta: ChangeMeta,
    ) -> None:
        """Send the draft to second line. The number is allocated only once every rule passed."""
        next_state(self.status, _C.SUBMIT)
        if not self.title:
            raise ValidationError(
                "a ticket needs a title before it is submitted", code="REQUIRED", field=["title"]
            )
        if not self.body:
            raise ValidationError(
                "a ticket needs a body before it is submitted", code="REQUIRED", field=["body"]
            )
        budget = sla.budget(self.priority)
        self._submitted(
            number=self.number or allocate_number(),
            province=self.province,
            category=self.category.value,
            priority=self.priority.value,
            at=at,
            due_at=sla.calendar.add_business_time(at, budget),
            sla_budget_seconds=int(budget.total_seconds()),
            meta=meta,
        )

    @event("TicketSubmitted", topic="spoa.support:Ticket.TicketSubmitted")
    def _submitted(
        self,
        number: str,
        province: str,
        category: str,
        priority: str,
        at: datetime,
        due_at: datetime,
        sla_budget_seconds: int,
        meta: ChangeMeta,
    ) -> None:
        self.status = next_state(self.status, _C.SUBMIT)
        self.number = number
        self.submitted_at = at
        self.entries.append(
            TicketEntry(EntryKind.SUBMISSION.value, self.body, meta.actor.account_id, at)
        )
        self.sla_budget_seconds = sla_budget_seconds
        self.sla_used_seconds = 0
        self.waiting_since = at
        self.due_at = due_at

    def answer(
        self, *, body: str, at: datetime, calendar: BusinessCalendar, meta: ChangeMeta
    ) -> None:
        next_state(self.status, _C.ANSWER)
        text = BODY.clean(body, required=True, why="an answer needs a body")
        waited = (
            calendar.business_time(self.waiting_since, at)
            if self.waiting_since is not None
            else timedelta(0)
        )
        self._answered(
            body=text,
            at=at,
            sla_used_seconds=self.sla_used_seconds + int(waited.total_seconds()),
            late=self.due_at is not None and at > self.due_at,
            meta=meta,
        )

    @event("TicketAnswered", topic="spoa.support:Ticket.TicketAnswered")
    def _answered(
        self, body: str, at: datetime, sla_used_seconds: int, late: bool, meta: ChangeMeta
    ) -> None:
        self.status = next_state(self.status, _C.ANSWER)
        self.entries.append(TicketEntry(EntryKind.ANSWER.value, body, meta.actor.account_id, at))
        self.answered_at = at
        if self.first_answered_at is None:
            self.first_answered_at = at
        self.sla_used_seconds = sla_used_seconds
        self.waiting_since = None
        self.due_at = None  # the clock pauses while the ticket is with first line

    def resubmit(
        self, *, body: str, at: datetime, calendar: BusinessCalendar, meta: ChangeMeta
    ) -> None:
        next_state(self.status, _C.RESUBMIT)
        text = BODY.clean(
            body,
            required=True,
            why="say why the answer was not enough: a resubmission needs a body",
        )
        remaining = max(self.sla_budget_seconds - self.sla_used_seconds, 0)
        self._resubmitted(
            body=text,
            at=at,
            due_at=calendar.add_business_time(at, timedelta(seconds=remaining)),
            meta=meta,
        )

    @event("TicketResubmitted", topic="spoa.support:Ticket.TicketResubmitted")
    def _resubmitted(self, body: str, at: datetime, due_at: datetime, meta: ChangeMeta) -> None:
        self.status = next_state(self.status, _C.RESUBMIT)
        self.entries.append(
            TicketEntry(EntryKind.RESUBMISSION.value, body, meta.actor.account_id, at)
        )
        self.waiting_since = at
        self.due_at = due_at

    def rate(self, *, score: int, comment: str | None, at: datetime, meta: ChangeMeta) -> None:
        next_state(self.status, _C.RATE)
        if not 1 <= score <= 5:
            raise ValidationError("the score must be 1 to 5", code="INVALID_SCORE", field=["score"])
        self._rated(score=score, comment=COMMENT.optional(comment), at=at, meta=meta)

    @event("TicketRated", topic="spoa.support:Ticket.TicketRated")
    def _rated(self, score: int, comment: str | None, at: datetime, meta: ChangeMeta) -> None:
        self.status = next_state(self.status, _C.RATE)
        self.rating = TicketRating(score=score, comment=comment, at=at)
        self.entries.append(
            TicketEntry(EntryKind.RATING.value, comment or "", meta.actor.account_id, at)
        )
        self.closed_at = at

    # ------------------------------------------------------------------ archive (存檔項)
    def update_archive(
        self,
        *,
        resolution_category: str | Keep | None = KEEP,
        root_cause: str | Keep | None = KEEP,
        resolution: str | Keep | None = KEEP,
        tags: list[str] | Keep | None = KEEP,
        at: datetime,
        meta: ChangeMeta,
    ) -> None:
        """Change the given archive fields (KEEP leaves one as it is, None clears it)."""
        next_state(self.status, _C.UPDATE_ARCHIVE)
        new = self.archive.edited(resolution_category, root_cause, resolution, tags)
        self._archive_updated(
            resolution_category=new.resolution_category,
            root_cause=new.root_cause,
            resolution=new.resolution,
            tags=list(new.tags),
            at=at,
            meta=meta,
        )

    @event("TicketArchiveUpdated", topic="spoa.support:Ticket.TicketArchiveUpdated")
    def _archive_updated(
        self,
        resolution_category: str | None,
        root_cause: str | None,
        resolution: str | None,
        tags: list[str],
        at: datetime,
        meta: ChangeMeta,
    ) -> None:
        self.status = next_state(self.status, _C.UPDATE_ARCHIVE)
        self.archive = TicketArchive(resolution_category, root_cause, resolution, tuple(tags))

    # ------------------------------------------------------------------ the queue
    #: The account working the ticket, or None (assignment.py says whose tickets a command
    #: reaches). A class default, so tickets stored before the queue existed read unassigned.
    assignee: str | None = None

    def claim(self, *, by: str, at: datetime, meta: ChangeMeta) -> None:
        """The caller (`by`) takes the ticket."""
        self._change_assignee(_C.CLAIM, by, at, meta)

    def assign(self, *, to: str, at: datetime, meta: ChangeMeta) -> None:
        self._change_assignee(_C.ASSIGN, to, at, meta)

    def unassign(self, *, at: datetime, meta: ChangeMeta) -> None:
        self._change_assignee(_C.UNASSIGN, None, at, meta)

    def _change_assignee(
        self, command: TicketCommand, assignee: str | None, at: datetime, meta: ChangeMeta
    ) -> None:
        next_state(self.status, command)
        if assignee == self.assignee:
            held = "nobody holds the ticket" if assignee is None else "it is assigned to them"
            raise NoChangeError(f"{held} already")
        events: dict[TicketCommand, Callable[..., None]] = {
            _C.CLAIM: self._claimed,
            _C.ASSIGN: self._assigned,
            _C.UNASSIGN: self._freed,
        }
        events[command](previous_assignee=self.assignee, assignee=assignee, at=at, meta=meta)

    @event("TicketClaimed", topic="spoa.support:Ticket.TicketClaimed")
    def _claimed(
        self, previous_assignee: str | None, assignee: str, at: datetime, meta: ChangeMeta
    ) -> None:
        self.status = next_state(self.status, _C.CLAIM)
        self.assignee = assignee

    @event("TicketAssigned", topic="spoa.support:Ticket.TicketAssigned")
    def _assigned(
        self, previous_assignee: str | None, assignee: str, at: datetime, meta: ChangeMeta
    ) -> None:
        self.status = next_state(self.status, _C.ASSIGN)
        self.assignee = assignee

    @event("TicketUnassigned", topic="spoa.support:Ticket.TicketUnassigned")
    def _freed(
        self, previous_assignee: str | None, assignee: None, at: datetime, meta: ChangeMeta
    ) -> None:
        self.status = next_state(self.status, _C.UNASSIGN)
        self.assignee = None

    # ------------------------------------------------------------------ derived
    @property
    def visible(self) -> bool:
        return self.status in VISIBLE_STATES

    def is_overdue(self, now: datetime) -> bool:
        """An answer is awaited and its due time has passed."""
        return self.status in CLOCK_RUNS_IN and self.due_at is not None and now > self.due_at


#: Every event of the ticket, for projections and audit catalogues.
TICKET_EVENTS: tuple[type[Aggregate.Event], ...] = (
    Ticket.TicketDrafted,  # type: ignore[attr-defined]
    Ticket.TicketDraftEdited,  # type: ignore[attr-defined]
    Ticket.TicketDraftDiscarded,  # type: ignore[attr-defined]
    Ticket.TicketSubmitted,  # type: ignore[attr-defined]
    Ticket.TicketAnswered,  # type: ignore[attr-defined]
    Ticket.TicketResubmitted,  # type: ignore[attr-defined]
    Ticket.TicketRated,  # type: ignore[attr-defined]
    Ticket.TicketArchiveUpdated,  # type: ignore[attr-defined]
    Ticket.TicketClaimed,  # type: ignore[attr-defined]
    Ticket.TicketAssigned,  # type: ignore[attr-defined]
    Ticket.TicketUnassigned,  # type: ignore[attr-defined]
)
