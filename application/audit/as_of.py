"""State as of a time, for every aggregate type, and the one way audit prints a state.

The version current at a time comes from a timeline (one index probe, see
projections/audit/chain.py), then the store rebuilds exactly that version (from the nearest
snapshot where the type has them): no scan of the whole stream per request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate

from application.audit.ports import VersionTimeline
from application.audit.service import jsonable
from application.authz import Principal
from domain.access.account import Account
from domain.access.permissions import Permission
from domain.audit.catalogue import FEED_STREAM_TYPES, STREAM_TYPES, resolve_stream
from domain.audit.redaction import redact

_HIDDEN = frozenset({"_pending_events"})


def aggregate_state(aggregate: Aggregate) -> dict[str, Any]:
    """An aggregate's whole state as plain JSON, secrets redacted (export, replay, as-of)."""
    state = {
        name.lstrip("_"): value for name, value in vars(aggregate).items() if name not in _HIDDEN
    }
    state["type"] = type(aggregate).__name__
    result: dict[str, Any] = jsonable(redact(state))
    return result


class AsOfService:
    """Rebuilds any stream as it was at a time."""

    def __init__(
        self,
        core: Application[UUID],
        feed: Application[UUID],
        core_timeline: VersionTimeline,
        feed_timeline: VersionTimeline,
    ) -> None:
        self.core = core
        self.feed = feed
        self.core_timeline = core_timeline
        self.feed_timeline = feed_timeline

    def aggregate_at(
        self, stream_type: str, originator_id: UUID, at: datetime | None
    ) -> Aggregate | None:
        """The aggregate as it was at `at` (now when None); None if it did not exist then or
        the id belongs to another aggregate type."""
        in_feed = stream_type in FEED_STREAM_TYPES
        store = self.feed if in_feed else self.core
        if at is None:
            version = None
        else:
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            timeline = self.feed_timeline if in_feed else self.core_timeline
            version = timeline.version_at(originator_id, at)
            if version is None:
                return None
        try:
            aggregate: Aggregate = store.repository.get(originator_id, version=version)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, STREAM_TYPES[stream_type]) else None

    def account_as_of(self, principal: Principal, account_id: UUID, at: datetime) -> Account | None:
        """accountAsOf: SUPER_ADMIN and AUDITOR (permissions.md)."""
        principal.require(Permission.ACCOUNT_READ)
        found = self.aggregate_at("Account", account_id, at)
        return found if isinstance(found, Account) else None

    def state_as_of(
        self, principal: Principal, stream_type: str, stream_id: str, at: datetime | None
    ) -> dict[str, Any] | None:
        """Any stream's whole state at a time (now when None), as `spoa audit replay` prints it."""
        principal.require(Permission.AUDIT_READ)
        found = self.aggregate_at(stream_type, resolve_stream(stream_type, stream_id), at)
        return aggregate_state(found) if found is not None else None
