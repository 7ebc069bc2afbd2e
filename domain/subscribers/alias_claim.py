"""AliasClaim: who holds a mailbox alias. Saved atomically with the Subscriber that changes it.

One aggregate per alias (id = uuid5 of the alias), so two mailboxes claiming the same alias
at once both try to write the same stream and optimistic concurrency lets only one win.
Events are stamped with the command's time (`at`), like the Subscriber's.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared import ChangeMeta, natural_id
from domain.subscribers.rules import AliasTakenError


def alias_claim_id_for(alias: str) -> UUID:
    return natural_id("alias", alias)


class AliasClaim(Aggregate):
    TOPIC = "spoa.subscribers:AliasClaim"

    class Event(Aggregate.Event):
        TOPIC = "spoa.subscribers:AliasClaim.Event"

    @staticmethod
    def create_id(alias: str) -> UUID:
        return alias_claim_id_for(alias)

    @event("AliasClaimed", topic="spoa.subscribers:AliasClaim.AliasClaimed")
    def __init__(
        self,
        alias: str,
        holder_id: str,
        holder_msisdn: str,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.alias = alias
        self.holder_id: str | None = holder_id
        self.holder_msisdn: str | None = holder_msisdn

    def claim(self, holder_id: UUID, holder_msisdn: str, at: datetime, meta: ChangeMeta) -> None:
        if self.holder_id == str(holder_id):
            return
        if self.holder_id is not None:
            raise AliasTakenError(f"the alias {self.alias!r} is taken", field=["alias"])
        self._reclaimed(
            holder_id=str(holder_id), holder_msisdn=holder_msisdn, meta=meta, timestamp=at
        )

    @event("AliasReclaimed", topic="spoa.subscribers:AliasClaim.AliasReclaimed")
    def _reclaimed(
        self, holder_id: str, holder_msisdn: str, meta: ChangeMeta, timestamp: datetime
    ) -> None:
        self.holder_id = holder_id
        self.holder_msisdn = holder_msisdn

    def release(self, holder_id: UUID, at: datetime, meta: ChangeMeta) -> None:
        """Free the alias; a no-op unless `holder_id` holds it."""
        if self.holder_id != str(holder_id):
            return
        self._released(
            previous_holder_id=self.holder_id,
            previous_holder_msisdn=self.holder_msisdn,
            meta=meta,
            timestamp=at,
        )

    @event("AliasReleased", topic="spoa.subscribers:AliasClaim.AliasReleased")
    def _released(
        self,
        previous_holder_id: str | None,
        previous_holder_msisdn: str | None,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.holder_id = None
        self.holder_msisdn = None

    @property
    def held(self) -> bool:
        return self.holder_id is not None


def claim_alias(
    existing: AliasClaim | None,
    alias: str,
    holder_id: UUID,
    holder_msisdn: str,
    at: datetime,
    meta: ChangeMeta,
) -> AliasClaim:
    """The claim after `holder_id` took `alias`: a new claim, or the existing one re-taken."""
    if existing is None:
        return AliasClaim(
            alias=alias,
            holder_id=str(holder_id),
            holder_msisdn=holder_msisdn,
            meta=meta,
            timestamp=at,
        )
    existing.claim(holder_id, holder_msisdn, at, meta)
    return existing
