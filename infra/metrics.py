"""Prometheus metrics (prometheus-client), one registry per container.

Request metrics are counted in-process as requests pass. Store and projection figures are read
from the database at scrape time, so they are right whichever process appends, projects or
rebuilds (a `spoa projections rebuild` in another process shows up here as rebuild progress).

Worker processes (`spoa serve --workers N`) run prometheus-client's multiprocess mode: the parent
sets `PROMETHEUS_MULTIPROC_DIR` to a fresh private directory before it starts them, each worker's
request counters and histograms live in memory-mapped files there, and a scrape, whichever
worker answers it, sums every worker's files (`MultiProcessCollector`). The database figures are
still read once per scrape by the answering worker, never summed. What only one process knows
(`process_*` from ProcessCollector, which cannot aggregate, and `spoa_projection_leader`) is the
answering worker's own, labelled with its `pid`, so the series of different workers never mix.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from infra.webhooks.metrics import WebhookInstruments

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: Distinct operation names kept as labels; any further name is counted as "other", so a
#: client inventing names cannot grow the metrics without bound.
MAX_OPERATION_NAMES = 200
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Where prometheus-client keeps the metric files of multiprocess mode. Read when the library is
#: first imported, so it must be in the environment before a worker process starts.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode when this process runs in it
    (the library chose its file-backed values at import because the variable was set), else
    None: in-memory values, one process, as `spoa serve` without --workers and the tests run."""
    path = os.environ.get(MULTIPROC_DIR_ENV)
    if path and os.path.isdir(path) and getattr(values.ValueClass, "_multiprocess", False):
        return path
    return None


def release_process() -> None:
    """At a worker's exit: drop its files of live gauges (prometheus-client's
    mark_process_dead). Its counter and histogram files stay, so totals never go back. A no-op
    outside multiprocess mode."""
    path = multiprocess_dir()
    if path is not None:
        mark_process_dead(os.getpid(), path)


class ProjectionStatusSource(Protocol):
    """What the collector reads: the projections' status and the stores' heads."""

    def status(self) -> Sequence[Any]: ...

    def store_heads(self) -> dict[str, int]: ...


def _database_up(up: bool) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily("spoa_database_up", "Whether the metrics could read the database")
    gauge.add_metric([], 1 if up else 0)
    return gauge


class StoreCollector(Collector):
    """Per store its head; per projection its position, lag, failure and any rebuild."""

    def __init__(
        self,
        engine: ProjectionStatusSource,
        leading: Callable[[], Iterable[str]] | None = None,
        *,
        label_pid: bool = False,
    ) -> None:
        self.engine = engine
        self.leading = leading or (lambda: ())
        self.label_pid = label_pid  # worker mode: the leader flags are this worker's

    def describe(self) -> list[Any]:
        return []  # collected at scrape time only

    def collect(self) -> Iterator[Any]:
        try:
            heads = self.engine.store_heads()
            states = list(self.engine.status())
        except Exception:  # a scrape must answer even when the database does not
            log.warning("metrics: cannot read projection status", exc_info=True)
            yield _database_up(False)
            return
        yield _database_up(True)
        appended = CounterMetricFamily(
            "spoa_store_events_appended",
            "Events appended to the store (its log's head position)",
            labels=["store"],
        )
        for store, head in heads.items():
            appended.add_metric([store], head)
        yield appended
        position = GaugeMetricFamily(
            "spoa_projection_position",
            "Last store position the projection's live tables applied",
            labels=["projection", "store"],
        )
        lag = GaugeMetricFamily(
            "spoa_projection_lag_events",
            "Events stored but not yet applied by the projection",
            labels=["projection", "store"],
        )
        generation = GaugeMetricFamily(
            "spoa_projection_generation",
            "Generation of the projection's live tables",
            labels=["projection"],
        )
        rebuilding = GaugeMetricFamily(
            "spoa_projection_rebuilding",
            "1 while a blue/green rebuild of the projection is under way (or interrupted)",
            labels=["projection"],
        )
        rebuild_position = GaugeMetricFamily(
            "spoa_projection_rebuild_position",
            "Store position the rebuild has reached",
            labels=["projection"],
        )
        rebuild_progress = GaugeMetricFamily(
            "spoa_projection_rebuild_progress_ratio",
            "Rebuild position over the store's head (0..1)",
            labels=["projection"],
        )
        version = GaugeMetricFamily(
            "spoa_projection_version",
            "Projection version the live tables were built by",
            labels=["projection"],
        )
        rebuild_needed = GaugeMetricFamily(
            "spoa_projection_rebuild_needed",
            "1 while the live tables are of an older version than the projection's code",
            labels=["projection"],
        )
        failing = GaugeMetricFamily(
            "spoa_projection_failing",
            "1 while the projection's live runner fails to apply its next page (retrying)",
            labels=["projection"],
        )
        pid = [str(os.getpid())] if self.label_pid else []
        leader = GaugeMetricFamily(
            "spoa_projection_leader",
            "1 when this process leads the projection's live runner",
            labels=["projection", "pid"] if self.label_pid else ["projection"],
        )
        leading = set(self.leading())
        for s in states:
            position.add_metric([s.name, s.store], s.position)
            lag.add_metric([s.name, s.store], s.lag)
            generation.add_metric([s.name], s.generation)
            version.add_metric([s.name], s.version)
            rebuild_needed.add_metric([s.name], 1 if s.rebuild_needed else 0)
            failing.add_metric([s.name], 1 if s.failing else 0)
            leader.add_metric([s.name, *pid], 1 if s.name in leading else 0)
            building = s.building_generation is not None
            rebuilding.add_metric([s.name], 1 if building else 0)
            if building:
                done = s.building_position or 0
                head = heads.get(s.store, 0)
                rebuild_position.add_metric([s.name], done)
                rebuild_progress.add_metric([s.name], min(done / head, 1.0) if head else 1.0)
        yield from (position, lag, generation, version, rebuild_needed, failing, leader)
        yield rebuilding
        yield from (rebuild_position, rebuild_progress)


class PidProcessCollector(Collector):
    """ProcessCollector's figures of this process, each sample labelled with its pid: in worker
    mode one scrape shows the answering worker's memory, CPU and descriptors, and a counter such
    as process_cpu_seconds_total stays one process's series instead of jumping between them."""

    def __init__(self) -> None:
        self.process = ProcessCollector(registry=None)

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        pid = str(os.getpid())
        for family in self.process.collect():
            family.samples = [s._replace(labels={**s.labels, "pid": pid}) for s in family.samples]
            yield family


class Metrics:
    """The registry the API serves at /metrics, and the request instruments.

    One process (no PROMETHEUS_MULTIPROC_DIR): the instruments, ProcessCollector and the store
    collector share this container's registry. Multiprocess mode (the workers of `spoa serve
    --workers N`): the instruments belong to no registry (their values are this worker's files)
    and the registry sums all workers' files instead; see the module's docstring.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(
        self,
        engine: ProjectionStatusSource | None = None,
        leading: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.multiprocess_dir = multiprocess_dir()
        shared = self.multiprocess_dir is not None
        own = None if shared else self.registry
        self.graphql_requests = Counter(
            "spoa_graphql_requests",
            "GraphQL operations executed, by operation name, type and outcome",
            ["operation", "type", "outcome"],
            registry=own,
        )
        self.graphql_latency = Histogram(
            "spoa_graphql_request_duration_seconds",
            "GraphQL operation latency, by operation name",
            ["operation", "type"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.http_requests = Counter(
            "spoa_http_requests",
            "HTTP requests, by method, route and status",
            ["method", "route", "status"],
            registry=own,
        )
        self.http_latency = Histogram(
            "spoa_http_request_duration_seconds",
            "HTTP request latency, by method and route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.webhooks = WebhookInstruments(own)
        if self.multiprocess_dir is not None:
            MultiProcessCollector(self.registry, path=self.multiprocess_dir)
            self.registry.register(PidProcessCollector())
        else:
            ProcessCollector(registry=self.registry)
        if engine is not None:
            self.registry.register(StoreCollector(engine, leading, label_pid=shared))
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def operation_label(self, name: str | None) -> str:
        """A bounded label for a client-chosen operation name."""
        if not name:
            return "anonymous"
        if not _NAME_RE.fullmatch(name):
            return "invalid"
        with self._lock:
            if name in self._names:
                return name
            if len(self._names) >= MAX_OPERATION_NAMES:
                return "other"
            self._names.add(name)
            return name

    def observe_graphql(
        self, name: str | None, operation_type: str, seconds: float, ok: bool
    ) -> None:
        label = self.operation_label(name)
        self.graphql_requests.labels(label, operation_type, "ok" if ok else "error").inc()
        self.graphql_latency.labels(label, operation_type).observe(seconds)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
