"""ticketAsOf, announcementAsOf and faqAsOf go through the indexed version timeline (issue 8):
each answer is the state recorded at that time, a time between two versions gives the earlier
one, a time before creation gives None, and no query replays the stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from application.authz import Principal
from infra.bootstrap import Container
from tests.helpers import seed_accounts
from tests.integration.support_helpers import FakeClock, draft, use_clock
from tests.integration.test_announcements import notice

MONDAY_9 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class CountingTimeline:
    """The container's core timeline, counting its lookups."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def version_at(self, originator_id: UUID, at: datetime) -> int | None:
        self.calls += 1
        found: int | None = self.inner.version_at(originator_id, at)
        return found


@pytest.fixture
def timeline(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingTimeline]:
    counting = CountingTimeline(container.as_of.core_timeline)
    monkeypatch.setattr(container.as_of, "core_timeline", counting)

    def no_scan(*args: object, **kwargs: object) -> object:
        raise AssertionError("an as-of query read the whole stream")

    monkeypatch.setattr(container.core_log, "stream", no_scan)
    yield counting


@pytest.fixture
def people(container: Container) -> dict[str, Principal]:
    return seed_accounts(container)


def test_ticket_as_of_uses_the_timeline(
    container: Container, people: dict[str, Principal], timeline: CountingTimeline
) -> None:
    clock = FakeClock(MONDAY_9)
    use_clock(container, clock)
    agent, admin = people["gd.agent"], people["admin"]
    ticket_id = draft(container, agent)
    created = clock.now()
    recorded = {created: container.ticket_queries.get(admin, ticket_id)}
    submitted_at = clock.advance(minutes=10)
    container.tickets.submit(agent, ticket_id)
    recorded[submitted_at] = container.ticket_queries.get(admin, ticket_id)
    container.engine.catch_up("audit")
    for at, state in recorded.items():
        then = container.ticket_queries.as_of(admin, ticket_id, at)
        assert state is not None and then is not None
        assert (then.version, then.status) == (state.version, state.status)
    between = container.ticket_queries.as_of(admin, ticket_id, submitted_at - SECOND)
    assert between is not None and (between.version, between.status) == (1, "DRAFT")
    assert container.ticket_queries.as_of(admin, ticket_id, created - SECOND) is None
    assert timeline.calls == len(recorded) + 2


def test_announcement_as_of_uses_the_timeline(
    container: Container, people: dict[str, Principal], timeline: CountingTimeline
) -> None:
    clock = FakeClock(MONDAY_9)
    use_clock(container, clock)
    vendor, viewer = people["second"], people["viewer"]
    first = container.announcements.publish(vendor, notice("短信延迟")).announcement
    revised_at = clock.advance(minutes=30)
    revised = container.announcements.revise(
        vendor, first.id, notice("短信延迟（已定位）"), expected_version=1
    ).announcement
    container.engine.catch_up("audit")
    for state in (first, revised):
        at = state.revised_at or state.published_at
        then = container.announcements.as_of(viewer, first.id, at)
        assert then is not None and (then.version, then.title) == (state.version, state.title)
    between = container.announcements.as_of(viewer, first.id, revised_at - SECOND)
    assert between is not None and (between.version, between.title) == (1, "短信延迟")
    assert container.announcements.as_of(viewer, first.id, MONDAY_9 - SECOND) is None
    assert timeline.calls == 4


def test_faq_as_of_uses_the_timeline(
    container: Container, people: dict[str, Principal], timeline: CountingTimeline
) -> None:
    editor, viewer = people["second"], people["viewer"]
    before = datetime.now(UTC)
    time.sleep(0.01)
    created = container.knowledge.create_faq(
        editor, title="版本一", body="正文一", category="类别", keywords=None
    ).faq
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    revised = container.knowledge.revise_faq(
        editor, created.id, title="版本二", body="正文二", category="类别", keywords=None
    ).faq
    time.sleep(0.01)
    after_revision = datetime.now(UTC)
    time.sleep(0.01)
    container.knowledge.remove_faq(editor, created.id)
    container.engine.catch_up("audit")
    earlier = container.knowledge.faq_as_of(viewer, created.id, between)
    assert earlier is not None and (earlier.version, earlier.title) == (1, created.title)
    later = container.knowledge.faq_as_of(viewer, created.id, after_revision)
    assert later is not None and (later.version, later.title) == (revised.version, "版本二")
    assert container.knowledge.faq_as_of(viewer, created.id, before) is None
    assert container.knowledge.faq_as_of(viewer, created.id, datetime.now(UTC)) is None  # removed
    assert timeline.calls == 4
