"""A Hypothesis state machine over many tickets in two provinces, with time passing:
every command on any ticket either follows the lifecycle table or is refused; replaying the
stored (serialised) events reproduces the live state; numbers are unique and gapless."""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from domain.calendar_days import local_day
from domain.shared import NoChangeError
from domain.support.errors import InvalidTransitionError
from domain.support.lifecycle import (
    CLOCK_RUNS_IN,
    LIFECYCLE,
    TicketCommand,
    TicketState,
    allowed_commands,
)
from domain.support.numbers import TicketNumberSequence, sequence_id
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import TicketCategory, TicketPriority
from projections.runtime.codec import EventMapper
from tests.unit.support_builders import FIRST, MONDAY_10, SECOND

TABLE = {(t.state, t.command): t.next_state for t in LIFECYCLE}
POLICY = SlaPolicy()


def make_mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return EventMapper(transcoder=transcoder)


MAPPER = make_mapper()


def replay(events: list[Any]) -> Any:
    """Rebuild an aggregate from its events after a round trip through storage encoding."""
    stored = [MAPPER.to_stored_event(e) for e in events]
    decoded = [MAPPER.to_domain_event(s) for s in stored]
    return functools.reduce(lambda aggregate, e: e.mutate(aggregate), decoded, None)


def state_of(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


texts = st.text(alphabet="邮箱登录失败短信通知abc XYZ123", min_size=0, max_size=12)
words = st.text(alphabet="邮箱登录失败短信通知abc XYZ123", min_size=1, max_size=12)


class TicketMachine(RuleBasedStateMachine):
    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        self.now = MONDAY_10
        self.live: dict[UUID, Ticket] = {}
        self.events: dict[UUID, list[Any]] = defaultdict(list)
        self.model: dict[UUID, TicketState] = {}
        self.sequences: dict[UUID, TicketNumberSequence] = {}
        self.sequence_events: dict[UUID, list[Any]] = defaultdict(list)
        self.assignees: dict[UUID, str | None] = defaultdict(lambda: None)
        self.edits = 0

    def _collect(self, ticket: Ticket) -> None:
        self.events[ticket.id].extend(ticket.collect_events())
        for sequence in self.sequences.values():
            self.sequence_events[sequence.id].extend(sequence.collect_events())

    @rule(
        target=tickets,
        province=st.sampled_from(["GD", "BJ"]),
        priority=st.sampled_from(list(TicketPriority)),
        title=st.one_of(words, texts),
        body=st.one_of(words, texts),
    )
    def draft(self, province: str, priority: TicketPriority, title: str, body: str) -> UUID:
        content = DraftContent.clean(title, body, TicketCategory.COMPLAINT, priority, None)
        ticket = Ticket.draft(province=province, content=content, at=self.now, meta=FIRST)
        self.live[ticket.id] = ticket
        self.model[ticket.id] = TicketState.DRAFT
        self._collect(ticket)
        return ticket.id

    @rule(minutes=st.integers(min_value=0, max_value=4 * 24 * 60))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    def _allocate(self, ticket: Ticket) -> str:
        key = sequence_id(ticket.province, local_day(self.now))
        if key not in self.sequences:
            self.sequences[key] = TicketNumberSequence.start(ticket.province, self.now, FIRST)
        number: str = self.sequences[key].issue(ticket.id, FIRST)
        return number

    @rule(ticket_id=tickets, data=st.data(), body=texts)
    def command(self, ticket_id: UUID, data: st.DataObject, body: str) -> None:
        ticket = self.live[ticket_id]
        before = self.model[ticket_id]
        # Mostly a command the state allows (to reach deep states), sometimes any command.
        allowed = allowed_commands(before)
        pick_allowed = allowed and data.draw(st.integers(0, 9)) < 8
        command = data.draw(st.sampled_from(allowed if pick_allowed else list(TicketCommand)))
        event(f"{before.value} {command.value}")
        expected = TABLE.get((before, command))
        self.edits += 1
        cal, at = POLICY.calendar, self.now
        agent = data.draw(st.sampled_from(["vendor-1", "vendor-2"]))
        held = self.assignees[ticket_id]
        after = {TicketCommand.CLAIM: agent, TicketCommand.ASSIGN: agent}.get(command)
        queue = command in (TicketCommand.CLAIM, TicketCommand.ASSIGN, TicketCommand.UNASSIGN)
        actions = {
            TicketCommand.SAVE_DRAFT: lambda: ticket.edit_draft(
                content=DraftContent.clean(
                    f"t{self.edits}", body, TicketCategory.FAULT, ticket.priority, None
                ),
                at=at,
                meta=FIRST,
            ),
            TicketCommand.SUBMIT: lambda: ticket.submit(
                at=at, sla=POLICY, allocate_number=lambda: self._allocate(ticket), meta=FIRST
            ),
            TicketCommand.DISCARD: lambda: ticket.discard(at=at, meta=FIRST),
            TicketCommand.ANSWER: lambda: ticket.answer(
                body=f"答复 {body}", at=at, calendar=cal, meta=SECOND
            ),
            TicketCommand.RESUBMIT: lambda: ticket.resubmit(
                body=f"不够 {body}", at=at, calendar=cal, meta=FIRST
            ),
            TicketCommand.RATE: lambda: ticket.rate(
                score=1 + self.edits % 5, comment=body or None, at=at, meta=FIRST
            ),
            TicketCommand.UPDATE_ARCHIVE: lambda: ticket.update_archive(
                resolution=f"r{self.edits}", tags=[body] if body.strip() else [], at=at, meta=SECOND
            ),
            TicketCommand.CLAIM: lambda: ticket.claim(by=agent, at=at, meta=SECOND),
            TicketCommand.ASSIGN: lambda: ticket.assign(to=agent, at=at, meta=SECOND),
            TicketCommand.UNASSIGN: lambda: ticket.unassign(at=at, meta=SECOND),
        }
        try:
            actions[command]()
        except InvalidTransitionError as exc:
            assert expected is None, f"{command} refused in {before}"
            assert exc.state == before.value
        except NoChangeError:
            # Only the queue can be asked for what already holds: the same hands again.
            assert queue and expected is not None and after == held, f"{command} no change"
            expected = None
        except Exception as exc:  # input rules (e.g. submitting an empty draft)
            assert command is TicketCommand.SUBMIT and not (ticket.title and ticket.body), exc
        else:
            assert expected is not None, f"{command} allowed in {before}"
            assert not queue or after != held, f"{command} changed nothing yet stored an event"
            self.model[ticket_id] = expected
            if queue:
                self.assignees[ticket_id] = after
        self._collect(ticket)

    @invariant()
    def replay_equals_live(self) -> None:
        for ticket_id, ticket in self.live.items():
            replayed = replay(self.events[ticket_id])
            assert state_of(replayed) == state_of(ticket)
            assert replayed.version == ticket.version == len(self.events[ticket_id])
        for sequence_key, sequence in self.sequences.items():
            assert state_of(replay(self.sequence_events[sequence_key])) == state_of(sequence)

    @invariant()
    def status_follows_the_table(self) -> None:
        for ticket_id, ticket in self.live.items():
            assert ticket.status is self.model[ticket_id]
            assert ticket.assignee == self.assignees[ticket_id]
            assert (ticket.due_at is not None) == (ticket.status in CLOCK_RUNS_IN)
            if ticket.status not in CLOCK_RUNS_IN:
                assert not ticket.is_overdue(self.now)

    @invariant()
    def numbers_are_unique_and_gapless(self) -> None:
        numbers = [t.number for t in self.live.values() if t.number]
        assert len(numbers) == len(set(numbers))
        per_day: dict[tuple[str, str], list[int]] = defaultdict(list)
        for number in numbers:
            province, day, sequence = number.split("-")
            per_day[(province, day)].append(int(sequence))
        for sequences in per_day.values():
            assert sorted(sequences) == list(range(1, len(sequences) + 1))
        for ticket in self.live.values():
            if ticket.number:
                assert ticket.number.startswith(ticket.province + "-")
                assert ticket.submitted_at is not None
                day = f"{local_day(ticket.submitted_at):%Y%m%d}"
                assert ticket.number.split("-")[1] == day


TicketMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
test_ticket_machine = TicketMachine.TestCase
