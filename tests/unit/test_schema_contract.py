"""The served schema agrees with the contract wherever it serves the contract's names."""

from __future__ import annotations

from api.graphql.schema import build_schema
from tests.contract import load_contract, mismatches, unserved

# Contract fields served so far, per landed issue; grows until every contract field is served.
MUST_SERVE = {
    "Query.me",
    "Query.accounts",
    "Query.account",
    "Query.events",
    "Query.auditTrail",
    "Query.projections",
    "Mutation.login",
    "Mutation.changeMyPassword",
    "Mutation.createAccount",
    "Mutation.changeAccountRole",
    "Mutation.disableAccount",
    "Mutation.enableAccount",
    "Mutation.resetAccountPassword",
}


def served_schema():  # type: ignore[no-untyped-def]
    return build_schema()._schema


def test_served_types_fields_and_arguments_match_the_contract() -> None:
    assert mismatches(served_schema(), load_contract()) == []


def test_every_landed_operation_is_served() -> None:
    missing = set(unserved(served_schema(), load_contract()))
    assert not (MUST_SERVE & missing), sorted(MUST_SERVE & missing)


def test_account_and_audit_types_are_served_completely() -> None:
    missing = unserved(served_schema(), load_contract())
    for type_name in (
        "Account",
        "AccountConnection",
        "Session",
        "LoginPayload",
        "AccountPayload",
        "AuditEvent",
        "AuditEventConnection",
        "ProjectionStatus",
        "PageInfo",
        "UserError",
        "CreateAccountInput",
    ):
        assert not [m for m in missing if m == type_name or m.startswith(type_name + ".")]
