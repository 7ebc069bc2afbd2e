"""A change to a mailbox may cite the ticket it answers (ChangeContext.ticketId): the rule that
keeps that link true, so an auditor following a change to its ticket finds the right one."""

from __future__ import annotations

import re
import uuid

from domain.shared import DomainError, NotFoundError, ValidationError
from domain.support.ticket import Ticket

#: Where the cited ticket sits in every proxy-setting input.
CITED_FIELD = ["context", "ticketId"]
#: A ticket's number (numbers.py), given or provisional: told apart in the error, for people
_TICKET_NUMBER = re.compile(r"[A-Z]{2}-(?:[0-9]{8}-[0-9]{4,}|DRAFT-[0-9A-F]{8})")


class TicketMismatchError(DomainError):
    """The cited ticket is about another mailbox, or (naming none) of another province."""

    code = "TICKET_MISMATCH"


def parse_cited_ticket(value: str | None) -> uuid.UUID | None:
    """The id of the cited ticket (Ticket.id); None when no ticket is cited."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        hint = f", not its number {text}" if _TICKET_NUMBER.fullmatch(text) else ""
        raise ValidationError(
            f"ticketId must be a ticket's id (Ticket.id){hint}",
            code="INVALID_TICKET_ID",
            field=CITED_FIELD,
        ) from None


def ticket_not_found() -> NotFoundError:
    return NotFoundError("no such ticket", code="TICKET_NOT_FOUND", field=CITED_FIELD)


def check_citation(ticket: Ticket | None, msisdn: str, province: str) -> None:
    """May a change to mailbox `msisdn` (of `province`) cite `ticket` as the one it answers?

    Only a ticket that exists (a discarded draft does not), and that is about this mailbox; a
    ticket naming no mailbox (an incident, say) only in the mailbox's own province.
    """
    if ticket is None or not ticket.visible:
        raise ticket_not_found()
    label = ticket.number or "the draft ticket"
    if ticket.msisdn is not None and ticket.msisdn != msisdn:
        raise TicketMismatchError(
            f"{label} is about {ticket.msisdn}, not {msisdn}", field=CITED_FIELD
        )
    if ticket.msisdn is None and ticket.province != province:
        raise TicketMismatchError(
            f"{label} belongs to province {ticket.province}, this mailbox to {province}",
            field=CITED_FIELD,
        )
