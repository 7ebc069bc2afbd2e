"""Subscriber queries: the mailbox now or at a time, the plan catalog, the change history.

`subscriber` reads the aggregate (with snapshots), not a projection: it is always current, so
a frontend reads its own writes without `consistentWith`, and the mutation payloads come from
the same code path. bench/subscribers_reads.py measures it against the summary projection.

Registration periods (design decision 13, domain/subscribers/periods.py): what a view of a
subscriber shows of its history, changes and points is its own period's; earlier periods
only with `all_periods`, which needs SUBSCRIBER_READ_ALL_PERIODS, each period within the
caller's province scope.
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
from domain.subscribers.periods import (
    PERIOD_TOPICS,
    PeriodWindow,
    RegistrationPeriod,
    SubscriberPeriods,
    periods_of,
)
from domain.subscribers.plans import PLANS, Plan
from domain.subscribers.rules import validate_msisdn
from domain.subscribers.subscriber import Subscriber, subscriber_id_for

# More registration events than any number will have: each period has at most two.
_PERIOD_EVENTS_MAX = 10_000


@dataclass(frozen=True)
class PointsStanding:
    balance: int
    level: int


# Where a subscriber's points balance and level come from: the latest points record within
# the window. They are history records (the mailbox points log), not subscriber events, so
# this context only looks them up.
PointsLookup = Callable[[str, PeriodWindow], PointsStanding]


def no_points_recorded(msisdn: str, window: PeriodWindow) -> PointsStanding:
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

        Both the current province and the province at that time must be the caller's, and a
        time before the current registration period needs SUBSCRIBER_READ_ALL_PERIODS.
        """
        current = self.subscriber(principal, msisdn)
        if current is None:
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        earlier_period = current.registrations > 1 and at < current.registered_at
        if earlier_period:
            principal.require(Permission.SUBSCRIBER_READ_ALL_PERIODS)
        version = self._version_at(current, at)
        if version is None:
            return None
        if version == current.version:
            return current
        past: Subscriber = self.store.repository.get(current.id, version=version)
        principal.require_in_province(Permission.SUBSCRIBER_READ, past.province)
        if earlier_period:
            principal.require_in_province(Permission.SUBSCRIBER_READ_ALL_PERIODS, past.province)
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

    def periods(self, principal: Principal, subscriber: Subscriber) -> SubscriberPeriods:
        """The number's registration periods, for this view of its mailbox (one read of the
        stream's registration and deregistration events)."""
        principal.require_in_province(Permission.SUBSCRIBER_READ, subscriber.province)
        recorded = self.log.stream(subscriber.id, 0, _PERIOD_EVENTS_MAX, topics=PERIOD_TOPICS)
        every = tuple(periods_of(r.event for r in recorded))
        # A search listing (the summary read model's row) is the current mailbox: its period
        # is the last one. The aggregate, now or as of a time, counts its own registrations.
        own = getattr(subscriber, "registrations", None)
        return SubscriberPeriods(
            every=every,
            own=own if isinstance(own, int) else len(every),
            version=subscriber.version,
        )

    def window(
        self, principal: Principal, periods: SubscriberPeriods, all_periods: bool
    ) -> PeriodWindow:
        """What a read of the view covers: its own period; with `all_periods`, every period
        of the number within the caller's province scope (FORBIDDEN without the permission)."""
        if not all_periods:
            return periods.window()
        scope = principal.require(Permission.SUBSCRIBER_READ_ALL_PERIODS)
        return periods.window(
            p.number for p in periods.every if scope is None or p.province == scope
        )

    def registrations(self, periods: SubscriberPeriods) -> list[RegistrationPeriod]:
        """The periods as the view saw them: times and provinces, no personal data (`periods`
        was authorised when it was read)."""
        return periods.listed

    def changes(
        self,
        principal: Principal,
        subscriber: Subscriber,
        window: PeriodWindow,
        before_version: int | None,
        limit: int,
    ) -> list[AuditEntry]:
        """Changes to the subscriber within the window, newest first, up to the version given
        (for an as-of view, its own version), with password hashes redacted."""
        principal.require_in_province(Permission.SUBSCRIBER_READ, subscriber.province)
        before = subscriber.version + 1 if before_version is None else before_version
        before = min(before, subscriber.version + 1)
        entries: list[AuditEntry] = []
        for first, last in window.version_ranges(before):
            wanted = limit - len(entries)
            if wanted <= 0:
                break
            recorded = self.log.stream(
                subscriber.id, last + 1, wanted, descending=True, down_to_version=first
            )
            entries += [to_entry(r, subscriber.msisdn) for r in recorded]
        return entries

    def points(
        self, principal: Principal, subscriber: Subscriber, window: PeriodWindow
    ) -> PointsStanding:
        principal.require_in_province(Permission.SUBSCRIBER_READ, subscriber.province)
        return self._points(subscriber.msisdn, window)
