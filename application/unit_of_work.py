"""Saving aggregates atomically, with bounded retries on optimistic-concurrency conflicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.shared import NotFoundError, VersionConflictError

T = TypeVar("T")
MAX_ATTEMPTS = 8


def save(store: Application[UUID], *aggregates: Any) -> int:
    """Store every pending event of the aggregates in one transaction; return the last position."""
    recordings = store.save(*aggregates)
    if not recordings:
        return 0
    notification = recordings[-1].notification
    return int(notification.id)


def get_or_none(store: Application[UUID], aggregate_id: UUID, *, read_only: bool = False) -> Any:
    """The aggregate, or None. `read_only`: the caller never mutates it, so a cached instance
    may be handed out as is, without a copy."""
    try:
        return store.repository.get(aggregate_id, deepcopy_from_cache=not read_only)
    except AggregateNotFoundError:
        return None


def get_or_raise(store: Application[UUID], aggregate_id: UUID, what: str) -> Any:
    aggregate = get_or_none(store, aggregate_id)
    if aggregate is None:
        raise NotFoundError(f"{what} not found")
    return aggregate


def retrying(attempt: Callable[[], T], *, retry: bool) -> T:
    """Run a load-decide-save attempt; on a version conflict reload and try again (bounded).

    With `retry` False (the caller gave an expectedVersion) a conflict is reported instead.
    """
    for _ in range(MAX_ATTEMPTS if retry else 1):
        try:
            return attempt()
        except IntegrityError:
            continue
    raise VersionConflictError("the record was changed concurrently; reload and try again")
