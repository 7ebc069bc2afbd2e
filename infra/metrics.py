"""Prometheus metrics (prometheus-client), one registry per container.

Request metrics are counted in-process as requests pass. Store and projection figures are read
from the database at scrape time, so they are right whichever process appends, projects or
rebuilds (a `spoa projections rebuild` in another process shows up here as rebuild progress).
"""

from __future__ import annotations

import logging
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
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: Distinct operation names kept as labels; any further name is counted as "other", so a
#: client inventing names cannot grow the metrics without bound.
MAX_OPERATION_NAMES = 200
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ProjectionStatusSource(Protocol):
    """What the collector reads: ProjectionEngine's status and store heads."""

    sources: dict[str, Any]

    def status(self) -> Sequence[Any]: ...

    def store_head(self, store: str) -> int: ...


def _database_up(up: bool) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily("spoa_database_up", "Whether the metrics could read the database")
    gauge.add_metric([], 1 if up else 0)
    return gauge


class StoreCollector(Collector):
    """Per store its head; per projection its position, lag and any rebuild in progress."""

    def __init__(
        self, engine: ProjectionStatusSource, leading: Callable[[], Iterable[str]] | None = None
    ) -> None:
        self.engine = engine
        self.leading = leading or (lambda: ())

    def describe(self) -> list[Any]:
        return []  # collected at scrape time only

    def collect(self) -> Iterator[Any]:
        try:
            heads = {store: self.engine.store_head(store) for store in self.engine.sources}
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
        leader = GaugeMetricFamily(
            "spoa_projection_leader",
            "1 when this process leads the projection's live runner",
            labels=["projection"],
        )
        leading = set(self.leading())
        for s in states:
            position.add_metric([s.name, s.store], s.position)
            lag.add_metric([s.name, s.store], s.lag)
            generation.add_metric([s.name], s.generation)
            leader.add_metric([s.name], 1 if s.name in leading else 0)
            building = s.building_generation is not None
            rebuilding.add_metric([s.name], 1 if building else 0)
            if building:
                done = s.building_position or 0
                head = heads.get(s.store, 0)
                rebuild_position.add_metric([s.name], done)
                rebuild_progress.add_metric([s.name], min(done / head, 1.0) if head else 1.0)
        yield from (position, lag, generation, leader, rebuilding, rebuild_position)
        yield rebuild_progress


class Metrics:
    """The registry the API serves at /metrics, and the request instruments."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(
        self,
        engine: ProjectionStatusSource | None = None,
        leading: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.graphql_requests = Counter(
            "spoa_graphql_requests",
            "GraphQL operations executed, by operation name, type and outcome",
            ["operation", "type", "outcome"],
            registry=self.registry,
        )
        self.graphql_latency = Histogram(
            "spoa_graphql_request_duration_seconds",
            "GraphQL operation latency, by operation name",
            ["operation", "type"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "spoa_http_requests",
            "HTTP requests, by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "spoa_http_request_duration_seconds",
            "HTTP request latency, by method and route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        if engine is not None:
            self.registry.register(StoreCollector(engine, leading))
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
