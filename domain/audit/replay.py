"""A stream's state at a time: its events applied in version order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate


def event_time(event: Any) -> datetime:
    """When the event happened: the command's `at` where it has one, else its timestamp."""
    at = getattr(event, "at", None)
    moment: datetime = at if isinstance(at, datetime) else event.timestamp
    return moment


def replay(events: Iterable[Any], at: datetime | None = None) -> Aggregate | None:
    """Apply a stream's domain events in version order, stopping at the first one after `at`."""
    aggregate: Aggregate | None = None
    for domain_event in events:
        if at is not None and event_time(domain_event) > at:
            break
        aggregate = domain_event.mutate(aggregate)
    return aggregate
