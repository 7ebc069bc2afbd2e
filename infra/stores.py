"""The two event stores (design.md §2.3): core (staff and account changes) and feed (platform)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application, Repository
from eventsourcing.persistence import Mapper, Transcoder

from domain.access.account import Account
from domain.subscribers.subscriber import Subscriber
from infra.aggregate_cache import CachingRepository
from infra.database import ConnectionParams
from infra.feed_codec import FeedCompressor, FeedTranscoder
from projections.runtime.codec import EventMapper

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

    def construct_mapper(self) -> Mapper[UUID]:
        # Events hold a ChangeMeta; stored, it is the plain JSON object it always was.
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=EventMapper)

    def construct_repository(self) -> Repository[UUID]:
        # Recent aggregates stay in memory, brought up to date from the events on every get
        # (infra/aggregate_cache.py): a get is one read instead of a snapshot and an events read.
        return CachingRepository(
            self.events,
            snapshot_store=self.snapshots,
            maxsize=int(self.env.get(AGGREGATE_CACHE_SIZE_KEY) or 0),
        )


class FeedStore(Application[UUID]):
    """Platform record batches: high volume, never queued behind staff commands. Its recorder
    also writes each batch's record keys (infra/feed_keys.py)."""

    name = "feed"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env={**(env or {}), "APPLICATION_RECORDER_TOPIC": FEED_RECORDER_TOPIC})

    def construct_transcoder(self) -> Transcoder:
        transcoder = FeedTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_mapper(self) -> Mapper[UUID]:
        # Batches are megabytes of JSON rows: compressed in the client (infra/feed_codec.py).
        mapper = self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=EventMapper
        )
        mapper.compressor = FeedCompressor()
        return mapper


AGGREGATE_CACHE_SIZE_KEY = "SPOA_AGGREGATE_CACHE_SIZE"
FEED_RECORDER_TOPIC = "infra.feed_keys:FeedRecorder"


def store_env(
    params: ConnectionParams, pool_size: int, aggregate_cache_size: int = 0
) -> dict[str, Any]:
    """Translate our settings into eventsourcing's environment keys (the one place that does)."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": params.dbname,
        "POSTGRES_HOST": params.host,
        "POSTGRES_PORT": params.port,
        "POSTGRES_USER": params.user,
        "POSTGRES_PASSWORD": params.password,
        # eventsourcing opens POOL_SIZE connections up front and grows by MAX_OVERFLOW under
        # load: keep two open per store (the feed store is idle in most processes, and each
        # `spoa serve --workers N` process has its own pools), up to 2 × pool_size.
        "POSTGRES_POOL_SIZE": str(min(2, pool_size)),
        "POSTGRES_MAX_OVERFLOW": str(2 * pool_size - min(2, pool_size)),
        "POSTGRES_CONN_MAX_AGE": "3600",
        # No "SELECT 1" before every use of a pooled connection (a round trip per use):
        # eventsourcing retries reads and writes on connection errors, and the pool drops a
        # broken connection when it comes back.
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": "infra.recorders:UnpipelinedApplicationRecorder",
        # Tables are created only by the explicit schema step (`spoa db upgrade`).
        "CREATE_TABLE": "n",
        AGGREGATE_CACHE_SIZE_KEY: str(aggregate_cache_size),
        # Deliberately NOT setting POSTGRES_ENABLE_DB_FUNCTIONS: it drops the table lock and
        # subscribers then miss events under concurrent writers (design.md §2.2).
    }
