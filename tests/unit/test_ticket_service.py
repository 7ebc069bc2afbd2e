"""TicketService on an in-memory store: every transition of the lifecycle table passes, every
other state is INVALID_TRANSITION, who may comes from the living permissions.md, and bad input,
stale expectedVersion and unknown ids are refused. Every failure leaves the whole store (ticket
and number sequences) as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from application.authz import Principal
from application.support.tickets import TicketResult, TicketService
from domain.access.account import Account, account_id_for
from domain.access.permissions import Permission, Role
from domain.shared import SYSTEM_ACTOR, ChangeMeta, DomainError
from domain.support.lifecycle import (
    LIFECYCLE,
    TicketCommand,
    TicketState,
    Transition,
    permission_for,
)
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.values import TicketCategory, TicketPriority
from infra.stores import CoreStore
from tests.memory_store import FakeClock, may, memory_store, stored
from tests.memory_store import refused as assert_refused
from tests.subscriber_helpers import PRINCIPALS
from tests.unit.support_builders import MONDAY_10, PATHS

ADMIN, SECOND = PRINCIPALS["admin"], PRINCIPALS["second"]
GD_AGENT, BJ_AGENT = PRINCIPALS["gd.agent"], PRINCIPALS["bj.agent"]
SLA = SlaPolicy()
_C, _S = TicketCommand, TicketState
#: An enabled SECOND_LINE_AGENT account in every world's store, to assign tickets to.
VENDOR = account_id_for("vendor.two")


@dataclass
class World:
    service: TicketService
    store: CoreStore
    clock: FakeClock

    def ticket(self, ticket_id: UUID) -> Ticket:
        found: Ticket = self.store.repository.get(ticket_id)
        return found


def build() -> World:
    """The one place the service is constructed (its signature changes in one line here)."""
    store, clock = memory_store(), FakeClock(MONDAY_10)
    vendor = Account.register(
        username="vendor.two",
        display_name="Vendor Two",
        role=Role.SECOND_LINE_AGENT,
        province=None,
        password_hash="$fake$",
        meta=ChangeMeta(SYSTEM_ACTOR),
    )
    store.save(vendor)
    return World(TicketService(store, clock, SLA), store, clock)


def draft(w: World, who: Principal = GD_AGENT, **overrides: Any) -> TicketResult:
    values: dict[str, Any] = {
        "ticket_id": None,
        "title": "邮箱无法登录",
        "body": "用户反映网页版登录失败",
        "category": TicketCategory.FAULT,
        "priority": TicketPriority.NORMAL,
        "msisdn": "13800138000",
    }
    return w.service.save_draft(who, **(values | overrides))


Step = Callable[[TicketService, Principal, UUID, int | None], TicketResult]

# Each command with valid input; `v` is the expectedVersion (discarding takes none).
STEPS: dict[TicketCommand, Step] = {
    _C.SAVE_DRAFT: lambda s, p, t, v: s.save_draft(
        p,
        ticket_id=t,
        title="邮箱仍无法登录",
        body="补充：客户端也失败",
        category=TicketCategory.FAULT,
        priority=TicketPriority.HIGH,
        expected_version=v,
    ),
    _C.SUBMIT: lambda s, p, t, v: s.submit(p, t, v),
    _C.DISCARD: lambda s, p, t, v: s.discard_draft(p, t),
    _C.ANSWER: lambda s, p, t, v: s.answer(p, t, "请清除浏览器缓存后重试", v),
    _C.RESUBMIT: lambda s, p, t, v: s.resubmit(p, t, "清除缓存后仍然无法登录", v),
    _C.RATE: lambda s, p, t, v: s.rate(p, t, 4, "解决了", v),
    _C.UPDATE_ARCHIVE: lambda s, p, t, v: s.update_archive(
        p, t, root_cause="缓存", tags=["登录"], expected_version=v
    ),
    _C.CLAIM: lambda s, p, t, v: s.claim(p, t, v),
    _C.ASSIGN: lambda s, p, t, v: s.assign(p, t, VENDOR, v),
    _C.UNASSIGN: lambda s, p, t, v: s.unassign(p, t, v),
}
OPERATIONS = {
    _C.SAVE_DRAFT: "saveTicketDraft",
    _C.SUBMIT: "submitTicket",
    _C.DISCARD: "discardTicketDraft",
    _C.ANSWER: "answerTicket",
    _C.RESUBMIT: "resubmitTicket",
    _C.RATE: "rateTicket",
    _C.UPDATE_ARCHIVE: "updateTicketArchive",
    _C.CLAIM: "claimTicket",
    _C.ASSIGN: "assignTicket",
    _C.UNASSIGN: "unassignTicket",
}
EVENTS = {
    _C.SAVE_DRAFT: ("TicketDraftEdited",),
    _C.DISCARD: ("TicketDraftDiscarded",),
    _C.ANSWER: ("TicketAnswered",),
    _C.RESUBMIT: ("TicketResubmitted",),
    _C.RATE: ("TicketRated",),
    _C.UPDATE_ARCHIVE: ("TicketArchiveUpdated",),
    _C.CLAIM: ("TicketClaimed",),
    _C.ASSIGN: ("TicketAssigned",),
    _C.UNASSIGN: ("TicketUnassigned",),
    # The day's first number starts the province's sequence, in the ticket's transaction.
    _C.SUBMIT: ("TicketSubmitted", "TicketNumberSequenceStarted", "TicketNumberIssued"),
}
ACTOR = {Permission.TICKET_FIRST_LINE: GD_AGENT, Permission.TICKET_SECOND_LINE: SECOND}
# The first state each command passes in.
PASSES_IN = {t.command: t.state for t in reversed(LIFECYCLE)}


def step(w: World, command: TicketCommand, ticket_id: UUID, who: Principal | None = None) -> Any:
    w.clock.advance(minutes=10)
    return STEPS[command](w.service, who or ACTOR[permission_for(command)], ticket_id, None)


def ticket_in(w: World, state: TicketState, first_line: Principal = GD_AGENT) -> UUID:
    """A ticket of first_line's province driven to `state` through the service."""
    created = draft(w, first_line).ticket
    assert created is not None
    for command in PATHS[state]:
        second = permission_for(command) is Permission.TICKET_SECOND_LINE
        step(w, command, created.id, SECOND if second else first_line)
    assert w.ticket(created.id).status is state
    return created.id


def ready(w: World, command: TicketCommand, ticket_id: UUID) -> UUID:
    """Unassigning needs someone holding the ticket: second line claims it first."""
    if command is _C.UNASSIGN:
        w.service.claim(SECOND, ticket_id)
    return ticket_id


def refused(w: World, code: str, when: Callable[[], Any]) -> DomainError:
    return assert_refused(w.store, code, when)


# ---------------------------------------------------------------- the lifecycle table
@pytest.mark.parametrize("transition", LIFECYCLE, ids=[f"{t.state}-{t.command}" for t in LIFECYCLE])
def test_every_transition_of_the_lifecycle_passes(transition: Transition) -> None:
    w = build()
    ticket_id = ready(w, transition.command, ticket_in(w, transition.state))
    who = ACTOR[transition.permission]
    before, version = stored(w.store), w.ticket(ticket_id).version
    w.clock.advance(minutes=10)
    result = STEPS[transition.command](w.service, who, ticket_id, version)
    added = tuple(event for _, _, event in stored(w.store)[len(before) :])
    assert added == EVENTS[transition.command]
    ticket = w.ticket(ticket_id)
    assert ticket.status is transition.next_state
    assert ticket.version == version + 1
    assert result.position == len(stored(w.store))
    assert (result.ticket is None) is (transition.next_state is _S.DISCARDED)
    last = list(w.store.events.get(ticket_id))[-1]
    assert last.meta.actor.username == who.username


INVALID = [
    (s, c) for s in _S for c in _C if (s, c) not in {(t.state, t.command) for t in LIFECYCLE}
]


@pytest.mark.parametrize(("state", "command"), INVALID, ids=[f"{s}-{c}" for s, c in INVALID])
def test_every_other_state_refuses_the_command(state: TicketState, command: TicketCommand) -> None:
    w = build()
    ticket_id = ticket_in(w, state)
    refused(w, "INVALID_TRANSITION", lambda: step(w, command, ticket_id, ADMIN))


# ---------------------------------------------------------------- who may
@pytest.mark.parametrize("who", sorted(PRINCIPALS))
@pytest.mark.parametrize("command", list(_C))
def test_the_roles_permissions_md_allows_pass_and_the_others_are_forbidden(
    command: TicketCommand, who: str
) -> None:
    w, caller = build(), PRINCIPALS[who]
    ticket_id = ready(w, command, ticket_in(w, PASSES_IN[command]))
    if may(OPERATIONS[command], caller.role.value, caller.province, "GD"):
        step(w, command, ticket_id, caller)
        assert list(w.store.events.get(ticket_id))[-1].meta.actor.username == who
    else:
        refused(w, "FORBIDDEN", lambda: step(w, command, ticket_id, caller))


@pytest.mark.parametrize("who", sorted(PRINCIPALS))
def test_who_may_start_a_draft_for_a_province(who: str) -> None:
    w, caller = build(), PRINCIPALS[who]
    if may("saveTicketDraft", caller.role.value, caller.province, "GD"):
        result = draft(w, caller, province="GD")
        assert result.ticket is not None and result.ticket.province == "GD"
        # after the vendor account every world starts with
        assert stored(w.store)[1:] == [(result.ticket.id, 1, "TicketDrafted")]
    else:
        refused(w, "FORBIDDEN", lambda: draft(w, caller, province="GD"))


def test_a_new_draft_is_for_the_callers_province_unless_one_is_given() -> None:
    w = build()
    mine = draft(w, GD_AGENT).ticket
    assert mine is not None and mine.province == "GD"
    given = draft(w, ADMIN, province="BJ").ticket
    assert given is not None and given.province == "BJ"
    error = refused(w, "PROVINCE_REQUIRED", lambda: draft(w, ADMIN))
    assert error.field == ["province"]
    refused(w, "UNKNOWN_PROVINCE", lambda: draft(w, ADMIN, province="XX"))


def test_a_drafts_province_cannot_be_changed_by_an_edit() -> None:
    w = build()
    ticket_id = ticket_in(w, _S.DRAFT)
    error = refused(
        w,
        "INVALID_INPUT",
        lambda: draft(w, ADMIN, ticket_id=ticket_id, title="新标题", province="BJ"),
    )
    assert error.field == ["province"]
    draft(w, ADMIN, ticket_id=ticket_id, title="新标题", province="GD")


# ---------------------------------------------------------------- versions and ids
@pytest.mark.parametrize("command", [c for c in _C if c is not _C.DISCARD])
def test_a_stale_expected_version_is_a_conflict(command: TicketCommand) -> None:
    w = build()
    ticket_id = ready(w, command, ticket_in(w, PASSES_IN[command]))
    current = w.ticket(ticket_id).version
    who = ACTOR[permission_for(command)]
    for stale in (current - 1, current + 1):
        error = refused(
            w, "VERSION_CONFLICT", lambda v=stale: STEPS[command](w.service, who, ticket_id, v)
        )
        assert error.field == ["expectedVersion"]


@pytest.mark.parametrize("command", list(_C))
def test_an_unknown_id_is_not_found(command: TicketCommand) -> None:
    w = build()
    ticket_in(w, _S.SUBMITTED)  # a ticket and a number sequence exist
    unknown = UUID("6b1f7f0e-3c1a-4c53-9a43-1f2d3c4b5a69")
    refused(w, "NOT_FOUND", lambda: step(w, command, unknown, ADMIN))
    # An id of something else in the store is no ticket either.
    sequence = next(a for a, _, e in stored(w.store) if e == "TicketNumberSequenceStarted")
    refused(w, "NOT_FOUND", lambda: step(w, command, sequence, ADMIN))


# ---------------------------------------------------------------- bad input
def new(**overrides: Any) -> Callable[[World, UUID], Any]:
    return lambda w, _: draft(w, **overrides)


def edit(**overrides: Any) -> Callable[[World, UUID], Any]:
    return lambda w, t: draft(w, ticket_id=t, **overrides)


TWENTY_ONE_TAGS = [f"t{i}" for i in range(21)]
BAD_INPUT: list[tuple[TicketState, Callable[[World, UUID], Any], str, list[str]]] = [
    (_S.DRAFT, new(title="长" * 201), "TOO_LONG", ["title"]),
    (_S.DRAFT, new(body="铃\x07声"), "INVALID_TEXT", ["body"]),
    (_S.DRAFT, new(title="两\n行"), "INVALID_TEXT", ["title"]),
    (_S.DRAFT, new(msisdn="12345"), "INVALID_MSISDN", ["msisdn"]),
    (_S.DRAFT, edit(msisdn="23800138000"), "INVALID_MSISDN", ["msisdn"]),
    (_S.DRAFT, edit(), "NO_CHANGE", []),  # the draft already says exactly this
    (_S.SUBMITTED, lambda w, t: w.service.answer(SECOND, t, "  "), "REQUIRED", ["body"]),
    (_S.ANSWERED, lambda w, t: w.service.resubmit(GD_AGENT, t, ""), "REQUIRED", ["body"]),
    (_S.ANSWERED, lambda w, t: w.service.rate(GD_AGENT, t, 0), "INVALID_SCORE", ["score"]),
    (_S.ANSWERED, lambda w, t: w.service.rate(GD_AGENT, t, 6), "INVALID_SCORE", ["score"]),
    (_S.ANSWERED, lambda w, t: w.service.rate(GD_AGENT, t, 5, "评" * 2001), "TOO_LONG",
     ["comment"]),
    (_S.SUBMITTED, lambda w, t: w.service.update_archive(SECOND, t), "NO_CHANGE", []),
    (_S.SUBMITTED, lambda w, t: w.service.update_archive(SECOND, t, tags=TWENTY_ONE_TAGS),
     "TOO_MANY_TAGS", ["tags"]),
    (_S.SUBMITTED, lambda w, t: w.service.update_archive(SECOND, t, tags=["标" * 33]),
     "TOO_LONG", ["tags"]),
    (_S.SUBMITTED, lambda w, t: w.service.answer(SECOND, t, "ok\x00"), "INVALID_TEXT",
     ["body"]),
    (_S.ANSWERED, lambda w, t: w.service.resubmit(GD_AGENT, t, "\u202eok"), "INVALID_TEXT",
     ["body"]),
    (_S.ANSWERED, lambda w, t: w.service.rate(GD_AGENT, t, 5, "好\x9b"), "INVALID_TEXT",
     ["comment"]),
    (_S.SUBMITTED, lambda w, t: w.service.update_archive(SECOND, t, tags=["ok", "a\u2066"]),
     "INVALID_TEXT", ["tags"]),
    (_S.SUBMITTED,
     lambda w, t: w.service.update_archive(SECOND, t, resolution_category="账号\n密码"),
     "INVALID_TEXT", ["resolutionCategory"]),
    (_S.SUBMITTED, lambda w, t: w.service.update_archive(SECOND, t, root_cause="\x1b[2J"),
     "INVALID_TEXT", ["rootCause"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "call", "code", "field"),
    BAD_INPUT,
    ids=[f"{s}-{c}-{i}" for i, (s, _, c, _) in enumerate(BAD_INPUT)],
)
def test_bad_input_is_refused(
    state: TicketState, call: Callable[[World, UUID], Any], code: str, field: list[str]
) -> None:
    w = build()
    ticket_id = ticket_in(w, state)
    error = refused(w, code, lambda: call(w, ticket_id))
    assert (error.field or []) == field


@pytest.mark.parametrize("blank", ["title", "body"])
def test_a_draft_without_a_title_or_body_cannot_be_submitted(blank: str) -> None:
    w = build()
    created = draft(w, **{blank: ""}).ticket
    assert created is not None
    error = refused(w, "REQUIRED", lambda: w.service.submit(GD_AGENT, created.id))
    assert error.field == [blank]


# ---------------------------------------------------------------- numbers and due times
def test_submissions_are_numbered_per_province_and_day_without_gaps() -> None:
    w = build()
    blank = draft(w, title="").ticket
    assert blank is not None
    refused(w, "REQUIRED", lambda: w.service.submit(GD_AGENT, blank.id))  # issues no number
    numbers = [w.ticket(ticket_in(w, _S.SUBMITTED)).number for _ in range(2)]
    numbers.append(w.ticket(ticket_in(w, _S.SUBMITTED, BJ_AGENT)).number)
    w.clock.advance(days=1)
    numbers.append(w.ticket(ticket_in(w, _S.SUBMITTED)).number)
    assert numbers == [
        "GD-20261123-0001",
        "GD-20261123-0002",
        "BJ-20261123-0001",
        "GD-20261124-0001",
    ]


def test_a_submission_is_due_after_the_priority_budget_in_business_hours() -> None:
    w = build()
    ticket_id = ticket_in(w, _S.DRAFT)
    at = w.clock.advance(minutes=5)
    result = w.service.submit(GD_AGENT, ticket_id)
    assert result.ticket is not None
    expected = SLA.calendar.add_business_time(at, SLA.budget(TicketPriority.NORMAL))
    assert result.ticket.due_at == expected
    w.clock.advance(hours=1)
    answered = w.service.answer(SECOND, ticket_id, "已处理")
    assert answered.ticket is not None and answered.ticket.due_at is None
