"""Test helpers for the subscribers context: an in-memory core store, fakes, principals."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import Mapper

from application.authz import Principal
from application.subscribers.commands import SubscriberService
from domain.access.permissions import Role
from domain.shared import DomainError
from domain.subscribers.rules import NotificationMode as Mode
from domain.subscribers.rules import SmsBlacklistLevel as Level
from domain.subscribers.subscriber import Subscriber, subscriber_id_for
from projections.runtime.codec import EventMapper

MEMORY_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}

GD_NUMBER = "13800138000"
BJ_NUMBER = "13900139000"


class MemoryCore(Application[UUID]):
    """The core store in memory (eventsourcing.popo), snapshotting often to exercise it."""

    name = "core"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Subscriber: 3}

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=EventMapper)


class FakeHasher:
    """Fast and deterministic; looks like a hash so redaction tests mean something."""

    def hash(self, password: str) -> str:
        return "$fake$" + hashlib.sha256(password.encode()).hexdigest()

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == self.hash(password)


class StepClock:
    """A clock that moves one second per reading, from a fixed start."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


def principal(username: str, role: Role, province: str | None = None) -> Principal:
    return Principal(
        account_id=uuid.uuid5(uuid.NAMESPACE_DNS, username),
        username=username,
        role=role,
        province=province,
        correlation_id=f"cid-{username}",
    )


PRINCIPALS = {
    "admin": principal("admin", Role.SUPER_ADMIN),
    "second": principal("second", Role.SECOND_LINE_AGENT),
    "gd.agent": principal("gd.agent", Role.PROVINCE_AGENT, "GD"),
    "bj.agent": principal("bj.agent", Role.PROVINCE_AGENT, "BJ"),
    "viewer": principal("viewer", Role.VIEWER),
    "gd.viewer": principal("gd.viewer", Role.VIEWER, "GD"),
    "auditor": principal("auditor", Role.AUDITOR),
    "platform": principal("platform", Role.INTEGRATION),
}


def memory_commands() -> tuple[SubscriberService, MemoryCore]:
    store = MemoryCore(env=MEMORY_ENV)
    return SubscriberService(store, FakeHasher(), StepClock()), store


def stored_event_types(store: Application[UUID], msisdn: str) -> list[str]:
    from domain.subscribers.subscriber import subscriber_id_for

    return [type(e).__name__ for e in store.events.get(subscriber_id_for(msisdn))]


# ---------------------------------------------------------------- given / then, in memory
ADMIN = PRINCIPALS["admin"]
OTHER = "13700137000"


def given(commands: SubscriberService, msisdn: str = GD_NUMBER, province: str = "GD") -> None:
    commands.register(ADMIN, msisdn, province, "FREE")


def load(store: MemoryCore, msisdn: str = GD_NUMBER) -> Subscriber:
    subscriber: Subscriber = store.repository.get(subscriber_id_for(msisdn))
    return subscriber


def then_error(
    store: MemoryCore, code: str, when: Callable[[], Any], msisdn: str = GD_NUMBER
) -> DomainError:
    """The command fails with `code` and stores nothing."""
    before = stored_event_types(store, msisdn)
    with pytest.raises(DomainError) as caught:
        when()
    assert caught.value.code == code, caught.value.message
    assert stored_event_types(store, msisdn) == before
    return caught.value


def last_event(store: MemoryCore, msisdn: str = GD_NUMBER) -> Any:
    return list(store.events.get(subscriber_id_for(msisdn)))[-1]


#: one call of every command but registration, by its GraphQL name
COMMANDS: dict[str, Callable[[SubscriberService], Any]] = {
    "deregisterMailbox": lambda c: c.deregister(ADMIN, GD_NUMBER),
    "changePlan": lambda c: c.change_plan(ADMIN, GD_NUMBER, "VIP_20"),
    "setCompanion": lambda c: c.set_companion(ADMIN, GD_NUMBER, True),
    "setBillDelivery": lambda c: c.set_bill_delivery(ADMIN, GD_NUMBER, True),
    "setArrivalNotification": lambda c: c.set_arrival_notification(
        ADMIN, GD_NUMBER, True, Mode.SMS, "08:00", "22:00"
    ),
    "setLoginReminder": lambda c: c.set_login_reminder(ADMIN, GD_NUMBER, True),
    "setAlias": lambda c: c.set_alias(ADMIN, GD_NUMBER, "lily.chen"),
    "changePassword": lambda c: c.change_password(ADMIN, GD_NUMBER, "abc12345"),
    "unfreezeMailbox": lambda c: c.unfreeze(ADMIN, GD_NUMBER),
    "freezeMailbox": lambda c: c.freeze(ADMIN, GD_NUMBER, "phishing reported"),
    "setSmsBlacklist": lambda c: c.set_sms_blacklist(ADMIN, GD_NUMBER, Level.NO_MARKETING),
}
