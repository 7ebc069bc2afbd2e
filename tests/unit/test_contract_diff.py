"""The contract comparisons themselves, on small inline schemas and tables."""

from __future__ import annotations

import pytest
from graphql import build_schema

from tests.contract import breaks, missing_or_changed, unmarked_additions
from tests.permissions_doc import changed_rows, parse_rows

SHARED = """
type Query {
  ticket(id: ID!): Ticket
  tickets(status: Status, first: Int): [Ticket!]!
  announcements(activeOnly: Boolean = true): [String!]!
}
type Mutation { submit(input: SubmitInput!): Ticket! }
type Ticket { id: ID!, title: String!, tags: [String!]! }
enum Status { OPEN CLOSED }
input SubmitInput { title: String!, body: String }
"""


def living(old: str, new: str) -> str:
    assert old in SHARED, old
    return SHARED.replace(old, new)


def problems(sdl: str) -> list[str]:
    return breaks(build_schema(SHARED), build_schema(sdl))


def test_the_same_schema_keeps_everything() -> None:
    assert problems(SHARED) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("id: ID!, title", "title", "Ticket.id: missing"),
        ("title: String!", "title: String", "Ticket.title: type String! became String"),
        ("tags: [String!]!", "tags: [String]!", "Ticket.tags: type [String!]! became [String]!"),
        ("(status: Status, first: Int)", "(first: Int)", "Query.tickets(status): missing"),
        ("first: Int)", "first: String)", "Query.tickets(first): type Int became String"),
        ("= true", "= false", "Query.announcements(activeOnly): default true became false"),
        ("OPEN CLOSED", "OPEN", "Status.CLOSED: enum value missing"),
        (", body: String }", " }", "SubmitInput(body): missing"),
        ("body: String }", "body: String! }", "SubmitInput(body): type String became String!"),
        ("  ticket(id: ID!): Ticket\n", "", "Query.ticket: missing"),
        ("type Mutation { submit(input: SubmitInput!): Ticket! }", "", "Mutation: missing"),
        ("enum Status { OPEN CLOSED }", "scalar Status", "Status: kind enum became scalar"),
        (
            "tickets(status: Status, first: Int)",
            "tickets(status: Status, first: Int, province: String!)",
            "Query.tickets(province): new required argument",
        ),
        ("body: String }", "body: String, province: String! }", "SubmitInput.province: new"),
    ],
)
def test_a_removed_or_changed_shared_part_breaks_the_contract(
    old: str, new: str, problem: str
) -> None:
    found = problems(living(old, new))
    assert any(p.startswith(problem) for p in found), found


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("enum Status", "type Extra { x: Int }\nenum Status"),  # a new type
        ("tags: [String!]!", "tags: [String!]!, number: String!"),  # a new field
        ("first: Int)", "first: Int, after: String)"),  # a new optional argument
        ("first: Int)", "first: Int, limit: Int! = 50)"),  # required, but has a default
        ("OPEN CLOSED", "OPEN CLOSED ARCHIVED"),  # a new enum value
        ("body: String }", "body: String, province: String }"),  # a new optional input field
        ("ticket(id: ID!): Ticket\n", "ticket(id: ID!): Ticket\n  plans: [String!]!\n"),
        ("first: Int)", "first: Int = null)"),  # `= null` is what omitting says
    ],
)
def test_additions_keep_the_contract(old: str, new: str) -> None:
    assert problems(living(old, new)) == []


def test_missing_or_changed_reads_both_ways_for_the_served_check() -> None:
    served = build_schema(living("OPEN CLOSED", "OPEN CLOSED ARCHIVED"))
    assert missing_or_changed(build_schema(SHARED), served) == []
    assert missing_or_changed(served, build_schema(SHARED)) == [
        "Status.ARCHIVED: enum value missing"
    ]


def test_additions_must_be_marked() -> None:
    sdl = living(
        "tags: [String!]!",
        'tags: [String!]!\n  # addition (issue 9)\n  "why"\n  number: String!\n  due: String',
    )
    sdl += "\n# addition (issue 9)\nenum Extra { A }\ntype Other { x: Int }\n"
    found = unmarked_additions(build_schema(SHARED), build_schema(sdl))
    assert found == ["Ticket.due", "Other"]


def test_an_added_argument_is_marked_on_its_field() -> None:
    sdl = living("  tickets(", "  # addition (issue 9): after\n  tickets(")
    sdl = sdl.replace("first: Int)", "first: Int, after: String)")
    assert unmarked_additions(build_schema(SHARED), build_schema(sdl)) == []
    unmarked = living("first: Int)", "first: Int, after: String)")
    assert unmarked_additions(build_schema(SHARED), build_schema(unmarked)) == [
        "Query.tickets(after)"
    ]


TABLE = """
| operation | SUPER_ADMIN | VIEWER |
|---|---|---|
| `me`, `login` | Y | Y |
| `tickets` | Y | P/Y |
| CLI `spoa audit ...` | operators with database access |
"""


def table(old: str, new: str) -> str:
    assert old in TABLE, old
    return TABLE.replace(old, new)


def test_the_same_table_keeps_every_row() -> None:
    assert changed_rows(TABLE, TABLE) == []
    roles, rows = parse_rows(TABLE)
    assert roles == ("SUPER_ADMIN", "VIEWER")
    assert rows[1] == (("tickets",), {"SUPER_ADMIN": "Y", "VIEWER": "P/Y"})


def test_added_rows_and_role_columns_keep_the_table() -> None:
    added = table("| `tickets` | Y | P/Y |\n", "| `tickets` | Y | P/Y |\n| `ticket` | Y | Y |\n")
    assert changed_rows(TABLE, added) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "| `tickets` | Y | P/Y |",
            "| `tickets` | Y | — |",
            "row '`tickets`', VIEWER: P/Y became —",
        ),
        ("| `tickets` | Y | P/Y |\n", "", "row '`tickets`': missing"),
        ("`me`, `login`", "`me`", "row '`me`, `login`': missing"),
        ("| operators with database access |", "| Y |", "row 'CLI `spoa audit ...`', SUPER"),
        ("| SUPER_ADMIN | VIEWER |", "| SUPER_ADMIN | READER |", "row '`me`, `login`', VIEWER"),
    ],
)
def test_a_changed_or_removed_row_breaks_the_table(old: str, new: str, problem: str) -> None:
    found = changed_rows(TABLE, table(old, new))
    assert any(p.startswith(problem) for p in found), found
