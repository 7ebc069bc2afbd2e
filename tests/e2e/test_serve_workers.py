"""`spoa serve --workers 2`: two processes on one port, one projection leader each, an account
disabled through one worker refused at once by the other (their aggregate caches re-read the
events), and a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

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
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603 - our own interpreter
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, base)
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
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    deadline = time.monotonic() + 10
    while advisory_locks(database_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert advisory_locks(database_url) == 0  # the workers stopped and let go of leadership
