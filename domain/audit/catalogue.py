"""Every aggregate type by its audit stream name, and how to name its events for people."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.access.account import Account, SuperAdminRoster, account_id_for
from domain.history.batch import PlatformBatch
from domain.knowledge.contact import SupportContact
from domain.knowledge.faq import Faq
from domain.shared import ValidationError
from domain.subscribers.alias_claim import AliasClaim, alias_claim_id_for
from domain.subscribers.subscriber import Subscriber, subscriber_id_for
from domain.support.announcement import Announcement
from domain.support.numbers import TicketNumberSequence
from domain.support.ticket import Ticket
from domain.webhooks.endpoint import WebhookEndpoint

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
    "WebhookEndpoint": WebhookEndpoint,
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


def resolve_stream(stream_type: str, stream_id: str) -> UUID:
    """An audit stream's aggregate id from its natural key (username for Account), or its id."""
    if stream_type not in STREAM_TYPES:
        raise ValidationError(
            f"unknown stream type {stream_type!r}; one of {', '.join(sorted(STREAM_TYPES))}",
            field=["streamType"],
        )
    if stream_type == "Account" and not _looks_like_uuid(stream_id):
        return account_id_for(stream_id)
    if stream_type == "Subscriber" and not _looks_like_uuid(stream_id):
        return subscriber_id_for(stream_id)
    if stream_type == "AliasClaim" and not _looks_like_uuid(stream_id):
        return alias_claim_id_for(stream_id)
    try:
        return UUID(stream_id)
    except ValueError:
        raise ValidationError(f"unknown stream id {stream_id!r}", field=["streamId"]) from None


def _looks_like_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
