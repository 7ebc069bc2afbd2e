"""The stores' event mapper: an event's `meta` is a ChangeMeta in memory and its plain JSON
object in storage, so stored bytes (and the audit hash chain over them) keep their shape.

It lives here rather than in infra because projections that decode stored events themselves
(projections/statistics/decode.py) fall back to the same mapper as the stores (infra/stores.py).
"""

from __future__ import annotations

from eventsourcing.domain import DomainEventProtocol, TAggregateID
from eventsourcing.persistence import Mapper, StoredEvent

from domain.shared import ChangeMeta


class EventMapper(Mapper[TAggregateID]):
    """eventsourcing's mapper, with `meta` converted right before transcoding and right after.

    Not a JSONTranscoder transcoding: that would store `{"_type_": ..., "_data_": ...}` and
    change the shape of every stored event.
    """

    def to_stored_event(self, domain_event: DomainEventProtocol[TAggregateID]) -> StoredEvent:
        state = vars(domain_event)
        meta = state.get("meta")
        if isinstance(meta, ChangeMeta):
            # A copy with the plain dict in the same place, so keys keep their order.
            plain = object.__new__(type(domain_event))
            object.__setattr__(plain, "__dict__", {**state, "meta": meta.as_dict()})
            domain_event = plain
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[TAggregateID]:
        domain_event = super().to_domain_event(stored_event)
        state = vars(domain_event)
        meta = state.get("meta")
        if isinstance(meta, dict):
            state["meta"] = ChangeMeta.from_dict(meta)
        return domain_event
