"""The event types an endpoint may subscribe to: every type of every core stream, named as
the events feed names them (`<streamType>.<type>`), and `<streamType>.*`."""

from __future__ import annotations

from functools import cache

from eventsourcing.domain import Aggregate

from domain.audit.catalogue import FEED_STREAM_TYPES, STREAM_TYPES, event_type_of_topic
from domain.webhooks.rules import WILDCARD


@cache
def deliverable_event_types() -> frozenset[str]:
    """Platform batches (the feed store) are not in the core log the dispatcher follows."""
    names: set[str] = set()
    for stream_type, aggregate in STREAM_TYPES.items():
        if stream_type in FEED_STREAM_TYPES:
            continue
        names.add(f"{stream_type}.{WILDCARD}")
        for value in vars(aggregate).values():
            topic = getattr(value, "TOPIC", None)
            if isinstance(value, type) and issubclass(value, Aggregate.Event) and topic:
                event_type = event_type_of_topic(topic)
                # (`Event` is the base class of the aggregate's events, never stored itself)
                if event_type != "Event":
                    names.add(f"{stream_type}.{event_type}")
    return frozenset(names)
