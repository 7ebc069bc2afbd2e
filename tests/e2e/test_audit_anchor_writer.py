"""SPOA_AUDIT_ANCHOR_DIR: the serving process that leads the audit projection appends a signed
anchor for every checkpoint sealed, once each, across restarts; `verify` checks them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from application.authz import Principal
from infra.bootstrap import Container, generate_key_pair
from tests.audit_world import History
from tests.conftest import make_settings
from tests.helpers import seed_accounts

SEAL_EVERY = 4
PLAN = [
    ("account.create", 0, 0),
    ("subscriber.register", 0, 0),
    ("ticket.draft", 0, 1),
    ("faq.create", 0, 0),
    ("contact.add", 0, 0),
    ("announcement.publish", 0, 1),
]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "anchor.key", tmp_path / "anchor.pub"
    generate_key_pair(private, public)
    return private, public


@contextmanager
def serving(database_url: str, anchor_dir: Path, key: Path) -> Iterator[Container]:
    settings = make_settings(database_url, audit_anchor_dir=anchor_dir, audit_signing_key=key)
    container = Container(settings, database_url)
    container.engine.projections["audit"].seal_every = SEAL_EVERY  # type: ignore[attr-defined]
    try:
        with TestClient(create_app(container, run_projections=True)):
            yield container
    finally:
        container.close()


def checkpoints(container: Container) -> list[tuple[int, str]]:
    with psycopg.connect(container.conninfo) as conn:
        rows = conn.execute(
            "SELECT position, chain_hash FROM rm.audit_checkpoints ORDER BY position"
        ).fetchall()
    return [(int(p), str(h)) for p, h in rows]


def anchors_in(path: Path, public: Path) -> list[dict[str, Any]]:
    key = serialization.load_pem_public_key(public.read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    anchors = [json.loads(line) for line in path.read_text().splitlines()]
    for anchor in anchors:
        signed = {k: anchor[k] for k in ("position", "chainHash", "at")}
        key.verify(
            base64.b64decode(anchor["signature"]),
            json.dumps(signed, sort_keys=True, separators=(",", ":")).encode(),
        )
    return anchors


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_server_appends_a_signed_anchor_at_each_checkpoint_once(
    database_url: str, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    directory = tmp_path / "anchors"
    path = directory / "anchors.ndjson"
    admin: Principal
    with serving(database_url, directory, keys[0]) as container:
        admin = seed_accounts(container)["admin"]
        History(container, admin).play(PLAN)
        head = container.core_log.head()
        sealed = head // SEAL_EVERY
        assert sealed >= 3
        eventually(lambda: path.exists() and len(path.read_text().splitlines()) == sealed)
        first = anchors_in(path, keys[1])
        assert [(a["position"], a["chainHash"]) for a in first] == checkpoints(container)
        report = container.audit_verifier.verify({a["position"]: a["chainHash"] for a in first})
        assert report.intact and report.anchors_checked == sealed
        History(container, admin).play(PLAN)  # more checkpoints while serving
        more = container.core_log.head() // SEAL_EVERY
        eventually(lambda: len(path.read_text().splitlines()) == more)
    # Restarted on the same directory: the checkpoints anchored already are not again.
    with serving(database_url, directory, keys[0]) as container:
        History(container, admin).play(PLAN)
        total = container.core_log.head() // SEAL_EVERY
        eventually(lambda: len(path.read_text().splitlines()) == total)
        time.sleep(0.5)  # a few more rounds of the writer: still one line per checkpoint
        anchors = anchors_in(path, keys[1])
        assert [(a["position"], a["chainHash"]) for a in anchors] == checkpoints(container)
        assert anchors[: len(first)] == first


def test_an_anchor_directory_needs_a_signing_key(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SPOA_AUDIT_SIGNING_KEY"):
        make_settings(database_url, audit_anchor_dir=tmp_path)


def test_an_unreadable_signing_key_stops_the_start(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, audit_anchor_dir=tmp_path, audit_signing_key=tmp_path / "missing.key"
    )
    container = Container(settings, database_url)
    try:
        with (
            pytest.raises(Exception, match="cannot read the signing key"),
            TestClient(create_app(container, run_projections=True)),
        ):
            pass
    finally:
        container.close()
