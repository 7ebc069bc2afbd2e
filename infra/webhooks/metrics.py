"""Webhook metrics: attempts and delivery latency counted where the senders run, the
deliveries not yet delivered read from the database at scrape time (so they are right
whichever process leads each endpoint)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
STATUSES = ("PENDING", "FAILED", "DEAD")


class WebhookInstruments:
    """The dispatcher's observer (application.webhooks.ports.DeliveryObserver)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.attempts = Counter(
            "spoa_webhook_attempts",
            "Webhook delivery attempts by endpoint and outcome (delivered, retry, failed, dead)",
            ["endpoint", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "spoa_webhook_delivery_latency_seconds",
            "Time from an event (its command's time, just before commit) to its delivery",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def attempted(self, endpoint_id: UUID, outcome: str) -> None:
        self.attempts.labels(str(endpoint_id), outcome).inc()

    def delivered(self, endpoint_id: UUID, seconds_since_event: float) -> None:
        self.latency.labels(str(endpoint_id)).observe(max(seconds_since_event, 0.0))


class WebhookBacklogCollector(Collector):
    """spoa_webhook_deliveries{endpoint, status}: PENDING, FAILED and DEAD per endpoint."""

    def __init__(
        self,
        endpoints: Callable[[], list[dict[str, Any]]],
        counts: Callable[[], list[tuple[UUID, str, int]]],
    ) -> None:
        self.endpoints = endpoints
        self.counts = counts

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        try:
            endpoints = [row["id"] for row in self.endpoints()]
            counts = {(e, s): n for e, s, n in self.counts()}
        except Exception:  # a scrape answers without these (spoa_database_up says why)
            log.warning("metrics: cannot read webhook deliveries", exc_info=True)
            return
        gauge = GaugeMetricFamily(
            "spoa_webhook_deliveries",
            "Webhook deliveries not delivered, by endpoint and status (PENDING, FAILED, DEAD)",
            labels=["endpoint", "status"],
        )
        for endpoint in endpoints:
            for status in STATUSES:
                gauge.add_metric([str(endpoint), status], counts.get((endpoint, status), 0))
        yield gauge
