"""The metrics registry in its two modes: one process (a container's own registry, as the tests'
in-process app and `spoa serve` without --workers use it) and prometheus-client's multiprocess
mode (the workers of `spoa serve --workers N`, each a process of its own, here subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.metrics import MULTIPROC_DIR_ENV, Metrics, multiprocess_dir

ROOT = Path(__file__).resolve().parents[2]


class State:
    def __init__(self, name: str, store: str) -> None:
        self.name, self.store = name, store
        self.generation, self.position, self.lag, self.version, self.code_version = 1, 3, 0, 1, 1
        self.rebuild_needed = self.failing = False
        self.building_generation = self.building_position = None


class Engine:
    sources: ClassVar[dict[str, Any]] = {"core": None}

    def status(self) -> list[State]:
        return [State("accounts", "core")]

    def store_heads(self) -> dict[str, int]:
        return {store: self.store_head(store) for store in self.sources}

    def store_head(self, store: str) -> int:
        return 3


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def test_one_process_keeps_a_registry_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_DIR_ENV, raising=False)
    metrics = Metrics(Engine(), lambda: {"accounts"})
    other = Metrics(Engine())
    assert metrics.multiprocess_dir is None
    for _ in range(3):
        metrics.observe_http("GET", "/healthz", 200, 0.002)
    metrics.observe_graphql("Me", "query", 0.01, True)
    http = {"method": "GET", "route": "/healthz", "status": "200"}
    registry = metrics.registry
    assert registry.get_sample_value("spoa_http_requests_total", http) == 3
    assert registry.get_sample_value("spoa_http_requests_created", http) is not None
    assert (
        registry.get_sample_value(
            "spoa_http_request_duration_seconds_bucket",
            {"method": "GET", "route": "/healthz", "le": "0.005"},
        )
        == 3
    )
    assert (
        registry.get_sample_value(
            "spoa_graphql_requests_total", {"operation": "Me", "type": "query", "outcome": "ok"}
        )
        == 1
    )
    # Another container's registry counts its own requests only.
    assert other.registry.get_sample_value("spoa_http_requests_total", http) is None
    found = samples(metrics.render().decode())
    process = [labels for name, labels, _ in found if name.startswith("process_")]
    assert process, "ProcessCollector's figures"
    assert all("pid" not in labels for labels in process)
    assert ("spoa_projection_leader", {"projection": "accounts"}, 1.0) in found
    assert [name for name, _, _ in found].count("spoa_database_up") == 1


def test_the_variable_alone_switches_nothing_once_the_library_is_loaded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As in the parent of `spoa serve --workers`, which sets it for the workers it spawns:
    prometheus-client chose its in-memory values at import, so this process stays one."""
    monkeypatch.setenv(MULTIPROC_DIR_ENV, str(tmp_path))
    assert multiprocess_dir() is None
    metrics = Metrics()
    metrics.observe_http("GET", "/healthz", 200, 0.002)
    assert metrics.multiprocess_dir is None
    http = {"method": "GET", "route": "/healthz", "status": "200"}
    assert metrics.registry.get_sample_value("spoa_http_requests_total", http) == 1
    assert list(tmp_path.iterdir()) == []


WORKER = textwrap.dedent(
    """
    import json, os, sys
    from prometheus_client import Gauge
    from infra.metrics import Metrics, multiprocess_dir, release_process
    from tests.unit.test_metrics_registry import Engine

    requests = int(sys.argv[1])
    metrics = Metrics(Engine(), lambda: {"accounts"} if requests == 0 else ())
    assert metrics.multiprocess_dir == multiprocess_dir() == os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for _ in range(requests):
        metrics.observe_http("GET", "/healthz", 200, 0.002)
        metrics.observe_graphql("Me", "query", 0.01, True)
    live = Gauge("spoa_test_live", "a live gauge", multiprocess_mode="livesum", registry=None)
    live.set(1)
    text = metrics.render().decode()
    if requests:
        release_process()  # this one stops: its live gauge goes, its counts stay
    print(json.dumps({"pid": os.getpid(), "text": text}))
    """
)


def run_worker(directory: Path, requests: int) -> dict[str, Any]:
    env = {**os.environ, MULTIPROC_DIR_ENV: str(directory)}
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", WORKER, str(requests)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_workers_scrape_the_sum_of_all_their_requests(tmp_path: Path) -> None:
    first = run_worker(tmp_path, 3)
    second = run_worker(tmp_path, 4)
    scrape = run_worker(tmp_path, 0)  # answers the scrape, served no request itself
    pids = {str(first["pid"]), str(second["pid"]), str(scrape["pid"])}
    assert len(pids) == 3
    found = samples(scrape["text"])
    names = [name for name, _, _ in found]
    http = {"method": "GET", "route": "/healthz", "status": "200"}
    assert ("spoa_http_requests_total", http, 7.0) in found
    assert (
        "spoa_http_request_duration_seconds_bucket",
        {"method": "GET", "route": "/healthz", "le": "0.005"},
        7.0,
    ) in found
    assert (
        "spoa_http_request_duration_seconds_count",
        {"method": "GET", "route": "/healthz"},
        7.0,
    ) in found
    graphql = {"operation": "Me", "type": "query", "outcome": "ok"}
    assert ("spoa_graphql_requests_total", graphql, 7.0) in found
    assert names.count("spoa_http_requests_total") == 1  # summed, not one line per worker
    # The database figures once per scrape, not summed over the workers.
    assert ("spoa_store_events_appended_total", {"store": "core"}, 3.0) in found
    assert names.count("spoa_store_events_appended_total") == 1
    assert names.count("spoa_database_up") == 1
    # What only a process knows is the answering worker's, labelled with its pid.
    own = str(scrape["pid"])
    assert ("spoa_projection_leader", {"projection": "accounts", "pid": own}, 1.0) in found
    process = [labels for name, labels, _ in found if name.startswith("process_")]
    assert process
    assert all(labels == {"pid": own} for labels in process)
    # The workers that stopped dropped their live gauges; the answering one's is still there.
    live = [(labels, value) for name, labels, value in found if name == "spoa_test_live"]
    assert live == [({}, 1.0)]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert f"gauge_livesum_{first['pid']}.db" not in files
    assert f"counter_{first['pid']}.db" in files
