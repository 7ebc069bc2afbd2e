"""Proxy-operation counting: which subscriber events are proxy settings, by whom, on which day.

Pure functions of events; `projections/statistics/projection.py` loads and stores what they need.

The `operation` key is the name of the GraphQL mutation that makes the change (the proxy
settings of permissions.md), so it reads the same in the API, in the statistics and in the
CSV export, and it stays stable when event classes move:

    MailboxRegistered, MailboxReregistered -> registerMailbox
    MailboxDeregistered -> deregisterMailbox   PlanChanged -> changePlan
    CompanionChanged -> setCompanion           BillDeliveryChanged -> setBillDelivery
    ArrivalNotificationChanged -> setArrivalNotification
    LoginReminderChanged -> setLoginReminder   AliasChanged -> setAlias
    PasswordChanged -> changePassword          MailboxUnfrozen -> unfreezeMailbox
    SmsBlacklistChanged -> setSmsBlacklist

`freezeMailbox` is not a proxy setting (permissions.md lists it apart: a platform-security
action), so MailboxFrozen is not counted. Only staff roles count: INTEGRATION (the platform's
service account) and SYSTEM are left out, since the statistics measure work done through SPOA.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, MutableMapping
from datetime import date
from typing import Any
from uuid import UUID

from domain.access.permissions import Role
from domain.calendar_days import local_day
from domain.shared import ChangeMeta
from domain.subscribers.subscriber import Subscriber

_S: Any = Subscriber
OPERATIONS: dict[str, str] = {
    _S.MailboxRegistered.TOPIC: "registerMailbox",
    _S.MailboxReregistered.TOPIC: "registerMailbox",
    _S.MailboxDeregistered.TOPIC: "deregisterMailbox",
    _S.PlanChanged.TOPIC: "changePlan",
    _S.CompanionChanged.TOPIC: "setCompanion",
    _S.BillDeliveryChanged.TOPIC: "setBillDelivery",
    _S.ArrivalNotificationChanged.TOPIC: "setArrivalNotification",
    _S.LoginReminderChanged.TOPIC: "setLoginReminder",
    _S.AliasChanged.TOPIC: "setAlias",
    _S.PasswordChanged.TOPIC: "changePassword",
    _S.MailboxUnfrozen.TOPIC: "unfreezeMailbox",
    _S.SmsBlacklistChanged.TOPIC: "setSmsBlacklist",
}
#: Registration events set the subscriber's province; every other event keeps it.
REGISTRATIONS = frozenset({_S.MailboxRegistered.TOPIC, _S.MailboxReregistered.TOPIC})
#: Subscriber events the statistics read.
PROXY_TOPICS = frozenset(OPERATIONS)
#: Roles whose changes count: people working through SPOA.
STAFF_ROLES = frozenset(
    r.value
    for r in (
        Role.SUPER_ADMIN,
        Role.SECOND_LINE_AGENT,
        Role.PROVINCE_AGENT,
        Role.VIEWER,
        Role.AUDITOR,
    )
)

ProxyKey = tuple[date, str, str, str]  # day, province, operation, operator


def staff_operator(meta: ChangeMeta | None) -> str | None:
    """The acting username when a staff role acted, else None."""
    if meta is not None and meta.actor.role in STAFF_ROLES:
        return meta.actor.username or None
    return None


def provinces_needed(events: Iterable[Any]) -> set[UUID]:
    """The subscribers whose province `fold_proxy` needs from earlier pages: those with a
    counted operation before any (re-)registration of theirs among `events`."""
    decided: set[UUID] = set()
    needed: set[UUID] = set()
    for e in events:
        sid = e.originator_id
        if sid in decided:
            continue
        topic = e.TOPIC
        if topic in REGISTRATIONS:
            decided.add(sid)
        elif topic in OPERATIONS and staff_operator(e.meta) is not None:
            decided.add(sid)
            needed.add(sid)
    return needed


def fold_proxy(
    events: Iterable[Any],
    provinces: MutableMapping[UUID, str],
    counts: Counter[ProxyKey],
) -> dict[UUID, str]:
    """Count the proxy operations of `events` (subscriber events in store order) into `counts`.

    `provinces` maps subscriber id -> current province and is updated by registrations; the
    registrations seen are returned, to be stored. Events of a subscriber whose registration
    was never seen are skipped (a stream always starts with one, so this does not happen).
    """
    registered: dict[UUID, str] = {}
    for e in events:
        topic = e.TOPIC
        if topic in REGISTRATIONS:
            provinces[e.originator_id] = e.province
            registered[e.originator_id] = e.province
        operation = OPERATIONS.get(topic)
        if operation is None:
            continue
        operator = staff_operator(e.meta)
        province = provinces.get(e.originator_id)
        if operator is None or province is None:
            continue
        counts[(local_day(e.timestamp), province, operation, operator)] += 1
    return registered
