"""Complaint-ticket counting and answer times: pure folds over ticket events.

A ticket counts from its submission on (drafts never count), under the Asia/Shanghai day it was
first submitted, its province and category (both fixed once submitted) and its current status,
so every status change moves one count from the old status to the new one.

An answer time is the business time from a submission or resubmission to the answer that
follows it. The domain already measured it with the SLA calendar when the answer was given
(`TicketAnswered.sla_used_seconds` is the business time used so far, reset at submission), so
the wait is the growth of that figure since the previous answer: the exact arithmetic of
`domain/support/sla.py`, on the calendar in force at the time, without the projection needing
the calendar or a clock. Overdue depends on the time asked at, so the due time of every waiting
ticket is kept and the question is answered at query time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, MutableMapping
from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID

from domain.calendar_days import local_day
from domain.support.lifecycle import LIFECYCLE, TicketCommand, TicketState, next_state
from domain.support.ticket import Ticket

_T: Any = Ticket
SUBMITTED_TOPIC = _T.TicketSubmitted.TOPIC
ANSWERED_TOPIC = _T.TicketAnswered.TOPIC
RESUBMITTED_TOPIC = _T.TicketResubmitted.TOPIC
_COMMANDS: dict[str, TicketCommand] = {
    ANSWERED_TOPIC: TicketCommand.ANSWER,
    RESUBMITTED_TOPIC: TicketCommand.RESUBMIT,
    _T.TicketRated.TOPIC: TicketCommand.RATE,
}
#: Ticket events the statistics read: drafting and archive edits change nothing counted.
TICKET_TOPICS = frozenset({SUBMITTED_TOPIC, *_COMMANDS})

CountKey = tuple[date, str, str, str]  # day first submitted, province, category, status

#: (status, topic) -> next status, from the lifecycle table (plain strings: the hot path of a
#: rebuild, where building enums per event shows up).
_NEXT: dict[tuple[str, str], str] = {
    (t.state.value, topic): t.next_state.value
    for t in LIFECYCLE
    for topic, command in _COMMANDS.items()
    if t.command is command
}


class TicketStat(NamedTuple):
    """What the statistics keep of one submitted ticket."""

    day: date
    province: str
    category: str
    status: str
    used_seconds: int
    answers: int
    due_at: datetime | None


class AnswerTime(NamedTuple):
    ticket_id: UUID
    seq: int  # 1 for the first answer, 2 for the answer after the first resubmission, ...
    day: date
    province: str
    seconds: int
    answered_at: datetime


def fold_tickets(
    events: Iterable[Any],
    tickets: MutableMapping[UUID, TicketStat],
    counts: Counter[CountKey],
    answers: list[AnswerTime],
) -> set[UUID]:
    """Apply ticket events (store order) to `tickets`, count deltas and new answer times.

    Returns the ids whose TicketStat changed. Events of tickets never submitted are ignored.
    """
    changed: set[UUID] = set()
    for e in events:
        tid = e.originator_id
        topic = e.TOPIC
        if topic == SUBMITTED_TOPIC:
            stat = TicketStat(
                day=local_day(e.at),
                province=e.province,
                category=e.category,
                status=TicketState.SUBMITTED.value,
                used_seconds=0,
                answers=0,
                due_at=e.due_at,
            )
            counts[(stat.day, stat.province, stat.category, stat.status)] += 1
            tickets[tid] = stat
            changed.add(tid)
            continue
        old = tickets.get(tid)
        if old is None:
            continue
        status = _NEXT.get((old.status, topic))
        if status is None:  # not allowed from this state: the lifecycle's own error
            next_state(TicketState(old.status), _COMMANDS[topic])
            raise AssertionError("unreachable")  # pragma: no cover
        used, seq, due_at = old.used_seconds, old.answers, None
        if topic == ANSWERED_TOPIC:
            used, seq = int(e.sla_used_seconds), seq + 1
            answers.append(
                AnswerTime(tid, seq, old.day, old.province, max(used - old.used_seconds, 0), e.at)
            )
        elif topic == RESUBMITTED_TOPIC:
            due_at = e.due_at
        new = TicketStat(old.day, old.province, old.category, status, used, seq, due_at)
        if new.status != old.status:
            counts[(old.day, old.province, old.category, old.status)] -= 1
            counts[(new.day, new.province, new.category, new.status)] += 1
        tickets[tid] = new
        changed.add(tid)
    return changed
