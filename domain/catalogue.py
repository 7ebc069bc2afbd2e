"""Every aggregate type by its audit stream name, and how to name its events for people."""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from domain.access.account import Account, SuperAdminRoster
from domain.history.batch import PlatformBatch
from domain.knowledge.contact import SupportContact
from domain.knowledge.faq import Faq
from domain.subscribers.alias_claim import AliasClaim
from domain.subscribers.subscriber import Subscriber
from domain.support.announcement import Announcement
from domain.support.numbers import TicketNumberSequence
from domain.support.ticket import Ticket

STREAM_TYPES: dict[str, type[Aggregate]] = {
    "Account": Account,
    "SuperAdminRoster": SuperAdminRoster,
    "PlatformBatch": PlatformBatch,
    "Subscriber": Subscriber,
    "AliasClaim": AliasClaim,
    "Ticket": Ticket,
    "TicketNumberSequence": TicketNumberSequence,
    "Announcement": Announcement,
    "Faq": Faq,
    "SupportContact": SupportContact,
}

# Stream types kept in the feed store (platform record batches); every other one is core.
FEED_STREAM_TYPES: frozenset[str] = frozenset({"PlatformBatch"})

# The attribute of a stream's first event that holds its natural key (audit stream ids).
NATURAL_KEYS: dict[str, str] = {
    "Account": "username",
    "Subscriber": "msisdn",
    "AliasClaim": "alias",
}


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
