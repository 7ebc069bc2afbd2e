"""The two event stores (design.md §2.3): core (staff and account changes) and feed (platform)."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application

from domain.access.account import Account
from domain.subscribers.subscriber import Subscriber
from infra.database import ConnectionParams

CORE_EVENTS_TABLE = "core_events"
FEED_EVENTS_TABLE = "feed_events"


class CoreStore(Application[UUID]):
    """Every change made by people and service accounts, in one global order: the audit log."""

    name = "core"
    # Accounts are loaded on every request (token re-check) and gain an event per login.
    # Subscribers are loaded by every proxy setting and every `subscriber` query; a snapshot
    # every 20 events keeps a load to one snapshot plus at most 19 events
    # (bench/subscribers_reads.py measures it).
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Account: 50, Subscriber: 20}


class FeedStore(Application[UUID]):
    """Platform record batches: high volume, never queued behind staff commands."""

    name = "feed"


def store_env(params: ConnectionParams, pool_size: int) -> dict[str, Any]:
    """Translate our settings into eventsourcing's environment keys (the one place that does)."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": params.dbname,
        "POSTGRES_HOST": params.host,
        "POSTGRES_PORT": params.port,
        "POSTGRES_USER": params.user,
        "POSTGRES_PASSWORD": params.password,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        "POSTGRES_CONN_MAX_AGE": "3600",
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": "infra.recorders:UnpipelinedApplicationRecorder",
        # Tables are created only by the explicit schema step (`spoa db upgrade`).
        "CREATE_TABLE": "n",
        # Deliberately NOT setting POSTGRES_ENABLE_DB_FUNCTIONS: it drops the table lock and
        # subscribers then miss events under concurrent writers (design.md §2.2).
    }
