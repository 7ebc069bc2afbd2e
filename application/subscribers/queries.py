"""Subscriber queries: the mailbox now or at a time, the plan catalog, the change history.

`subscriber` reads the aggregate (with snapshots), not a projection: it is always current, so
a frontend reads its own writes without `consistentWith`, and the mutation payloads come from
the same code path. bench/subscribers_reads.py measures it against the summary projection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import Application

from application.audit.service import AuditEntry, to_entry
from application.authz import Principal
from application.ports import EventLog
from application.unit_of_work import get_or_none
from domain.access.permissions import Permission
from domain.subscribers.plans import PLANS, Plan
from domain.subscribers.rules import validate_msisdn
from domain.subscribers.subscriber import Subscriber, subscriber_id_for


@dataclass(frozen=True)
class PointsStanding:
    balance: int
    level: int


# Where a subscriber's points balance and level come from. They are history records (the
# mailbox points log), not subscriber events, so this context only looks them up.
PointsLookup = Callable[[str], PointsStanding]


def no_points_recorded(msisdn: str) -> PointsStanding:
    """The lookup used until the history context's points read model is wired in
    (infra/bootstrap.py passes its lookup instead): nobody has points recorded yet."""
    return PointsStanding(balance=0, level=0)


class SubscriberQueryService:
    def __init__(
        self,
        store: Application[UUID],
        log: EventLog,
        points: PointsLookup = no_points_recorded,
    ) -> None:
        self.store = store
        self.log = log
        self._points = points

    def subscriber(self, principal: Principal, msisdn: str) -> Subscriber | None:
        """The mailbox as it is now; None for a number that never had one."""
        principal.require(Permission.SUBSCRIBER_READ)
        validate_msisdn(msisdn)
        subscriber = get_or_none(self.store, subscriber_id_for(msisdn), Subscriber)
        if subscriber is not None:
            principal.require_in_province(Permission.SUBSCRIBER_READ, subscriber.province)
        return subscriber

    def subscriber_as_of(
        self, principal: Principal, msisdn: str, at: datetime
    ) -> Subscriber | None:
        """The mailbox as it was at `at`, rebuilt from its events (None before it existed).

        Both the current province and the province at that time must be the caller's.
        """
        current = self.subscriber(principal, msisdn)
        if current is None:
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        version = self._version_at(current, at)
        if version is None:
            return None
        if version == current.version:
            return current
        past: Subscriber = self.store.repository.get(current.id, version=version)
        principal.require_in_province(Permission.SUBSCRIBER_READ, past.province)
        return past

    def _version_at(self, current: Subscriber, at: datetime) -> int | None:
        """The last version recorded at or before `at` (binary search over event times,
        which only grow along a stream): O(log n) single-event reads, no full replay."""
        if current.modified_on <= at:
            return current.version
        low, high = 1, current.version  # invariant: answer in [low - 1, high - 1]
        found: int | None = None
        while low <= high:
            middle = (low + high) // 2
            recorded = self.log.stream(current.id, middle - 1, 1)
            if recorded and recorded[0].event.timestamp <= at:
                found = middle
                low = middle + 1
            else:
                high = middle - 1
        return found

    def plans(self, principal: Principal) -> list[Plan]:
        principal.require(Permission.SUBSCRIBER_READ)
        return list(PLANS)

    def changes(
        self,
        principal: Principal,
        subscriber: Subscriber,
        before_version: int | None,
        limit: int,
    ) -> list[AuditEntry]:
        """Changes to the subscriber, newest first, up to the version given (for an as-of
        view, its own version), with password hashes redacted."""
        principal.require_in_province(Permission.SUBSCRIBER_READ, subscriber.province)
        before = subscriber.version + 1 if before_version is None else before_version
        recorded = self.log.stream(subscriber.id, before, limit, descending=True)
        return [to_entry(r, subscriber.msisdn) for r in recorded]

    def points(self, principal: Principal, subscriber: Subscriber) -> PointsStanding:
        principal.require_in_province(Permission.SUBSCRIBER_READ, subscriber.province)
        return self._points(subscriber.msisdn)
