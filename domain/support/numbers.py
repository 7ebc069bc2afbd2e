"""Readable ticket numbers, <province>-<yyyymmdd>-<seq>, without duplicates or gaps.

One sequence aggregate per province and Asia/Shanghai day, with a natural (uuid5) id. It is
saved in the same transaction as the ticket it numbers, so optimistic concurrency on the
sequence serialises concurrent submissions: a loser's whole transaction fails and is retried,
and a number is never issued without its ticket being stored.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.calendar_days import local_day
from domain.shared import ChangeMeta, natural_id


def format_number(province: str, day: date, sequence: int) -> str:
    return f"{province}-{day:%Y%m%d}-{sequence:04d}"


class TicketNumberSequence(Aggregate):
    """The numbers issued so far for one province on one day."""

    TOPIC = "spoa.support:TicketNumberSequence"

    class Event(Aggregate.Event):
        TOPIC = "spoa.support:TicketNumberSequence.Event"

    @staticmethod
    def create_id(province: str, day: str) -> UUID:
        return sequence_id(province, date.fromisoformat(day))

    @classmethod
    def start(cls, province: str, at: datetime, meta: ChangeMeta) -> TicketNumberSequence:
        return cls(province=province, day=local_day(at).isoformat(), meta=meta)

    @event(
        "TicketNumberSequenceStarted",
        topic="spoa.support:TicketNumberSequence.TicketNumberSequenceStarted",
    )
    def __init__(self, province: str, day: str, meta: ChangeMeta) -> None:
        self.province = province
        self.day = day
        self.last = 0

    def issue(self, ticket_id: UUID, meta: ChangeMeta) -> str:
        """The next number, recorded against the ticket it is for."""
        sequence = self.last + 1
        number = format_number(self.province, date.fromisoformat(self.day), sequence)
        self._issued(ticket_id=str(ticket_id), sequence=sequence, number=number, meta=meta)
        return number

    @event("TicketNumberIssued", topic="spoa.support:TicketNumberSequence.TicketNumberIssued")
    def _issued(self, ticket_id: str, sequence: int, number: str, meta: ChangeMeta) -> None:
        self.last = sequence


def sequence_id(province: str, day: date) -> UUID:
    return natural_id("ticket-number", f"{province}:{day.isoformat()}")


def provisional_number(province: str, ticket_id: UUID) -> str:
    """What a draft shows until submission gives it its real number."""
    return f"{province}-DRAFT-{ticket_id.hex[:8].upper()}"
