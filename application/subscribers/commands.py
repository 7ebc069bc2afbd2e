"""Subscriber use cases: registration and every proxy setting, each stored as a domain event.

Every command: permission check, input format check, then a load-decide-save attempt run by
the retry policy of application/unit_of_work.py, which checks the caller's expectedVersion
against each freshly loaded subscriber. An attempt builds and mutates the aggregates itself,
because a failed save drains their pending events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from application.authz import Principal
from application.ports import Clock, PasswordHasher
from application.support import drafts
from application.unit_of_work import get_or_none, run_command, save
from domain.access.permissions import Permission
from domain.access.provinces import validate_province
from domain.shared import ChangeMeta, PermissionDeniedError
from domain.subscribers.alias_claim import AliasClaim, alias_claim_id_for, claim_alias
from domain.subscribers.plans import plan_for
from domain.subscribers.rules import (
    CHANGE_REASON,
    NotificationMode,
    SmsBlacklistLevel,
    SubscriberNotFoundError,
    validate_alias,
    validate_freeze_reason,
    validate_mailbox_password,
    validate_msisdn,
)
from domain.subscribers.subscriber import Subscriber, subscriber_id_for
from domain.support.citation import check_citation, parse_cited_ticket, ticket_not_found
from domain.support.ticket import Ticket


@dataclass(frozen=True)
class ChangeContext:
    """What every proxy-setting input carries besides the setting itself."""

    reason: str | None = None
    ticket_id: str | None = None
    expected_version: int | None = None


NO_CONTEXT = ChangeContext()


@dataclass(frozen=True)
class SubscriberResult:
    subscriber: Subscriber
    position: int


# A decision on a loaded subscriber: mutate it, and return any other aggregates to save with it.
Decision = Callable[[Subscriber, ChangeMeta], list[Any] | None]


class SubscriberService:
    """The eleven proxy settings plus freezeMailbox."""

    def __init__(self, store: Application[UUID], hasher: PasswordHasher, clock: Clock) -> None:
        self.store = store
        self.hasher = hasher
        self.clock = clock

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def _meta(principal: Principal, context: ChangeContext) -> ChangeMeta:
        reason = CHANGE_REASON.optional(context.reason)
        ticket_id = parse_cited_ticket(context.ticket_id)
        return principal.meta(reason=reason, ticket_id=str(ticket_id) if ticket_id else None)

    def _check_cited_ticket(
        self, principal: Principal, meta: ChangeMeta, msisdn: str, province: str
    ) -> None:
        """The ticket the change cites exists, is one the caller may read, and is about this
        mailbox (or, naming none, of its province); a ticket the caller may not read is
        TICKET_NOT_FOUND, as if it did not exist."""
        cited = meta.ticket_id
        if cited is None:
            return
        ticket = get_or_none(self.store, UUID(cited), Ticket)
        if ticket is None:
            raise ticket_not_found()
        try:
            principal.require_in_province(Permission.TICKET_READ, ticket.province)
        except PermissionDeniedError:
            raise ticket_not_found() from None
        if not drafts.may_read(principal, ticket.status, ticket.created_by):
            raise ticket_not_found()  # someone else's draft: private, as if it did not exist
        check_citation(ticket, msisdn, province)

    def _load(self, msisdn: str) -> Subscriber:
        subscriber = get_or_none(self.store, subscriber_id_for(msisdn), Subscriber)
        if subscriber is None:
            raise SubscriberNotFoundError(f"no mailbox for {msisdn}", field=["msisdn"])
        return subscriber

    def _change(
        self,
        principal: Principal,
        msisdn: str,
        context: ChangeContext,
        decide: Decision,
        permission: Permission = Permission.PROXY_SETTING,
    ) -> SubscriberResult:
        principal.require(permission)
        validate_msisdn(msisdn)
        meta = self._meta(principal, context)

        def load() -> Subscriber:
            subscriber = self._load(msisdn)
            principal.require_in_province(permission, subscriber.province)
            return subscriber

        def act(subscriber: Subscriber) -> SubscriberResult:
            self._check_cited_ticket(principal, meta, msisdn, subscriber.province)
            others = decide(subscriber, meta) or []
            return SubscriberResult(subscriber, save(self.store, subscriber, *others))

        # A conflict on another aggregate (a concurrent claim of the same alias) is retried
        # and gets its true answer; one that moved the subscriber is VERSION_CONFLICT.
        return run_command(load, act, expected_version=context.expected_version)

    # ------------------------------------------------------------------ registration
    def register(
        self,
        principal: Principal,
        msisdn: str,
        province: str,
        plan_code: str,
        context: ChangeContext = NO_CONTEXT,
    ) -> SubscriberResult:
        """Open a mailbox: a new number, or a fresh mailbox on a deregistered one."""
        principal.require_in_province(Permission.PROXY_SETTING, province)
        validate_msisdn(msisdn)
        validate_province(province)
        plan_for(plan_code)
        meta = self._meta(principal, context)

        def load() -> Subscriber | None:
            self._check_cited_ticket(principal, meta, msisdn, province)
            existing = get_or_none(self.store, subscriber_id_for(msisdn), Subscriber)
            if existing is not None:
                # The old mailbox's province must be ours too: its history stays on the stream.
                principal.require_in_province(Permission.PROXY_SETTING, existing.province)
            return existing

        def act(existing: Subscriber | None) -> SubscriberResult:
            if existing is None:
                subscriber = Subscriber.register(
                    msisdn=msisdn,
                    province=province,
                    plan_code=plan_code,
                    at=self.clock.now(),
                    meta=meta,
                )
            else:
                existing.reregister(province, plan_code, self.clock.now(), meta)
                subscriber = existing
            return SubscriberResult(subscriber, save(self.store, subscriber))

        # A concurrent first registration makes our version-1 insert conflict; the retry then
        # sees the winner (ALREADY_REGISTERED, or VERSION_CONFLICT against an expectedVersion).
        return run_command(load, act, expected_version=context.expected_version)

    def deregister(
        self, principal: Principal, msisdn: str, context: ChangeContext = NO_CONTEXT
    ) -> SubscriberResult:
        def decide(subscriber: Subscriber, meta: ChangeMeta) -> list[Any]:
            released, now = subscriber.alias, self.clock.now()
            subscriber.deregister(now, meta)
            return self._release(released, subscriber, now, meta)

        return self._change(principal, msisdn, context, decide)

    # ------------------------------------------------------------------ settings
    def change_plan(
        self,
        principal: Principal,
        msisdn: str,
        plan_code: str,
        context: ChangeContext = NO_CONTEXT,
    ) -> SubscriberResult:
        plan_for(plan_code)
        return self._change(
            principal,
            msisdn,
            context,
            lambda s, meta: s.change_plan(plan_code, self.clock.now(), meta),
        )

    def set_companion(
        self, principal: Principal, msisdn: str, enabled: bool, context: ChangeContext = NO_CONTEXT
    ) -> SubscriberResult:
        return self._change(
            principal,
            msisdn,
            context,
            lambda s, meta: s.set_companion(enabled, self.clock.now(), meta),
        )

    def set_bill_delivery(
        self,
        principal: Principal,
        msisdn: str,
        subscribed: bool,
        context: ChangeContext = NO_CONTEXT,
    ) -> SubscriberResult:
        return self._change(
            principal,
            msisdn,
            context,
            lambda s, meta: s.set_bill_delivery(subscribed, self.clock.now(), meta),
        )

    def set_arrival_notification(
        self,
        principal: Principal,
        msisdn: str,
        enabled: bool,
        mode: NotificationMode | None = None,
        window_start: str | None = None,
        window_end: str | None = None,
        context: ChangeContext = NO_CONTEXT,
    ) -> SubscriberResult:
        return self._change(
            principal,
            msisdn,
            context,
            lambda s, meta: s.set_arrival_notification(
                enabled, mode, window_start, window_end, self.clock.now(), meta
            ),
        )

    def set_login_reminder(
        self, principal: Principal, msisdn: str, enabled: bool, context: ChangeContext = NO_CONTEXT
    ) -> SubscriberResult:
        return self._change(
            principal,
            msisdn,
            context,
            lambda s, meta: s.set_login_reminder(enabled, self.clock.now(), meta),
        )

    def set_sms_blacklist(
        self,
        principal: Principal,
        msisdn: str,
        level: SmsBlacklistLevel,
        context: ChangeContext = NO_CONTEXT,
    ) -> SubscriberResult:
        return self._change(
            principal,
            msisdn,
            context,
            lambda s, meta: s.set_sms_blacklist(level, self.clock.now(), meta),
        )

    # ------------------------------------------------------------------ alias
    def set_alias(
        self,
        principal: Principal,
        msisdn: str,
        alias: str | None,
        context: ChangeContext = NO_CONTEXT,
    ) -> SubscriberResult:
        """Set or (None) clear the alias: the mailbox, the new claim and the released old
        claim are saved in one transaction, so no alias is ever held by two mailboxes."""
        if alias is not None:
            validate_alias(alias)

        def decide(subscriber: Subscriber, meta: ChangeMeta) -> list[Any]:
            previous, now = subscriber.alias, self.clock.now()
            subscriber.set_alias(alias, now, meta)
            changed: list[Any] = self._release(previous, subscriber, now, meta)
            if alias is not None:
                existing = get_or_none(self.store, alias_claim_id_for(alias), AliasClaim)
                holder = subscriber.id
                changed.append(claim_alias(existing, alias, holder, subscriber.msisdn, now, meta))
            return changed

        return self._change(principal, msisdn, context, decide)

    def _release(
        self, alias: str | None, subscriber: Subscriber, at: datetime, meta: ChangeMeta
    ) -> list[Any]:
        if alias is None:
            return []
        claim = get_or_none(self.store, alias_claim_id_for(alias), AliasClaim)
        if claim is None:
            return []
        claim.release(subscriber.id, at, meta)
        return [claim]

    # ------------------------------------------------------------------ password and freezing
    def change_password(
        self,
        principal: Principal,
        msisdn: str,
        new_password: str,
        context: ChangeContext = NO_CONTEXT,
    ) -> SubscriberResult:
        """Only an argon2id hash is stored; the password itself never enters an event."""
        principal.require(Permission.PROXY_SETTING)
        validate_msisdn(msisdn)
        validate_mailbox_password(new_password, msisdn)
        password_hash = self.hasher.hash(new_password)  # slow on purpose: once, not per attempt
        return self._change(
            principal,
            msisdn,
            context,
            lambda s, meta: s.change_password(password_hash, self.clock.now(), meta),
        )

    def freeze(
        self,
        principal: Principal,
        msisdn: str,
        reason: str,
        context: ChangeContext = NO_CONTEXT,
    ) -> SubscriberResult:
        """Platform security (INTEGRATION) and SUPER_ADMIN only. Without a context reason the
        freeze reason is the change's reason in the audit trail too."""
        principal.require(Permission.FREEZE_MAILBOX)
        text = validate_freeze_reason(reason)
        if context.reason is None:
            context = replace(context, reason=text)
        return self._change(
            principal,
            msisdn,
            context,
            lambda s, meta: s.freeze(text, self.clock.now(), meta),
            permission=Permission.FREEZE_MAILBOX,
        )

    def unfreeze(
        self, principal: Principal, msisdn: str, context: ChangeContext = NO_CONTEXT
    ) -> SubscriberResult:
        return self._change(
            principal, msisdn, context, lambda s, meta: s.unfreeze(self.clock.now(), meta)
        )
