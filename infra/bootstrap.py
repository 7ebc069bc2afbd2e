"""The composition root: builds every service from settings. Nothing connects at import time."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from psycopg_pool import ConnectionPool

from application.access.service import AccessService
from application.access.throttle import LoginThrottle
from application.audit.as_of import AsOfService
from application.audit.service import AuditService
from application.history.service import HistoryService
from application.knowledge.contacts import SupportContactService
from application.knowledge.document_sweep import DocumentSweeper
from application.knowledge.faqs import KnowledgeService
from application.limits import ExpensiveWork
from application.operations import OperationsService
from application.pagination import CursorCodec
from application.statistics.service import StatisticsService
from application.subscribers.commands import SubscriberService
from application.subscribers.queries import PointsStanding, SubscriberQueryService
from application.support.announcements import AnnouncementService
from application.support.ticket_queries import TicketQueryService
from application.support.tickets import TicketService
from domain.access.account import Account
from infra.audit_export import AuditExporter, offline_mapper, replay_export
from infra.audit_verify import ChainVerifier, load_anchors
from infra.blobs import PeriodicDocumentSweep, PgDocumentStore
from infra.consistency import ProjectionWaiter
from infra.database import ConnectionParams, EmbeddedPostgres
from infra.event_log import PgEventLog
from infra.feed_keys import PgRecordKeyIndex
from infra.metrics import Metrics
from infra.passwords import Argon2Hasher, BoundedHasher
from infra.schema import upgrade
from infra.settings import Settings
from infra.stores import CORE_EVENTS_TABLE, FEED_EVENTS_TABLE, CoreStore, FeedStore, store_env
from infra.support_config import sla_policy
from infra.tokens import JwtSsoVerifier, JwtTokenService, PgJtiRegistry, SystemClock
from projections.access import AccountsProjection, AccountsQueries
from projections.audit.chain import AuditChainProjection
from projections.audit.queries import AuditCheckpoints, StreamTimeline
from projections.history import HistoryProjection, HistoryUsageProjection
from projections.history_queries import HistoryQueries
from projections.knowledge.contacts import SupportContactsProjection, SupportContactsQueries
from projections.knowledge.faqs import FaqDocumentReferences, FaqQueries, FaqsProjection
from projections.runtime.base import Projection, StoreSource
from projections.runtime.engine import ProjectionEngine
from projections.runtime.rebuild import Rebuilds
from projections.runtime.runner import ProjectionRunner
from projections.runtime.status import ProjectionStatus, failing_longer_than
from projections.statistics.projection import StatisticsProjection, StatisticsQueries
from projections.subscribers import SubscribersProjection, SubscriberSummaries
from projections.support.announcements import AnnouncementsProjection, AnnouncementsQueries
from projections.support.ticket_citations import TicketCitationsProjection, TicketCitationsQueries
from projections.support.tickets import TicketsProjection, TicketsQueries

log = logging.getLogger(__name__)


def all_projections() -> list[Projection]:
    return [
        AccountsProjection(),
        HistoryProjection(),
        HistoryUsageProjection(),
        SubscribersProjection(),
        TicketsProjection(),
        TicketCitationsProjection(),
        AnnouncementsProjection(),
        FaqsProjection(),
        SupportContactsProjection(),
        AuditChainProjection(),
        StatisticsProjection(),
    ]


class Container:
    """Everything the API and CLI need, wired once per process."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.params = ConnectionParams.from_url(database_url)
        self.conninfo = self.params.conninfo()
        env = store_env(self.params, settings.db_pool_size, settings.aggregate_cache_size)
        self.core = CoreStore(env=env)
        self.feed = FeedStore(env=env)
        self.read_pool: ConnectionPool[Any] = ConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=settings.db_pool_size,
            open=False,
            kwargs={"autocommit": True},
            name="spoa-read",
        )
        self.read_pool.open(wait=False)
        self.engine = ProjectionEngine(
            self.conninfo,
            all_projections(),
            {
                "core": StoreSource(CORE_EVENTS_TABLE, self.core.mapper),
                "feed": StoreSource(FEED_EVENTS_TABLE, self.feed.mapper),
            },
            page_size=settings.projection_page_size,
        )
        self.projection_status = ProjectionStatus(self.engine)
        self.rebuilds = Rebuilds(self.engine)
        self.runner: ProjectionRunner | None = None
        self.clock = SystemClock()
        self.hasher = BoundedHasher(
            Argon2Hasher(
                settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
            ),
            settings.password_hash_concurrency,
            settings.password_hash_queue,
        )
        self.tokens = JwtTokenService(
            settings.secret_key.get_secret_value(),
            timedelta(minutes=settings.token_ttl_minutes),
            self.clock,
        )
        sso = None
        if settings.sso_key is not None:
            sso = JwtSsoVerifier(
                settings.sso_key.get_secret_value(),
                settings.sso_algorithm,
                settings.sso_issuer,
                settings.sso_audience,
                settings.sso_max_lifetime_seconds,
                self.clock,
            )
        # consistentWith: awaited on the event loop; the app's lifespan starts its listener.
        self.waiter = ProjectionWaiter(
            self.engine, settings.consistency_timeout_seconds, settings.projection_poll_seconds
        )
        self.access = AccessService(
            store=self.core,
            hasher=self.hasher,
            tokens=self.tokens,
            clock=self.clock,
            accounts=AccountsQueries(self.read_pool.connection),
            throttle=LoginThrottle(
                settings.login_max_delay_seconds, settings.login_address_free_failures
            ),
            sso=sso,
            jtis=PgJtiRegistry(self.conninfo),
        )
        self.core_log = PgEventLog(self.core, CORE_EVENTS_TABLE)
        self.feed_log = PgEventLog(self.feed, FEED_EVENTS_TABLE)
        self.audit = AuditService(
            self.core_log, self.feed_log, AuditCheckpoints(self.read_pool.connection)
        )
        self.as_of = AsOfService(
            self.core,
            self.feed,
            StreamTimeline(self.read_pool.connection, CORE_EVENTS_TABLE, indexed=True),
            StreamTimeline(self.read_pool.connection, FEED_EVENTS_TABLE, indexed=False),
        )
        self.audit_exporter = AuditExporter(
            self.conninfo, {"core": CORE_EVENTS_TABLE, "feed": FEED_EVENTS_TABLE}
        )
        self.audit_verifier = ChainVerifier(self.conninfo, CORE_EVENTS_TABLE)
        self.operations = OperationsService(self.projection_status)
        self.history = HistoryService(
            self.feed,
            self.feed_log,
            HistoryQueries(self.read_pool.connection),
            self.waiter,
            PgRecordKeyIndex(self.feed.recorder.datastore),
            max_records=settings.ingest_max_records,
        )
        self.subscribers = SubscriberService(self.core, self.hasher, self.clock)
        # pointsBalance and level come from the history context's points read model.
        history = self.history
        self.subscriber_queries = SubscriberQueryService(
            self.core,
            self.core_log,
            lambda msisdn, window: PointsStanding(*history.points(msisdn, window=window)),
        )
        self.subscriber_summaries = SubscriberSummaries(self.read_pool.connection)
        self.tickets = TicketService(self.core, self.clock, sla_policy(settings))
        self.ticket_queries = TicketQueryService(
            self.core,
            self.clock,
            self.core_log,
            TicketsQueries(self.read_pool.connection),
            self.waiter,
            self.as_of,
            TicketCitationsQueries(self.read_pool.connection),
        )
        self.announcements = AnnouncementService(
            self.core,
            self.clock,
            self.core_log,
            AnnouncementsQueries(self.read_pool.connection),
            self.as_of,
        )
        self.cursors = CursorCodec(
            hashlib.sha256(b"cursor:" + settings.secret_key.get_secret_value().encode()).digest()
        )
        self.documents = PgDocumentStore(self.read_pool.connection)
        references = FaqDocumentReferences(
            self.read_pool.connection, CORE_EVENTS_TABLE, self.core.mapper.to_domain_event
        )
        self.knowledge = KnowledgeService(
            store=self.core,
            faqs=FaqQueries(self.read_pool.connection),
            documents=self.documents,
            cursors=self.cursors,
            waiter=self.waiter,
            clock=self.clock,
            document_max_bytes=settings.document_max_bytes,
            as_of=self.as_of,
            references=references,
        )
        self.document_sweeper = DocumentSweeper(
            self.documents,
            references,
            timedelta(hours=settings.blob_orphan_grace_hours),
        )
        self.document_sweep: PeriodicDocumentSweep | None = None
        self.contacts = SupportContactService(
            self.core, SupportContactsQueries(self.read_pool.connection), self.waiter
        )
        self.statistics = StatisticsService(
            StatisticsQueries(self.read_pool.connection),
            self.waiter,
            self.clock,
            max_rows=settings.statistics_max_rows,
        )
        self.expensive = ExpensiveWork(settings.expensive_per_account)
        self.metrics = Metrics(
            self.projection_status, lambda: self.runner.leading if self.runner is not None else ()
        )

    def upgrade(self) -> None:
        recorders = [self.core.recorder, self.feed.recorder]
        if self.core.snapshots is not None:
            recorders.append(self.core.snapshots.recorder)
        upgrade(
            self.conninfo,
            recorders,
            [CORE_EVENTS_TABLE, FEED_EVENTS_TABLE],
            self.engine,
            compressed_tables=[FEED_EVENTS_TABLE],
        )

    def start_projections(self) -> ProjectionRunner:
        self.runner = ProjectionRunner(
            self.engine,
            self.settings.projection_poll_seconds,
            self.settings.projection_batch_seconds,
            auto_rebuild=self.settings.projection_auto_rebuild,
            max_retry_seconds=self.settings.projection_retry_max_seconds,
        )
        self.runner.start()
        self._start_document_sweep(self.runner)
        return self.runner

    def _start_document_sweep(self, runner: ProjectionRunner) -> None:
        """Sweep orphan document bytes now and then, in the process leading the faqs
        projection (whose read model the sweep's reference check reads)."""
        if self.document_sweep is not None:
            self.document_sweep.stop()
            self.document_sweep = None
        interval = self.settings.blob_sweep_interval_hours * 3600
        if interval > 0:
            self.document_sweep = PeriodicDocumentSweep(
                self.document_sweeper.sweep, interval, lambda: "faqs" in runner.leading
            )
            self.document_sweep.start()

    def database_ready(self) -> bool:
        try:
            self.read_pool.open(wait=True, timeout=2)
            with self.read_pool.connection(timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:  # readiness must answer, never raise
            return False

    def failing_projections(self) -> list[str]:
        """Projections failing for longer than SPOA_PROJECTION_FAILING_SECONDS, whichever
        process runs them (the record is in the database)."""
        try:
            with self.read_pool.connection(timeout=2) as conn, conn.cursor() as cur:
                return failing_longer_than(cur, self.settings.projection_failing_seconds)
        except Exception:  # readiness must answer; database_ready reports the database
            log.warning("readiness: cannot read the projections' failures", exc_info=True)
            return []

    def close(self) -> None:
        if self.document_sweep is not None:
            self.document_sweep.stop()
            self.document_sweep = None
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        self.read_pool.close()
        self.core.close()
        self.feed.close()


class Runtime:
    """A container plus the embedded database it may have started."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.embedded: EmbeddedPostgres | None = None
        url = self.settings.database_url
        if not url:
            self.embedded = EmbeddedPostgres(self.settings.data_dir)
            url = self.embedded.start()
        self.database_url = url
        self.container = Container(self.settings, url)
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.container.close()
        if self.embedded is not None:
            self.embedded.stop()


def cli_runtime() -> Runtime:
    """What every CLI command starts with: settings, logging, the database, an up-to-date
    schema."""
    from infra.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    runtime = Runtime(settings)
    runtime.container.upgrade()
    return runtime


def load_settings() -> Settings:
    settings = Settings()
    if settings.dev_mode and settings.secret_key.get_secret_value() == "dev-only-secret-change-me":
        # In dev mode keep a random secret in the data directory, so tokens survive restarts
        # without any fixed secret ever being valid.
        path = Path(settings.data_dir) / "dev-secret-key"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        settings = settings.model_copy(update={"secret_key": _secret(path.read_text().strip())})
    return settings


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


__all__ = [
    "Account",
    "Container",
    "Runtime",
    "load_anchors",
    "load_settings",
    "offline_mapper",
    "replay_export",
]
