"""`spoa serve --workers 2`: two processes on one port, one projection leader each, an account
disabled through one worker refused at once by the other (their aggregate caches re-read the
events), a clean stop, and /metrics that counts the requests of both workers whichever answers."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from domain.access.permissions import Role
from infra.bootstrap import Container
from tests.conftest import TEST_SECRET, make_settings

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Workers-pass-123"
LOGIN = (
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { session { token } } }"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gql(base: str, document: str, token: str | None = None, **variables: Any) -> Any:
    """One request on a new connection (so requests spread over the workers)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=base, timeout=10, headers=headers) as client:
        return client.post("/graphql", json={"query": document, "variables": variables}).json()


def wait_ready(server: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.poll() is None, "the server exited during start-up"
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.2)


def advisory_locks(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return int(row[0]) if row else 0


@contextmanager
def serving(database_url: str, tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`spoa serve --workers 2` on a free port until the block ends, then SIGTERM and wait."""
    port = free_port()
    env = {
        **os.environ,
        "SPOA_DATABASE_URL": database_url,
        "SPOA_DEV_MODE": "1",
        "SPOA_SECRET_KEY": TEST_SECRET,
        "SPOA_DATA_DIR": str(tmp_path),
        "SPOA_LOG_LEVEL": "WARNING",
        "SPOA_ARGON2_TIME_COST": "1",
        "SPOA_ARGON2_MEMORY_KIB": "1024",
        "SPOA_ARGON2_PARALLELISM": "1",
        **(env or {}),
    }
    command = [sys.executable, "-m", "api.cli.main", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603 - our own interpreter
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, base)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise


@pytest.mark.slow
def test_two_workers_share_the_port_the_leaders_and_the_truth(
    database_url: str, tmp_path: Path
) -> None:
    container = Container(make_settings(database_url), database_url)
    try:
        for username, role in (("admin", Role.SUPER_ADMIN), ("viewer.one", Role.VIEWER)):
            container.access.create_account(
                None,
                username=username,
                display_name=username,
                role=role,
                province=None,
                initial_password=PASSWORD,
            )
        projections = len(container.engine.projections)
    finally:
        container.close()
    with serving(database_url, tmp_path) as base:
        # One leader per projection across both workers (session advisory locks).
        deadline = time.monotonic() + 20
        while advisory_locks(database_url) < projections and time.monotonic() < deadline:
            time.sleep(0.2)
        assert advisory_locks(database_url) == projections

        admin = gql(base, LOGIN, u="admin", p=PASSWORD)["data"]["login"]["session"]["token"]
        viewer = gql(base, LOGIN, u="viewer.one", p=PASSWORD)["data"]["login"]["session"]["token"]
        me = "{ me { username id } }"
        for _ in range(6):  # both workers now hold the viewer's account in their caches
            assert gql(base, me, viewer)["data"]["me"]["username"] == "viewer.one"
        viewer_id = gql(base, me, viewer)["data"]["me"]["id"]
        disabled = gql(
            base,
            "mutation($id: ID!) { disableAccount(id: $id) { position userErrors { code } } }",
            admin,
            id=viewer_id,
        )["data"]["disableAccount"]
        assert disabled["userErrors"] == []
        for _ in range(6):  # refused at once, whichever worker answers
            refused = gql(base, me, viewer)
            assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused
        # The projections follow in whichever worker leads them.
        listed = "{ accounts(role: VIEWER) { nodes { username enabled } } }"
        deadline = time.monotonic() + 10
        while True:
            nodes = gql(base, listed, admin)["data"]["accounts"]["nodes"]
            if nodes == [{"username": "viewer.one", "enabled": False}]:
                break
            assert time.monotonic() < deadline, nodes
            time.sleep(0.1)
    deadline = time.monotonic() + 10
    while advisory_locks(database_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert advisory_locks(database_url) == 0  # the workers stopped and let go of leadership


def scrape(base: str) -> tuple[dict[tuple[str, frozenset[tuple[str, str]]], float], list[str]]:
    """One /metrics on a new connection (so either worker may answer): its samples by name and
    labels, and the sample names in order (to count repeats)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return {(s.name, frozenset(s.labels.items())): s.value for s in found}, [s.name for s in found]


def labelled(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


@pytest.mark.slow
def test_metrics_sum_the_requests_of_every_worker(database_url: str, tmp_path: Path) -> None:
    temp = tmp_path / "tmp"  # where `spoa serve` makes its metrics directory
    temp.mkdir()
    requests = 24
    with serving(database_url, tmp_path, {"TMPDIR": str(temp)}) as base:
        [metrics_dir] = temp.glob("spoa-metrics-*")
        assert metrics_dir.stat().st_mode & 0o077 == 0  # private to the user
        for _ in range(requests):  # each on a new connection: spread over the workers
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        healthz = labelled("spoa_http_requests_total", method="GET", route="/healthz", status="200")
        timed = labelled("spoa_http_request_duration_seconds_count", method="GET", route="/healthz")
        scraped = labelled("spoa_http_requests_total", method="GET", route="/metrics", status="200")
        sent = 0  # scrapes sent so far; each is counted too, once answered
        answered: set[str] = set()
        deadline = time.monotonic() + 20
        while len(answered) < 2:  # until both workers have answered a scrape
            assert time.monotonic() < deadline, f"only {answered} answered the scrapes"
            samples, names = scrape(base)
            # Whichever worker answers counts the requests of both: all of them, once the
            # worker that answered the last has recorded it (just after its response).
            assert samples[healthz] == samples[timed] <= requests
            # The earlier scrapes, give or take the one the other worker has just answered.
            assert sent - 1 <= samples.get(scraped, 0) <= sent
            sent += 1
            if samples[healthz] < requests:
                assert sent < 10, samples[healthz]
                time.sleep(0.05)
                continue
            # One line per label set, not one per worker.
            counters = [key for key in samples if key[0] == "spoa_http_requests_total"]
            assert names.count("spoa_http_requests_total") == len(counters)
            # The database figures once per scrape, not once per worker.
            assert names.count("spoa_database_up") == 1
            appended = [key for key in samples if key[0] == "spoa_store_events_appended_total"]
            assert names.count("spoa_store_events_appended_total") == len(appended) > 0
            # Process figures: the answering worker's own, labelled with its pid.
            assert names.count("process_resident_memory_bytes") == 1
            [pid] = [dict(k[1])["pid"] for k in samples if k[0] == "process_resident_memory_bytes"]
            leaders = [dict(k[1]) for k in samples if k[0] == "spoa_projection_leader"]
            assert leaders
            assert all(labels["pid"] == pid for labels in leaders)
            answered.add(pid)
        # Each worker writes files of its own (its last scrape may still be being recorded).
        while True:
            written = {
                m.group(1)
                for f in metrics_dir.iterdir()
                if (m := re.fullmatch(r"[a-z]+_(\d+)\.db", f.name))
            }
            if written == answered or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert written == answered
    assert not metrics_dir.exists()  # the metrics directory goes with the server
