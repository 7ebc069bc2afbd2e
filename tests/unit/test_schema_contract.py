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
    # issue 3: subscribers (the history fields of Subscriber belong to issue 4)
    "Query.subscriber",
    "Query.subscriberAsOf",
    "Query.plans",
    "Mutation.registerMailbox",
    "Mutation.deregisterMailbox",
    "Mutation.changePlan",
    "Mutation.setCompanion",
    "Mutation.setBillDelivery",
    "Mutation.setArrivalNotification",
    "Mutation.setLoginReminder",
    "Mutation.setAlias",
    "Mutation.changePassword",
    "Mutation.unfreezeMailbox",
    "Mutation.freezeMailbox",
    "Mutation.setSmsBlacklist",
    "MailboxStatus",
    "NotificationMode",
    "SmsBlacklistLevel",
    "Plan",
    "ArrivalNotification",
    "SubscriberPayload",
    "ChangeContext",
    "RegisterMailboxInput",
    "DeregisterMailboxInput",
    "ChangePlanInput",
    "SetCompanionInput",
    "SetBillDeliveryInput",
    "SetArrivalNotificationInput",
    "SetLoginReminderInput",
    "SetAliasInput",
    "ChangePasswordInput",
    "UnfreezeMailboxInput",
    "FreezeMailboxInput",
    "SetSmsBlacklistInput",
    "Subscriber.msisdn",
    "Subscriber.mailbox",
    "Subscriber.province",
    "Subscriber.status",
    "Subscriber.plan",
    "Subscriber.registeredAt",
    "Subscriber.deregisteredAt",
    "Subscriber.frozenAt",
    "Subscriber.frozenReason",
    "Subscriber.companionEnabled",
    "Subscriber.billDelivery",
    "Subscriber.arrivalNotification",
    "Subscriber.loginReminder",
    "Subscriber.alias",
    "Subscriber.smsBlacklistLevel",
    "Subscriber.passwordChangedAt",
    "Subscriber.pointsBalance",
    "Subscriber.level",
    "Subscriber.version",
    "Subscriber.changes",
    # issue 5: tickets and announcements
    "Query.ticket",
    "Query.ticketAsOf",
    "Query.tickets",
    "Query.announcements",
    "Query.announcementAsOf",
    "Mutation.saveTicketDraft",
    "Mutation.submitTicket",
    "Mutation.answerTicket",
    "Mutation.resubmitTicket",
    "Mutation.rateTicket",
    "Mutation.updateTicketArchive",
    "Mutation.discardTicketDraft",
    "Mutation.publishAnnouncement",
    "Mutation.reviseAnnouncement",
    "Mutation.withdrawAnnouncement",
    # issue 6: knowledge base and support contacts
    "Query.faq",
    "Query.faqAsOf",
    "Query.searchFaqs",
    "Query.supportContacts",
    "Mutation.createFaq",
    "Mutation.reviseFaq",
    "Mutation.removeFaq",
    "Mutation.attachFaqDocument",
    "Mutation.detachFaqDocument",
    "Mutation.upsertSupportContact",
    "Mutation.removeSupportContact",
    "FaqDocument",
    "Faq",
    "FaqHit",
    "FaqHitConnection",
    "FaqPayload",
    "FaqInput",
    "SupportContact",
    "SupportContactInput",
    "SupportContactPayload",
    "Upload",
    # issue 7: statistics
    "Query.statistics",
    "Statistics",
    "Statistics.proxyOperations",
    "Statistics.complaintTickets",
    "Statistics.ticketTimes",
    "StatRow",
    "TicketTimes",
    "ProxyStatDimension",
    "TicketStatDimension",
    # issue 8: audit
    "Query.auditCheckpoints",
    "Query.accountAsOf",
    "AuditCheckpoint",
    "AuditCheckpointConnection",
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


def test_the_whole_contract_is_served() -> None:
    """Every type, field and argument the contract names is served (with its type, above)."""
    assert unserved(served_schema(), load_contract()) == []
