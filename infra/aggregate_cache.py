"""A repository that keeps recent aggregates in memory and brings them up to date on every get.

Every request loads its staff account (the token re-check) and every proxy setting loads its
subscriber. From the database that is a snapshot read plus a read of the events after it, and
decoding both. With the aggregate cached, a get is one read of the events after the cached
version (usually none) plus a copy, so it still sees every stored event, whichever process or
thread stored it: a disabled account or a changed role counts on the next request, and a
command decides on the latest state (a stale decision still fails on its version at save).

Cached objects are never mutated: a get returns a copy (commands mutate what they get), and a
newer state replaces the cached one, never an older one. `deepcopy_from_cache=False` returns
the cached object itself, for callers that only read it. A get of an older version (taking a
snapshot asks for the version just saved) starts from the cached state when it is not newer.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from copy import deepcopy
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository, project_aggregate
from eventsourcing.persistence import EventStore

_IMMUTABLE = (str, int, float, bytes, type(None), UUID, datetime, date, time, timedelta, Decimal)


def _immutable(value: Any) -> bool:
    if isinstance(value, (*_IMMUTABLE, Enum)):
        return True
    if type(value) in (tuple, frozenset):
        return all(_immutable(item) for item in value)
    return False


@functools.cache
def _plain_instances(cls: type) -> bool:
    """Whether instances keep all their state in __dict__ (no slot holds any)."""
    return not any(klass.__dict__.get("__slots__") for klass in cls.__mro__)


def copy_aggregate(aggregate: Any) -> Any:
    """A deep copy, made quickly: immutable attribute values are shared, the rest deep-copied."""
    state = getattr(aggregate, "__dict__", None)
    if state is None or not _plain_instances(type(aggregate)):
        return deepcopy(aggregate)
    clone = object.__new__(type(aggregate))
    memo: dict[int, Any] = {}  # one memo: values shared between attributes stay shared
    clone.__dict__.update(
        {key: value if _immutable(value) else deepcopy(value, memo) for key, value in state.items()}
    )
    return clone


class CachingRepository(Repository[UUID]):
    def __init__(
        self,
        event_store: EventStore[UUID],
        *,
        snapshot_store: EventStore[UUID] | None = None,
        maxsize: int = 10_000,
    ) -> None:
        # The base class's own cache stays off: it fast-forwards the cached object in place,
        # which a concurrent get may be copying at that moment.
        super().__init__(event_store, snapshot_store=snapshot_store)
        self.maxsize = maxsize
        self._latest: OrderedDict[UUID, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(  # type: ignore[override]
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: Any = project_aggregate,
        fastforward_skipping: bool = False,
        deepcopy_from_cache: bool = True,
    ) -> Any:
        if projector_func is not project_aggregate or self.maxsize <= 0:
            return super().get(aggregate_id, version=version, projector_func=projector_func)
        with self._lock:
            cached = self._latest.get(aggregate_id)
            if cached is not None:
                self._latest.move_to_end(aggregate_id)
        if cached is None or (version is not None and cached.version > version):
            aggregate = self._reconstruct_aggregate(aggregate_id, version, projector_func)
            if version is None:
                self._remember(aggregate_id, copy_aggregate(aggregate))
            return aggregate
        if version is not None and cached.version == version:
            return copy_aggregate(cached)
        new_events = list(
            self.event_store.get(originator_id=aggregate_id, gt=cached.version, lte=version)
        )
        if not new_events:
            return copy_aggregate(cached) if deepcopy_from_cache else cached
        aggregate = projector_func(copy_aggregate(cached), new_events)
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        if version is None:
            self._remember(
                aggregate_id, copy_aggregate(aggregate) if deepcopy_from_cache else aggregate
            )
        return aggregate

    def _remember(self, aggregate_id: UUID, aggregate: Any) -> None:
        with self._lock:
            current = self._latest.get(aggregate_id)
            if current is not None and current.version >= aggregate.version:
                return
            self._latest[aggregate_id] = aggregate
            self._latest.move_to_end(aggregate_id)
            while len(self._latest) > self.maxsize:
                self._latest.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._latest.clear()
