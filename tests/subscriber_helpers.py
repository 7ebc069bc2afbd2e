"""Test helpers for the subscribers context: an in-memory core store, fakes, principals."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper

from application.authz import Principal
from application.subscribers.commands import SubscriberService
from domain.access.permissions import Role
from domain.subscribers.subscriber import Subscriber
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
