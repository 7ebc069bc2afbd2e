"""The permission table in domain/access/permissions.py says what the living permissions.md
(docs/contract/) says, and that table names every operation of the living schema."""

from __future__ import annotations

import pytest

from application.authz import Principal
from domain.access.account import account_id_for
from domain.access.permissions import (
    PERMISSION_TABLE,
    Grant,
    Permission,
    Role,
    has_permission,
    province_scope,
)
from domain.shared import PermissionDeniedError
from tests.contract import load_living
from tests.permissions_doc import permission_rows

# Every operation the table names (in backticks), to the one permission that guards it.
OPERATION_PERMISSIONS: dict[str, Permission] = {
    **dict.fromkeys(["me", "login", "changeMyPassword", "logout"], Permission.SELF_SERVICE),
    **dict.fromkeys(
        [
            "subscriber",
            "subscriberAsOf",
            "Subscriber.changes",
            "Subscriber.registrations",
            "plans",
            "subscribers",
        ],
        Permission.SUBSCRIBER_READ,
    ),
    "Subscriber.*(allPeriods: true)": Permission.SUBSCRIBER_READ_ALL_PERIODS,
    **dict.fromkeys(
        [
            "registerMailbox",
            "deregisterMailbox",
            "changePlan",
            "setCompanion",
            "setBillDelivery",
            "setArrivalNotification",
            "setLoginReminder",
            "setAlias",
            "changePassword",
            "unfreezeMailbox",
            "setSmsBlacklist",
        ],
        Permission.PROXY_SETTING,
    ),
    "freezeMailbox": Permission.FREEZE_MAILBOX,
    "ingestPlatformRecords": Permission.INGEST_RECORDS,
    # Ticket.changes also needs SUBSCRIBER_READ, which grants exactly as TICKET_READ does.
    **dict.fromkeys(
        ["ticket", "ticketAsOf", "tickets", "Ticket.history", "Ticket.changes", "ticketUpdates"],
        Permission.TICKET_READ,
    ),
    **dict.fromkeys(
        ["saveTicketDraft", "submitTicket", "resubmitTicket", "rateTicket", "discardTicketDraft"],
        Permission.TICKET_FIRST_LINE,
    ),
    **dict.fromkeys(
        [
            "answerTicket",
            "updateTicketArchive",
            "claimTicket",
            "assignTicket",
            "unassignTicket",
        ],
        Permission.TICKET_SECOND_LINE,
    ),
    **dict.fromkeys(
        ["announcements", "announcement", "announcementAsOf", "announcementUpdates"],
        Permission.ANNOUNCEMENT_READ,
    ),
    **dict.fromkeys(
        ["publishAnnouncement", "reviseAnnouncement", "withdrawAnnouncement"],
        Permission.ANNOUNCEMENT_MANAGE,
    ),
    **dict.fromkeys(["faq", "faqAsOf", "searchFaqs"], Permission.FAQ_READ),
    **dict.fromkeys(
        ["createFaq", "reviseFaq", "attachFaqDocument", "detachFaqDocument"], Permission.FAQ_EDIT
    ),
    "removeFaq": Permission.FAQ_REMOVE,
    "supportContacts": Permission.CONTACT_READ,
    **dict.fromkeys(["upsertSupportContact", "removeSupportContact"], Permission.CONTACT_MANAGE),
    "statistics": Permission.STATISTICS_READ,
    **dict.fromkeys(["accounts", "account", "accountAsOf"], Permission.ACCOUNT_READ),
    **dict.fromkeys(
        [
            "createAccount",
            "changeAccountRole",
            "disableAccount",
            "enableAccount",
            "resetAccountPassword",
            "revokeSessions",
        ],
        Permission.ACCOUNT_MANAGE,
    ),
    **dict.fromkeys(
        ["events", "auditTrail", "auditCheckpoints", "projections", "streamStateAsOf"],
        Permission.AUDIT_READ,
    ),
    **dict.fromkeys(["webhookEndpoints", "webhookDeliveries"], Permission.WEBHOOK_READ),
    **dict.fromkeys(
        [
            "createWebhookEndpoint",
            "updateWebhookEndpoint",
            "disableWebhookEndpoint",
            "enableWebhookEndpoint",
            "rotateWebhookSecret",
        ],
        Permission.WEBHOOK_MANAGE,
    ),
    "redeliverWebhook": Permission.WEBHOOK_REDELIVER,
}

MARK_OF_GRANT = {
    None: "—",
    Grant.ALL: "Y",
    Grant.OWN_PROVINCE: "P",
    Grant.OWN_PROVINCE_IF_BOUND: "P/Y",
}


def doc_cases() -> list[tuple[str, str, str]]:
    roles, rows = permission_rows()
    return [
        (operation, role, marks[role])
        for operations, marks in rows
        for operation in operations
        for role in roles
    ]


def test_the_document_has_the_six_roles_in_its_columns() -> None:
    roles, _ = permission_rows()
    assert sorted(roles) == sorted(r.value for r in Role)


def test_every_documented_operation_is_mapped_to_a_permission() -> None:
    _, rows = permission_rows()
    documented = {op for operations, _ in rows for op in operations}
    assert documented - OPERATION_PERMISSIONS.keys() == set()
    assert OPERATION_PERMISSIONS.keys() - documented == set()


def test_every_operation_of_the_living_schema_has_a_row() -> None:
    schema = load_living()
    roots = [t for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t]
    operations = {name for root in roots for name in root.fields}
    assert operations - OPERATION_PERMISSIONS.keys() == set()
    assert {
        "Subscriber.changes",
        "Ticket.history",
        "Ticket.changes",
    } <= OPERATION_PERMISSIONS.keys()


def test_every_permission_guards_some_documented_operation() -> None:
    assert set(OPERATION_PERMISSIONS.values()) == set(Permission)
    assert set(PERMISSION_TABLE) == set(Permission)


@pytest.mark.parametrize(("operation", "role", "mark"), doc_cases())
def test_code_table_matches_the_document(operation: str, role: str, mark: str) -> None:
    permission = OPERATION_PERMISSIONS[operation]
    grant = PERMISSION_TABLE[permission].get(Role(role))
    assert MARK_OF_GRANT[grant] == mark, f"{operation} for {role}"
    assert has_permission(Role(role), permission) is (mark != "—")


# ---------------------------------------------------------------- province scoping
@pytest.mark.parametrize(
    ("role", "province", "permission", "scope"),
    [
        (Role.SUPER_ADMIN, None, Permission.SUBSCRIBER_READ, None),
        (Role.PROVINCE_AGENT, "GD", Permission.SUBSCRIBER_READ, "GD"),
        (Role.PROVINCE_AGENT, "GD", Permission.FAQ_READ, None),  # Y: every province
        (Role.VIEWER, "BJ", Permission.TICKET_READ, "BJ"),  # P/Y with a province: P
        (Role.VIEWER, None, Permission.TICKET_READ, None),  # P/Y without one: Y
        (Role.AUDITOR, None, Permission.STATISTICS_READ, None),
    ],
)
def test_province_scope(
    role: Role, province: str | None, permission: Permission, scope: str | None
) -> None:
    assert province_scope(role, province, permission) == scope


@pytest.mark.parametrize(
    ("role", "province", "permission"),
    [
        (Role.VIEWER, None, Permission.ACCOUNT_READ),  # not granted
        (Role.INTEGRATION, None, Permission.SUBSCRIBER_READ),
        (Role.PROVINCE_AGENT, None, Permission.SUBSCRIBER_READ),  # P without a province
    ],
)
def test_no_scope_means_denied(role: Role, province: str | None, permission: Permission) -> None:
    with pytest.raises(LookupError):
        province_scope(role, province, permission)


def principal(role: Role, province: str | None) -> Principal:
    return Principal(account_id_for("x"), "x", role, province)


def test_principal_require_maps_denial_to_forbidden() -> None:
    with pytest.raises(PermissionDeniedError) as caught:
        principal(Role.VIEWER, None).require(Permission.ACCOUNT_MANAGE)
    assert caught.value.code == "FORBIDDEN"


@pytest.mark.parametrize(
    ("role", "province", "requested", "result"),
    [
        (Role.PROVINCE_AGENT, "GD", None, "GD"),  # silently filtered to the own province
        (Role.PROVINCE_AGENT, "GD", "GD", "GD"),
        (Role.PROVINCE_AGENT, "GD", "BJ", "FORBIDDEN"),  # asking for another: refused
        (Role.VIEWER, None, "BJ", "BJ"),
        (Role.SUPER_ADMIN, None, None, None),
    ],
)
def test_list_scope(
    role: Role, province: str | None, requested: str | None, result: str | None
) -> None:
    caller = principal(role, province)
    if result == "FORBIDDEN":
        with pytest.raises(PermissionDeniedError):
            caller.list_scope(Permission.SUBSCRIBER_READ, requested)
        return
    assert caller.list_scope(Permission.SUBSCRIBER_READ, requested) == result


def test_require_in_province_refuses_other_provinces() -> None:
    caller = principal(Role.PROVINCE_AGENT, "GD")
    caller.require_in_province(Permission.TICKET_READ, "GD")
    with pytest.raises(PermissionDeniedError):
        caller.require_in_province(Permission.TICKET_READ, "BJ")
    principal(Role.SECOND_LINE_AGENT, None).require_in_province(Permission.TICKET_READ, "BJ")
