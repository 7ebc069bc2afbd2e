"""Subscriber and alias-claim events happen when the service's clock says, whatever the wall
clock: a history recorded later (demo data, imports) keeps its times, in the stored shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from application.subscribers.commands import SubscriberService
from demo.clock import DemoClock
from domain.subscribers.alias_claim import alias_claim_id_for
from domain.subscribers.subscriber import subscriber_id_for
from tests.subscriber_helpers import GD_NUMBER, MEMORY_ENV, PRINCIPALS, FakeHasher, MemoryCore

ADMIN, PLATFORM = PRINCIPALS["admin"], PRINCIPALS["platform"]


def test_every_event_is_stamped_with_the_time_of_its_command() -> None:
    # Given a service whose clock reads half a year ago
    then = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
    clock = DemoClock(then)
    store = MemoryCore(env=MEMORY_ENV)
    service = SubscriberService(store, FakeHasher(), clock)
    # When commands run, the clock moving between them
    steps = [
        lambda: service.register(ADMIN, GD_NUMBER, "GD", "FREE"),
        lambda: service.change_plan(ADMIN, GD_NUMBER, "VIP_20"),
        lambda: service.set_alias(ADMIN, GD_NUMBER, "lily.chen"),
        lambda: service.change_password(ADMIN, GD_NUMBER, "abc12345"),
        lambda: service.freeze(PLATFORM, GD_NUMBER, "spam sent"),
        lambda: service.deregister(ADMIN, GD_NUMBER),
    ]
    for n, step in enumerate(steps):
        clock.at = then + timedelta(days=n)
        step()
    # Then each event's timestamp (and `at`, where the event has one) is its command's time
    events = store.events.get(subscriber_id_for(GD_NUMBER))
    days = [(e.timestamp - then).days for e in events]
    assert days == [0, 1, 2, 3, 4, 5]
    assert all(getattr(e, "at", e.timestamp) == e.timestamp for e in events)
    claims = store.events.get(alias_claim_id_for("lily.chen"))
    assert [(type(e).__name__, (e.timestamp - then).days) for e in claims] == [
        ("AliasClaimed", 2),
        ("AliasReleased", 5),
    ]


def test_the_time_is_stored_in_the_timestamp_every_event_already_had() -> None:
    at = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
    store = MemoryCore(env=MEMORY_ENV)
    service = SubscriberService(store, FakeHasher(), DemoClock(at))
    service.register(ADMIN, GD_NUMBER, "GD", "FREE")
    service.set_companion(ADMIN, GD_NUMBER, True)
    stored = [
        json.loads(store.mapper.to_stored_event(e).state)
        for e in store.events.get(subscriber_id_for(GD_NUMBER))
    ]
    assert [list(s) for s in stored] == [
        ["timestamp", "originator_topic", "msisdn", "province", "plan_code", "at", "meta"],
        ["timestamp", "previous_enabled", "enabled", "meta"],
    ]
    assert {s["timestamp"]["_data_"] for s in stored} == {at.isoformat()}
