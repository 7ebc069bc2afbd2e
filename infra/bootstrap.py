"""The composition root: builds every service from settings. Nothing connects at import time."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
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
from application.subscribers.search import SubscriberSearchService
from application.support.announcements import AnnouncementService
from application.support.ticket_queries import TicketQueryService
from application.support.ticket_updates import TicketUpdates
from application.support.tickets import TicketService
from application.webhooks.attempt import DispatchPolicy, SenderTools
from application.webhooks.deliveries import WebhookDeliveryService
from application.webhooks.dispatcher import Dispatcher
from application.webhooks.endpoints import WebhookEndpointService
from application.webhooks.payload import WebhookMessages
from domain.access.account import Account
from infra.anchors import (
    AnchorKeyError,
    ChainAnchors,
    NothingChainedError,
    append_anchor,
    generate_key_pair,
    load_public_key,
    read_signed_anchors,
)
from infra.audit_export import AuditExporter, offline_mapper, replay_export
from infra.audit_verify import ChainVerifier, load_anchors
from infra.blobs import PgDocumentStore
from infra.consistency import ProjectionWaiter
from infra.database import ConnectionParams
from infra.event_log import PgEventLog
from infra.feed_keys import PgRecordKeyIndex
from infra.leader_tasks import LeaderTasks
from infra.live_feed import LiveEvent, LiveFeed
from infra.metrics import Metrics
from infra.passwords import Argon2Hasher, BoundedHasher
from infra.privileges import least_privilege
from infra.read_models import all_projections
from infra.schema import upgrade
from infra.settings import Settings, load_settings
from infra.stores import CORE_EVENTS_TABLE, FEED_EVENTS_TABLE, CoreStore, FeedStore, store_env
from infra.support_config import sla_policy
from infra.tokens import JwtSsoVerifier, JwtTokenService, PgJtiRegistry, SystemClock
from infra.webhooks.adapters import WebhookAdapters
from infra.webhooks.runner import WebhookDispatcherThread
from projections.access import AccountsQueries
from projections.audit.queries import AuditCheckpoints, StreamTimeline
from projections.history_queries import HistoryQueries
from projections.knowledge.contacts import SupportContactsQueries
from projections.knowledge.faqs import FaqDocumentReferences, FaqQueries
from projections.runtime.base import StoreSource
from projections.runtime.engine import ProjectionEngine
from projections.runtime.rebuild import Rebuilds
from projections.runtime.runner import ProjectionRunner
from projections.runtime.status import ProjectionStatus, failing_longer_than
from projections.statistics.projection import StatisticsQueries
from projections.subscribers import SubscriberSummaries
from projections.support.announcements import AnnouncementsQueries
from projections.support.ticket_citations import TicketCitationsQueries
from projections.support.tickets import TicketsQueries

log = logging.getLogger(__name__)


class Container:
    """Everything the API and CLI need, wired once per process."""

    def __init__(self, settings: Settings, database_url: str, owner_url: str | None = None) -> None:
        self.settings = settings
        self.params = ConnectionParams.from_url(database_url)
        self.conninfo = self.params.conninfo()
        # The schema owner's connection (schema step); unset: the one role does everything.
        self.owner_conninfo = (
            ConnectionParams.from_url(owner_url).conninfo() if owner_url else self.conninfo
        )
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
            waiter=self.waiter,
            throttle=LoginThrottle(
                settings.login_max_delay_seconds, settings.login_address_free_failures
            ),
            sso=sso,
            jtis=PgJtiRegistry(self.conninfo),
        )
        self.core_log = PgEventLog(self.core, CORE_EVENTS_TABLE)
        self.feed_log = PgEventLog(self.feed, FEED_EVENTS_TABLE)
        self.checkpoints = AuditCheckpoints(self.read_pool.connection)
        self.audit = AuditService(self.core_log, self.feed_log, self.checkpoints, self.waiter)
        self.anchors = ChainAnchors(
            self.checkpoints.head, settings.audit_signing_key, self.clock.now
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
        self.subscriber_search = SubscriberSearchService(self.subscriber_summaries, self.waiter)
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
        # Live updates (subscriptions): which followers see which changed tickets.
        self.ticket_updates = TicketUpdates(self.clock, TicketsQueries(self.read_pool.connection))
        self.announcements = AnnouncementService(
            self.core,
            self.clock,
            self.core_log,
            AnnouncementsQueries(self.read_pool.connection),
            self.as_of,
            self.waiter,
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
        self.leader_tasks = LeaderTasks(
            settings, self.document_sweeper.sweep, self.checkpoints.sealed_after, self.clock.now
        )
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
        # Webhooks: endpoints are events; the `webhooks` projection creates deliveries, the
        # dispatcher (start_webhooks, an event loop of its own) sends them.
        hooks = self.webhook_adapters = WebhookAdapters.build(
            settings, self.conninfo, self.read_pool.connection
        )
        self.webhook_endpoints = WebhookEndpointService(
            self.core, hooks.cipher, self.clock, hooks.read_model, self.waiter, hooks.allowed_hosts
        )
        deliveries = WebhookDeliveryService(self.core, self.clock, hooks.read_model, self.waiter)
        self.webhook_deliveries = deliveries
        self.webhook_messages = WebhookMessages(self.core_log, self.audit)
        self.metrics.registry.register(hooks.backlog_collector())
        self.webhook_dispatcher: WebhookDispatcherThread | None = None
        self.webhook_runner: ProjectionRunner | None = None

    def upgrade(self) -> None:
        """The schema step, as the schema owner; it grants the role the service runs as
        what it needs when that is another role (infra/privileges.py)."""
        recorders = [self.core.recorder, self.feed.recorder]
        if self.core.snapshots is not None:
            recorders.append(self.core.snapshots.recorder)
        upgrade(
            self.owner_conninfo,
            recorders,
            [CORE_EVENTS_TABLE, FEED_EVENTS_TABLE],
            self.engine,
            compressed_tables=[FEED_EVENTS_TABLE],
            runtime_conninfo=self.conninfo,
        )

    def live_feed(self) -> LiveFeed:
        """A follower of the core log for one app's live updates (its lifespan starts it)."""
        topics = {p.name: p.topics for p in self.engine.projections.values() if p.store == "core"}
        return LiveFeed(
            self.conninfo,
            self.engine.sources["core"],
            self.waiter,
            topics,
            self.settings.projection_poll_seconds,
        )

    def least_privilege(self) -> bool:
        """Whether the role the service runs as cannot rewrite history (false when it owns
        the events tables or is a superuser; and when the database cannot tell)."""
        try:
            with self.read_pool.connection(timeout=2) as conn, conn.cursor() as cur:
                return least_privilege(cur, [CORE_EVENTS_TABLE, FEED_EVENTS_TABLE])
        except Exception:  # readiness must answer; database_ready reports the database
            log.warning("cannot tell the database role's privileges", exc_info=True)
            return False

    def _runner(self, engine: ProjectionEngine) -> ProjectionRunner:
        s = self.settings
        return ProjectionRunner(
            engine,
            s.projection_poll_seconds,
            s.projection_batch_seconds,
            auto_rebuild=s.projection_auto_rebuild,
            max_retry_seconds=s.projection_retry_max_seconds,
        )

    def start_projections(self) -> ProjectionRunner:
        """The runners, and what their leaders do besides; a signing key that cannot be read
        refuses the start before anything runs."""
        runner = self._runner(self.engine)
        self.leader_tasks.start(lambda name: name in runner.leading)
        self.runner = runner
        runner.start()
        return runner

    def start_webhooks(self, *, with_projection: bool = False) -> WebhookDispatcherThread:
        """The dispatcher (its own thread and event loop); `with_projection`: also the log
        follower creating deliveries (`spoa webhooks run`; one process leads it)."""
        hooks = self.webhook_adapters
        if with_projection:
            self.webhook_runner = self._runner(hooks.follower_engine(self.engine.sources))
            self.webhook_runner.start()
        transport, queue = hooks.transport(), hooks.queue()
        policy, observer = DispatchPolicy(**hooks.policy_values()), self.metrics.webhooks
        messages, signer, cipher = self.webhook_messages.messages, hooks.signer, hooks.cipher
        tools = SenderTools(transport, signer, cipher, messages, self.clock, policy, observer)
        thread = hooks.dispatcher_thread(Dispatcher(queue, tools), transport, queue)
        self.webhook_dispatcher = thread
        thread.start()
        return thread

    def stop_webhooks(self) -> None:
        if self.webhook_dispatcher is not None:
            self.webhook_dispatcher.stop()
            self.webhook_dispatcher = None
        if self.webhook_runner is not None:
            self.webhook_runner.stop()
            self.webhook_runner = None

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
        self.leader_tasks.stop()
        self.stop_webhooks()
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        self.read_pool.close()
        self.core.close()
        self.feed.close()


__all__ = [
    "Account",
    "AnchorKeyError",
    "Container",
    "LiveEvent",
    "LiveFeed",
    "NothingChainedError",
    "append_anchor",
    "generate_key_pair",
    "load_anchors",
    "load_public_key",
    "load_settings",
    "offline_mapper",
    "read_signed_anchors",
    "replay_export",
]
