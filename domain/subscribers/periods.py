"""Registration periods: a recycled number is a new customer (design decision 13).

Each registration of a number, the first or one after a deregistration, opens a period that
the deregistration closes. The periods are read from the Subscriber's own events
(registered, re-registered, deregistered: their versions, times and provinces), so nothing
about them is stored apart.

The periods split a number's whole time line and whole stream between them, so every history
record and every change belongs to exactly one period:
- a period's changes are the stream's events from its registration up to the next
  registration (its deregistration included);
- a period's records are those that occurred from its registration up to the next
  registration. Between a deregistration and the next registration the number was nobody
  else's, so late records of the leaving customer stay with the closed period; and the first
  period reaches back before the first registration, since a mailbox may have had history
  before SPOA recorded it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from domain.subscribers.subscriber import Subscriber

REGISTERED_TOPIC = Subscriber.MailboxRegistered.TOPIC  # type: ignore[attr-defined]
REREGISTERED_TOPIC = Subscriber.MailboxReregistered.TOPIC  # type: ignore[attr-defined]
DEREGISTERED_TOPIC = Subscriber.MailboxDeregistered.TOPIC  # type: ignore[attr-defined]
# The events that open and close periods: the only ones `periods_of` reads.
PERIOD_TOPICS = (REGISTERED_TOPIC, REREGISTERED_TOPIC, DEREGISTERED_TOPIC)

# [start, end) of record times; None is unbounded on that side.
Span = tuple[datetime | None, datetime | None]
# [first, last] of stream versions; a last of None reaches the head.
VersionRange = tuple[int, int | None]


@dataclass(frozen=True)
class RegistrationPeriod:
    """One registration of a number, from its registration to its deregistration."""

    number: int  # 1 for the first registration
    start: datetime  # when it was registered
    end: datetime | None  # when it was deregistered; None while the mailbox is open
    province: str
    first_version: int  # the registration's version in the stream
    end_version: int | None = None  # the deregistration's version, once deregistered
    next_version: int | None = None  # the next registration's version, if there is one
    next_start: datetime | None = None  # the next registration's time, if there is one

    @property
    def span(self) -> Span:
        """The record times that belong to this period."""
        return (None if self.number == 1 else self.start, self.next_start)

    @property
    def versions(self) -> VersionRange:
        """The stream versions (changes) that belong to this period."""
        return (self.first_version, None if self.next_version is None else self.next_version - 1)


def periods_of(events: Iterable[Any]) -> list[RegistrationPeriod]:
    """The periods, in order, from a stream's registration and deregistration events (in
    version order; any other event is ignored)."""
    periods: list[RegistrationPeriod] = []
    for event in events:
        topic = getattr(type(event), "TOPIC", None)
        if topic in (REGISTERED_TOPIC, REREGISTERED_TOPIC):
            if periods:
                periods[-1] = replace(
                    periods[-1], next_version=event.originator_version, next_start=event.at
                )
            periods.append(
                RegistrationPeriod(
                    number=len(periods) + 1,
                    start=event.at,
                    end=None,
                    province=event.province,
                    first_version=event.originator_version,
                )
            )
        elif topic == DEREGISTERED_TOPIC and periods:
            periods[-1] = replace(periods[-1], end=event.at, end_version=event.originator_version)
    return periods


def as_of_version(periods: Sequence[RegistrationPeriod], version: int) -> list[RegistrationPeriod]:
    """The periods as they stood when the stream was at `version`."""
    found = []
    for period in periods:
        if period.first_version > version:
            break
        if period.next_version is not None and period.next_version > version:
            period = replace(period, next_version=None, next_start=None)
        if period.end_version is not None and period.end_version > version:
            period = replace(period, end=None, end_version=None)
        found.append(period)
    return found


@dataclass(frozen=True)
class PeriodWindow:
    """What a read of a subscriber covers: the record times (`spans`) and stream versions
    (`versions`) of some of its periods, or everything (both None)."""

    spans: tuple[Span, ...] | None = None
    versions: tuple[VersionRange, ...] | None = None

    @property
    def everything(self) -> bool:
        return self.spans is None

    @property
    def nothing(self) -> bool:
        return self.spans == ()

    def clip(self, start: datetime | None, end: datetime | None) -> tuple[Span, ...] | None:
        """The spans within [start, end) (None bounds: unbounded); None when the window and
        the range put no bound at all."""
        if self.spans is None:
            return None if start is None and end is None else ((start, end),)
        clipped = []
        for low, high in self.spans:
            low = _later(low, start)
            high = _earlier(high, end)
            if low is None or high is None or low < high:
                clipped.append((low, high))
        return tuple(clipped)

    def version_ranges(self, below: int) -> list[tuple[int, int]]:
        """The version ranges under `below` (exclusive), newest first."""
        ranges = [(1, below - 1)] if self.versions is None else list(self.versions)
        found = []
        for first, last in ranges:
            top = below - 1 if last is None else min(last, below - 1)
            if first <= top:
                found.append((first, top))
        return sorted(found, reverse=True)


EVERYTHING = PeriodWindow()


@dataclass(frozen=True)
class SubscriberPeriods:
    """A number's periods, for one view of its mailbox (now, or as of a version)."""

    every: tuple[RegistrationPeriod, ...]  # all the number's periods, up to now
    own: int  # the number of the period the view is in
    version: int  # the view's version

    @property
    def listed(self) -> list[RegistrationPeriod]:
        """The periods as the view saw them."""
        return as_of_version(self.every, self.version)

    def window(self, chosen: Iterable[int] | None = None) -> PeriodWindow:
        """The chosen periods' window; by default the view's own period's."""
        return window_of(self.every, [self.own] if chosen is None else chosen)


def window_of(periods: Sequence[RegistrationPeriod], chosen: Iterable[int]) -> PeriodWindow:
    """The window of the chosen periods (by number); all of them is everything."""
    wanted = set(chosen)
    if periods and all(p.number in wanted for p in periods):
        return EVERYTHING
    spans: list[Span] = []
    versions: list[VersionRange] = []
    for period in periods:
        if period.number not in wanted:
            continue
        if spans and spans[-1][1] == period.span[0] and versions[-1][1] is not None:
            # Adjacent to the previous chosen period: one span and one range.
            spans[-1] = (spans[-1][0], period.span[1])
            versions[-1] = (versions[-1][0], period.versions[1])
        else:
            spans.append(period.span)
            versions.append(period.versions)
    return PeriodWindow(tuple(spans), tuple(versions))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)
