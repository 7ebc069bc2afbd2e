"""Ticket and announcement types are served exactly and completely as the contract says."""

from __future__ import annotations

from api.graphql.schema import build_schema
from tests.contract import load_contract, unserved

SUPPORT_TYPES = (
    "TicketStatus",
    "TicketCategory",
    "TicketPriority",
    "TicketEntry",
    "TicketArchive",
    "TicketRating",
    "Ticket",
    "TicketConnection",
    "TicketPayload",
    "TicketFilter",
    "SaveTicketDraftInput",
    "AnnouncementSeverity",
    "AnnouncementStatus",
    "Announcement",
    "AnnouncementConnection",
    "AnnouncementPayload",
    "AnnouncementInput",
)


def test_ticket_and_announcement_types_are_served_completely() -> None:
    missing = unserved(build_schema()._schema, load_contract())
    for type_name in SUPPORT_TYPES:
        assert not [m for m in missing if m == type_name or m.startswith(type_name + ".")]


def test_enums_have_exactly_the_contract_values() -> None:
    served, contract = build_schema()._schema, load_contract()
    for name in SUPPORT_TYPES:
        ctype = contract.type_map[name]
        if hasattr(ctype, "values"):
            assert set(served.type_map[name].values) == set(ctype.values), name
