"""The core store in memory (eventsourcing.popo) and fakes of the ports, for unit tests of
application services: no PostgreSQL, and no mock-patching."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application

from domain.shared import DomainError
from infra.stores import CoreStore
from tests.permissions_doc import marks_for

MEMORY_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def memory_store() -> CoreStore:
    """The production core store class, its events kept in memory."""
    return CoreStore(env=MEMORY_ENV)


def stored(store: Application[UUID]) -> list[tuple[UUID, int, str]]:
    """Every event in the store, in log order: (aggregate id, version, event name)."""
    notifications = store.recorder.select_notifications(start=1, limit=1_000_000)
    return [
        (n.originator_id, n.originator_version, n.topic.rsplit(".", 1)[-1]) for n in notifications
    ]


def refused(store: Application[UUID], code: str, when: Callable[[], Any]) -> DomainError:
    """`when` fails with `code`, and the store holds exactly the events it held before."""
    before = stored(store)
    with pytest.raises(DomainError) as caught:
        when()
    assert caught.value.code == code, caught.value.message
    assert stored(store) == before
    return caught.value


class FakeClock:
    """A clock the test sets and moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


def may(operation: str, role: str, own: str | None, province: str) -> bool:
    """The living permissions.md's answer for a caller (role, own province) acting on
    something of `province`."""
    mark = marks_for(operation)[role]
    if mark == "Y" or (mark == "P/Y" and own is None):
        return True
    return mark in ("P", "P/Y") and own == province
