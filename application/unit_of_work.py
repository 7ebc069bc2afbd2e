"""Saving aggregates atomically, and the one retry policy for optimistic-concurrency conflicts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.shared import NotFoundError, VersionConflictError, check_expected_version


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


T = TypeVar("T")
K = TypeVar("K")
# What a command loads: an aggregate, or None where it may not exist yet (version 0).
A = TypeVar("A", bound=Versioned | None)


def save(store: Application[UUID], *aggregates: Any, **recorder_args: Any) -> int:
    """Store every pending event of the aggregates in one transaction; return the last position.
    `recorder_args` go to the store's recorder with the events (e.g. a feed batch's record
    keys, written in the same transaction)."""
    recordings = store.save(*aggregates, **recorder_args)
    if not recordings:
        return 0
    notification = recordings[-1].notification
    return int(notification.id)


def get_or_none(
    store: Application[UUID], aggregate_id: UUID, kind: type[K], *, read_only: bool = False
) -> K | None:
    """The aggregate of `kind` with this id, or None. Every aggregate type shares the store,
    so an id a client sent may name an aggregate of another kind: that is none of `kind`.
    `read_only`: the caller never mutates it, so a cached instance may be handed out as is,
    without a copy."""
    try:
        found: object = store.repository.get(aggregate_id, deepcopy_from_cache=not read_only)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, kind) else None


def get_or_raise(store: Application[UUID], aggregate_id: UUID, kind: type[K], what: str) -> K:
    aggregate = get_or_none(store, aggregate_id, kind)
    if aggregate is None:
        raise NotFoundError(f"{what} not found")
    return aggregate


class RetryPolicy:
    """Bounded attempts, each waiting a random time up to a ceiling that grows per round."""

    def __init__(
        self,
        attempts: int = 40,
        step: float = 0.002,
        ceiling: float = 0.02,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        self.attempts = attempts
        self.step = step
        self.ceiling = ceiling
        self.sleep = sleep
        # Its own generator: retries leave the process-wide `random` state alone.
        self._jitter = random.Random(seed)

    def pause(self, failed: int) -> float:
        """The wait after `failed` conflicting attempts: full jitter, so losers spread out."""
        return self._jitter.uniform(0.0, min(self.step * failed, self.ceiling))


# Writers contending for one aggregate (a day's ticket-number sequence, a busy account) all
# conflict but one per round, so allow many rounds; the waits stay short (at most 20 ms each,
# under 0.7 s in all) because a round is only a load and a save.
RETRY = RetryPolicy()


def run_command(
    load: Callable[[], A],
    act: Callable[[A], T],
    *,
    expected_version: int | None = None,
    policy: RetryPolicy = RETRY,
) -> T:
    """Load, check the caller's expectedVersion, act (deciding and saving); on a version
    conflict sleep a little and start again from the load, up to the policy's attempts."""
    for failed in range(policy.attempts):
        if failed:
            policy.sleep(policy.pause(failed))
        aggregate = load()
        # Checked on every attempt against what was just loaded: when the caller's aggregate
        # moved they get VERSION_CONFLICT, never a write on a version they did not see, while
        # a conflict elsewhere in the command (a claim, a number sequence) is retried.
        check_expected_version(0 if aggregate is None else aggregate.version, expected_version)
        try:
            return act(aggregate)
        except IntegrityError:
            continue
    raise VersionConflictError("the record was changed concurrently; reload and try again")
