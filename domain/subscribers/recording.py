"""Recording history with the times it happened (imports and generated demo histories).

Events normally carry the time they were created. A history import replays changes that
happened earlier; inside `recorded_at(when)` the events of this context are stamped `when`
instead. Commands made by people never use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from eventsourcing.domain import Aggregate

_RECORDED_AT: ContextVar[datetime | None] = ContextVar("spoa_subscribers_recorded_at", default=None)


@contextmanager
def recorded_at(when: datetime) -> Iterator[None]:
    if when.tzinfo is None:
        raise ValueError("recorded_at needs a timezone-aware time")
    token = _RECORDED_AT.set(when)
    try:
        yield
    finally:
        _RECORDED_AT.reset(token)


class RecordableEvent(Aggregate.Event):
    """Base event of this context: timestamped by `recorded_at` when one is active."""

    @staticmethod
    def create_timestamp() -> datetime:
        override = _RECORDED_AT.get()
        if override is not None:
            return override
        return Aggregate.Event.create_timestamp()
