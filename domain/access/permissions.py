"""Roles and the permission table of permissions.md, in exactly one place."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SUPER_ADMIN = "SUPER_ADMIN"
    SECOND_LINE_AGENT = "SECOND_LINE_AGENT"
    PROVINCE_AGENT = "PROVINCE_AGENT"
    VIEWER = "VIEWER"
    AUDITOR = "AUDITOR"
    INTEGRATION = "INTEGRATION"


class Permission(StrEnum):
    SELF_SERVICE = "SELF_SERVICE"  # me, login, logout, changeMyPassword
    SUBSCRIBER_READ = "SUBSCRIBER_READ"  # subscriber, subscriberAsOf, history, changes, plans
    # allPeriods: true on a subscriber's fields, subscriberAsOf before the current period
    SUBSCRIBER_READ_ALL_PERIODS = "SUBSCRIBER_READ_ALL_PERIODS"
    PROXY_SETTING = "PROXY_SETTING"  # the eleven proxy settings
    FREEZE_MAILBOX = "FREEZE_MAILBOX"
    INGEST_RECORDS = "INGEST_RECORDS"
    TICKET_READ = "TICKET_READ"
    TICKET_FIRST_LINE = "TICKET_FIRST_LINE"  # save draft, submit, resubmit, rate, discard
    TICKET_SECOND_LINE = "TICKET_SECOND_LINE"  # answer, update archive
    ANNOUNCEMENT_READ = "ANNOUNCEMENT_READ"
    ANNOUNCEMENT_MANAGE = "ANNOUNCEMENT_MANAGE"
    FAQ_READ = "FAQ_READ"
    FAQ_EDIT = "FAQ_EDIT"  # create, revise, attach and detach documents
    FAQ_REMOVE = "FAQ_REMOVE"
    CONTACT_READ = "CONTACT_READ"
    CONTACT_MANAGE = "CONTACT_MANAGE"
    STATISTICS_READ = "STATISTICS_READ"
    ACCOUNT_READ = "ACCOUNT_READ"
    ACCOUNT_MANAGE = "ACCOUNT_MANAGE"  # create, role, disable, enable, reset, revokeSessions
    AUDIT_READ = "AUDIT_READ"  # events, auditTrail, auditCheckpoints, projections
    WEBHOOK_READ = "WEBHOOK_READ"  # webhookEndpoints, webhookDeliveries
    WEBHOOK_MANAGE = "WEBHOOK_MANAGE"  # create, update, disable, enable, rotate the secret
    WEBHOOK_REDELIVER = "WEBHOOK_REDELIVER"  # redeliverWebhook


class Grant(StrEnum):
    """How far a permission reaches."""

    ALL = "ALL"  # Y
    OWN_PROVINCE = "OWN_PROVINCE"  # P
    OWN_PROVINCE_IF_BOUND = "OWN_PROVINCE_IF_BOUND"  # P/Y: scoped only when the account has one


_Y, _P, _PY = Grant.ALL, Grant.OWN_PROVINCE, Grant.OWN_PROVINCE_IF_BOUND
_SA, _SL, _PA = Role.SUPER_ADMIN, Role.SECOND_LINE_AGENT, Role.PROVINCE_AGENT
_V, _AU, _IN = Role.VIEWER, Role.AUDITOR, Role.INTEGRATION

# permission -> role -> grant; a role missing from a row is FORBIDDEN. Mirrors permissions.md.
PERMISSION_TABLE: dict[Permission, dict[Role, Grant]] = {
    Permission.SELF_SERVICE: {_SA: _Y, _SL: _Y, _PA: _Y, _V: _Y, _AU: _Y, _IN: _Y},
    Permission.SUBSCRIBER_READ: {_SA: _Y, _SL: _Y, _PA: _P, _V: _PY, _AU: _Y},
    Permission.SUBSCRIBER_READ_ALL_PERIODS: {_SA: _Y, _AU: _Y},
    Permission.PROXY_SETTING: {_SA: _Y, _SL: _Y, _PA: _P, _IN: _Y},
    Permission.FREEZE_MAILBOX: {_SA: _Y, _IN: _Y},
    Permission.INGEST_RECORDS: {_SA: _Y, _IN: _Y},
    Permission.TICKET_READ: {_SA: _Y, _SL: _Y, _PA: _P, _V: _PY, _AU: _Y},
    Permission.TICKET_FIRST_LINE: {_SA: _Y, _PA: _P},
    Permission.TICKET_SECOND_LINE: {_SA: _Y, _SL: _Y},
    Permission.ANNOUNCEMENT_READ: {_SA: _Y, _SL: _Y, _PA: _Y, _V: _Y, _AU: _Y},
    Permission.ANNOUNCEMENT_MANAGE: {_SA: _Y, _SL: _Y},
    Permission.FAQ_READ: {_SA: _Y, _SL: _Y, _PA: _Y, _V: _Y, _AU: _Y},
    Permission.FAQ_EDIT: {_SA: _Y, _SL: _Y, _PA: _Y},
    Permission.FAQ_REMOVE: {_SA: _Y, _SL: _Y},
    Permission.CONTACT_READ: {_SA: _Y, _SL: _Y, _PA: _Y, _V: _Y, _AU: _Y},
    Permission.CONTACT_MANAGE: {_SA: _Y, _SL: _Y},
    Permission.STATISTICS_READ: {_SA: _Y, _SL: _Y, _PA: _P, _V: _PY, _AU: _Y},
    Permission.ACCOUNT_READ: {_SA: _Y, _AU: _Y},
    Permission.ACCOUNT_MANAGE: {_SA: _Y},
    Permission.AUDIT_READ: {_SA: _Y, _AU: _Y},
    Permission.WEBHOOK_READ: {_SA: _Y, _SL: _Y, _AU: _Y},
    Permission.WEBHOOK_MANAGE: {_SA: _Y},
    Permission.WEBHOOK_REDELIVER: {_SA: _Y, _SL: _Y},
}


def province_scope(role: Role, province: str | None, permission: Permission) -> str | None:
    """The province a granted permission is limited to, or None when it reaches every province.

    Raises LookupError when the role does not have the permission at all.
    """
    grant = PERMISSION_TABLE[permission].get(role)
    if grant is None:
        raise LookupError(f"{role.value} lacks {permission.value}")
    if grant is Grant.ALL:
        return None
    if grant is Grant.OWN_PROVINCE_IF_BOUND and province is None:
        return None
    if province is None:
        # A province-scoped role without a province can see nothing; the Account rules
        # prevent this state, so treat it as a hard denial rather than "everything".
        raise LookupError(f"{role.value} has no province for {permission.value}")
    return province


def has_permission(role: Role, permission: Permission) -> bool:
    return role in PERMISSION_TABLE[permission]
