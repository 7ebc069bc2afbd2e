"""What the audit context needs from the read side (the version timeline, chain checkpoints)
and the as-of lookup every context's state-as-of-a-time query goes through."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate


class VersionTimeline(Protocol):
    """Which version of a stream was current at a time, without replaying the stream."""

    def version_at(self, originator_id: UUID, at: datetime) -> int | None:
        """The last version whose events all happened at or before `at`; None if none did."""
        ...


class AggregateAsOf(Protocol):
    """Any aggregate as it was at a time, found through the version timeline (AsOfService)."""

    def aggregate_at(
        self, stream_type: str, originator_id: UUID, at: datetime | None
    ) -> Aggregate | None:
        """The aggregate at `at` (now when None); None if it did not exist then or is of
        another type than `stream_type`."""
        ...


class SealedCheckpoint(Protocol):
    @property
    def position(self) -> int: ...

    @property
    def chain_hash(self) -> str: ...

    @property
    def sealed_at(self) -> datetime: ...


class CheckpointLog(Protocol):
    """Hash-chain checkpoints over the core store, newest first."""

    def checkpoints(
        self, before_position: int | None, limit: int
    ) -> Sequence[SealedCheckpoint]: ...
