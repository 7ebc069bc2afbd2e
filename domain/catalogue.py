"""Every aggregate type by its audit stream name, and how to name its events for people."""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from domain.access.account import Account, SuperAdminRoster

STREAM_TYPES: dict[str, type[Aggregate]] = {
    "Account": Account,
    "SuperAdminRoster": SuperAdminRoster,
}

# The attribute of a stream's first event that holds its natural key (audit stream ids).
NATURAL_KEYS: dict[str, str] = {"Account": "username"}


def stream_type_of_topic(topic: str) -> str:
    """'spoa.access:Account.RoleChanged' -> 'Account'."""
    qualname = topic.split(":", 1)[-1]
    return qualname.split(".", 1)[0]


def event_type_of_topic(topic: str) -> str:
    """'spoa.access:Account.RoleChanged' -> 'RoleChanged'."""
    return topic.rsplit(".", 1)[-1].split(":")[-1]


def topics_for_types(types: list[str]) -> list[str]:
    """All stored event topics whose human-readable type is one of `types`."""
    wanted = set(types)
    topics = []
    for aggregate in STREAM_TYPES.values():
        for value in vars(aggregate).values():
            topic = getattr(value, "TOPIC", None)
            if (
                isinstance(value, type)
                and issubclass(value, Aggregate.Event)
                and topic
                and event_type_of_topic(topic) in wanted
            ):
                topics.append(topic)
    return topics
