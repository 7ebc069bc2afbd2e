"""The Subscriber aggregate: one 139 mailbox per mobile number, and every proxy setting on it.

Guards run in the public command methods; the private @event methods only record and apply.
Every event carries `meta` (actor, correlation id, reason, ticket id) and the values before
and after the change; its timestamp is the command's time (`at`), so a history recorded later
keeps the times it happened. The id is uuid5 of the msisdn, so a number has one stream for life:
registering a deregistered number opens a fresh mailbox on the same stream, after the old one.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.access.provinces import validate_province
from domain.shared import ChangeMeta, NoChangeError, natural_id
from domain.subscribers.plans import Plan, plan_for
from domain.subscribers.rules import (
    AlreadyRegisteredError,
    MailboxDeregisteredError,
    MailboxFrozenError,
    MailboxStatus,
    NotFrozenError,
    NotificationMode,
    SmsBlacklistLevel,
    arrival_setting,
    validate_alias,
    validate_freeze_reason,
    validate_msisdn,
)

_ACTIVE = MailboxStatus.ACTIVE.value
_FROZEN = MailboxStatus.FROZEN.value
_DEREGISTERED = MailboxStatus.DEREGISTERED.value


def subscriber_id_for(msisdn: str) -> UUID:
    return natural_id("subscriber", msisdn)


class Subscriber(Aggregate):
    """A subscriber's mailbox (msisdn@139.com): status, plan and personal settings.

    Attributes hold plain strings (not enums) so snapshots round-trip through JSON unchanged.
    """

    TOPIC = "spoa.subscribers:Subscriber"

    class Event(Aggregate.Event):
        TOPIC = "spoa.subscribers:Subscriber.Event"

    @staticmethod
    def create_id(msisdn: str) -> UUID:
        return subscriber_id_for(msisdn)

    # ------------------------------------------------------------------ lifecycle
    @event("MailboxRegistered", topic="spoa.subscribers:Subscriber.MailboxRegistered")
    def __init__(
        self,
        msisdn: str,
        province: str,
        plan_code: str,
        at: datetime,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.msisdn = msisdn
        self.registrations = 0
        self.deregistered_at: datetime | None = None
        self._open(province, plan_code, at)

    def _open(self, province: str, plan_code: str, at: datetime) -> None:
        """A fresh mailbox: every setting at its default."""
        self.province = province
        self.plan_code = plan_code
        self.status = _ACTIVE
        self.registered_at = at
        self.registrations += 1
        self.frozen_at: datetime | None = None
        self.frozen_reason: str | None = None
        self.companion_enabled = False
        self.bill_delivery = False
        self.arrival_enabled = False
        self.arrival_mode: str | None = None
        self.arrival_window_start: str | None = None
        self.arrival_window_end: str | None = None
        self.login_reminder = False
        self.alias: str | None = None
        self.sms_blacklist_level = SmsBlacklistLevel.NONE.value
        self.password_hash: str | None = None
        self.password_changed_at: datetime | None = None

    @classmethod
    def register(
        cls, *, msisdn: str, province: str, plan_code: str, at: datetime, meta: ChangeMeta
    ) -> Subscriber:
        validate_msisdn(msisdn)
        validate_province(province)
        plan_for(plan_code)
        return cls(
            msisdn=msisdn, province=province, plan_code=plan_code, at=at, meta=meta, timestamp=at
        )

    def reregister(self, province: str, plan_code: str, at: datetime, meta: ChangeMeta) -> None:
        """Open a fresh mailbox on a deregistered number; the old history stays."""
        validate_province(province)
        plan_for(plan_code)
        if self.status != _DEREGISTERED:
            raise AlreadyRegisteredError(
                f"{self.msisdn} already has a mailbox ({self.status})", field=["msisdn"]
            )
        self._reregistered(
            province=province,
            plan_code=plan_code,
            previous_province=self.province,
            previous_plan_code=self.plan_code,
            previous_deregistered_at=self.deregistered_at,
            at=at,
            meta=meta,
            timestamp=at,
        )

    @event("MailboxReregistered", topic="spoa.subscribers:Subscriber.MailboxReregistered")
    def _reregistered(
        self,
        province: str,
        plan_code: str,
        previous_province: str,
        previous_plan_code: str,
        previous_deregistered_at: datetime | None,
        at: datetime,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.deregistered_at = None
        self._open(province, plan_code, at)

    def deregister(self, at: datetime, meta: ChangeMeta) -> None:
        """Close the mailbox (allowed when frozen too); its alias is released."""
        self._guard(frozen_ok=True)
        self._deregistered(
            previous_status=self.status, released_alias=self.alias, at=at, meta=meta, timestamp=at
        )

    @event("MailboxDeregistered", topic="spoa.subscribers:Subscriber.MailboxDeregistered")
    def _deregistered(
        self,
        previous_status: str,
        released_alias: str | None,
        at: datetime,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.status = _DEREGISTERED
        self.deregistered_at = at
        self.alias = None
        self.frozen_at = None
        self.frozen_reason = None

    # ------------------------------------------------------------------ guards
    def _guard(self, *, frozen_ok: bool = False) -> None:
        if self.status == _DEREGISTERED:
            raise MailboxDeregisteredError(
                f"the mailbox of {self.msisdn} is deregistered; only registration is possible"
            )
        if self.status == _FROZEN and not frozen_ok:
            raise MailboxFrozenError(
                f"the mailbox of {self.msisdn} is frozen; only unfreezing, a password change"
                " or deregistration is possible"
            )

    @staticmethod
    def _no_change(what: str) -> NoChangeError:
        return NoChangeError(f"{what} already has this value")

    # ------------------------------------------------------------------ plan
    def change_plan(self, plan_code: str, at: datetime, meta: ChangeMeta) -> None:
        plan_for(plan_code)
        self._guard()
        if plan_code == self.plan_code:
            raise self._no_change("the plan")
        self._plan_changed(
            previous_plan_code=self.plan_code, plan_code=plan_code, meta=meta, timestamp=at
        )

    @event("PlanChanged", topic="spoa.subscribers:Subscriber.PlanChanged")
    def _plan_changed(
        self, previous_plan_code: str, plan_code: str, meta: ChangeMeta, timestamp: datetime
    ) -> None:
        self.plan_code = plan_code

    @property
    def plan(self) -> Plan:
        return plan_for(self.plan_code)

    # ------------------------------------------------------------------ switches
    def set_companion(self, enabled: bool, at: datetime, meta: ChangeMeta) -> None:
        self._guard()
        if enabled == self.companion_enabled:
            raise self._no_change("the mailbox companion")
        self._companion_changed(
            previous_enabled=self.companion_enabled, enabled=enabled, meta=meta, timestamp=at
        )

    @event("CompanionChanged", topic="spoa.subscribers:Subscriber.CompanionChanged")
    def _companion_changed(
        self, previous_enabled: bool, enabled: bool, meta: ChangeMeta, timestamp: datetime
    ) -> None:
        self.companion_enabled = enabled

    def set_bill_delivery(self, subscribed: bool, at: datetime, meta: ChangeMeta) -> None:
        self._guard()
        if subscribed == self.bill_delivery:
            raise self._no_change("phone-bill delivery")
        self._bill_delivery_changed(
            previous_subscribed=self.bill_delivery, subscribed=subscribed, meta=meta, timestamp=at
        )

    @event("BillDeliveryChanged", topic="spoa.subscribers:Subscriber.BillDeliveryChanged")
    def _bill_delivery_changed(
        self, previous_subscribed: bool, subscribed: bool, meta: ChangeMeta, timestamp: datetime
    ) -> None:
        self.bill_delivery = subscribed

    def set_login_reminder(self, enabled: bool, at: datetime, meta: ChangeMeta) -> None:
        self._guard()
        if enabled == self.login_reminder:
            raise self._no_change("the login reminder")
        self._login_reminder_changed(
            previous_enabled=self.login_reminder, enabled=enabled, meta=meta, timestamp=at
        )

    @event("LoginReminderChanged", topic="spoa.subscribers:Subscriber.LoginReminderChanged")
    def _login_reminder_changed(
        self, previous_enabled: bool, enabled: bool, meta: ChangeMeta, timestamp: datetime
    ) -> None:
        self.login_reminder = enabled

    # ------------------------------------------------------------------ arrival notification
    def set_arrival_notification(
        self,
        enabled: bool,
        mode: NotificationMode | None,
        window_start: str | None,
        window_end: str | None,
        at: datetime,
        meta: ChangeMeta,
    ) -> None:
        """Enabling needs a mode; the window is optional. Disabling clears mode and window."""
        mode_value, window_start, window_end = arrival_setting(
            enabled, mode, window_start, window_end
        )
        self._guard()
        current = (
            self.arrival_enabled,
            self.arrival_mode,
            self.arrival_window_start,
            self.arrival_window_end,
        )
        if (enabled, mode_value, window_start, window_end) == current:
            raise self._no_change("the mail-arrival notification")
        self._arrival_notification_changed(
            enabled=enabled,
            mode=mode_value,
            window_start=window_start,
            window_end=window_end,
            previous_enabled=self.arrival_enabled,
            previous_mode=self.arrival_mode,
            previous_window_start=self.arrival_window_start,
            previous_window_end=self.arrival_window_end,
            meta=meta,
            timestamp=at,
        )

    @event(
        "ArrivalNotificationChanged",
        topic="spoa.subscribers:Subscriber.ArrivalNotificationChanged",
    )
    def _arrival_notification_changed(
        self,
        enabled: bool,
        mode: str | None,
        window_start: str | None,
        window_end: str | None,
        previous_enabled: bool,
        previous_mode: str | None,
        previous_window_start: str | None,
        previous_window_end: str | None,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.arrival_enabled = enabled
        self.arrival_mode = mode
        self.arrival_window_start = window_start
        self.arrival_window_end = window_end

    # ------------------------------------------------------------------ alias
    def set_alias(self, alias: str | None, at: datetime, meta: ChangeMeta) -> None:
        """Only the mailbox side; the application claims and releases the AliasClaim."""
        if alias is not None:
            validate_alias(alias)
        self._guard()
        if alias == self.alias:
            raise self._no_change("the alias")
        self._alias_changed(previous_alias=self.alias, alias=alias, meta=meta, timestamp=at)

    @event("AliasChanged", topic="spoa.subscribers:Subscriber.AliasChanged")
    def _alias_changed(
        self,
        previous_alias: str | None,
        alias: str | None,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.alias = alias

    # ------------------------------------------------------------------ password
    def change_password(self, password_hash: str, at: datetime, meta: ChangeMeta) -> None:
        """Store a new password hash (never the password). Allowed on a frozen mailbox."""
        self._guard(frozen_ok=True)
        self._password_changed(password_hash=password_hash, at=at, meta=meta, timestamp=at)

    @event("PasswordChanged", topic="spoa.subscribers:Subscriber.PasswordChanged")
    def _password_changed(
        self, password_hash: str, at: datetime, meta: ChangeMeta, timestamp: datetime
    ) -> None:
        self.password_hash = password_hash
        self.password_changed_at = at

    # ------------------------------------------------------------------ freezing
    def freeze(self, reason: str, at: datetime, meta: ChangeMeta) -> None:
        text = validate_freeze_reason(reason)
        self._guard()
        self._frozen(reason=text, at=at, meta=meta, timestamp=at)

    @event("MailboxFrozen", topic="spoa.subscribers:Subscriber.MailboxFrozen")
    def _frozen(self, reason: str, at: datetime, meta: ChangeMeta, timestamp: datetime) -> None:
        self.status = _FROZEN
        self.frozen_at = at
        self.frozen_reason = reason

    def unfreeze(self, at: datetime, meta: ChangeMeta) -> None:
        self._guard(frozen_ok=True)
        if self.status != _FROZEN:
            raise NotFrozenError(f"the mailbox of {self.msisdn} is not frozen")
        self._unfrozen(
            previous_frozen_at=self.frozen_at,
            previous_frozen_reason=self.frozen_reason,
            at=at,
            meta=meta,
            timestamp=at,
        )

    @event("MailboxUnfrozen", topic="spoa.subscribers:Subscriber.MailboxUnfrozen")
    def _unfrozen(
        self,
        previous_frozen_at: datetime | None,
        previous_frozen_reason: str | None,
        at: datetime,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.status = _ACTIVE
        self.frozen_at = None
        self.frozen_reason = None

    # ------------------------------------------------------------------ SMS blacklist
    def set_sms_blacklist(self, level: SmsBlacklistLevel, at: datetime, meta: ChangeMeta) -> None:
        value = SmsBlacklistLevel(level).value
        self._guard()
        if value == self.sms_blacklist_level:
            raise self._no_change("the SMS blacklist level")
        self._sms_blacklist_changed(
            previous_level=self.sms_blacklist_level, level=value, meta=meta, timestamp=at
        )

    @event("SmsBlacklistChanged", topic="spoa.subscribers:Subscriber.SmsBlacklistChanged")
    def _sms_blacklist_changed(
        self, previous_level: str, level: str, meta: ChangeMeta, timestamp: datetime
    ) -> None:
        self.sms_blacklist_level = level

    # ------------------------------------------------------------------ views
    @property
    def mailbox(self) -> str:
        return f"{self.msisdn}@139.com"

    @property
    def mailbox_status(self) -> MailboxStatus:
        return MailboxStatus(self.status)
