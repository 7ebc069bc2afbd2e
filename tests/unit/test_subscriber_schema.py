"""The subscribers part of the contract is served completely (history fields excepted)."""

from __future__ import annotations

from api.graphql.schema import build_schema
from tests.contract import load_contract, unserved

HISTORY_FIELDS = {  # issue 4 adds these to Subscriber
    "smsRecords",
    "mmsRecords",
    "wapPushRecords",
    "campaignEntries",
    "charges",
    "logins",
    "usageLog",
    "syncLog",
    "usageCounts",
    "pointsLog",
}
SUBSCRIBER_TYPES = [
    "MailboxStatus",
    "NotificationMode",
    "SmsBlacklistLevel",
    "Plan",
    "ArrivalNotification",
    "Subscriber",
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
]


def test_subscriber_types_are_served_completely() -> None:
    missing = unserved(build_schema()._schema, load_contract())
    for type_name in SUBSCRIBER_TYPES:
        gaps = [m for m in missing if m == type_name or m.startswith(type_name + ".")]
        if type_name == "Subscriber":
            gaps = [m for m in gaps if m.split(".", 1)[1] not in HISTORY_FIELDS]
        assert gaps == [], gaps


def test_enum_values_match_the_contract() -> None:
    served = build_schema()._schema
    contract = load_contract()
    for name in ["MailboxStatus", "NotificationMode", "SmsBlacklistLevel"]:
        assert set(served.type_map[name].values) == set(contract.type_map[name].values)  # type: ignore[attr-defined]
