"""`spoa db upgrade` (Container.upgrade): idempotent, and safe when processes race to run it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from domain.access.permissions import Role
from infra.bootstrap import Container
from infra.stores import CORE_EVENTS_TABLE, FEED_EVENTS_TABLE
from tests.conftest import _with_dbname, make_settings


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """A database with nothing in it (not cloned from the upgraded template)."""
    name = f"spoa_e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield _with_dbname(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def schema_summary(conninfo: str) -> dict[str, Any]:
    with psycopg.connect(conninfo) as conn:
        tables = conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            " ORDER BY 1"
        ).fetchall()
        triggers = conn.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
            " ORDER BY 1, 2"
        ).fetchall()
        registry = conn.execute(
            "SELECT name, store, active_generation FROM projection_registry ORDER BY name"
        ).fetchall()
        tracking = conn.execute(
            "SELECT name, generation, position FROM projection_tracking ORDER BY name"
        ).fetchall()
    return {"tables": tables, "triggers": triggers, "registry": registry, "tracking": tracking}


def test_upgrade_creates_everything_on_an_empty_database(empty_database_url: str) -> None:
    container = Container(make_settings(empty_database_url), empty_database_url)
    try:
        container.upgrade()
        summary = schema_summary(container.conninfo)
    finally:
        container.close()
    tables = {t for (t,) in summary["tables"]}
    assert {f"public.{CORE_EVENTS_TABLE}", f"public.{FEED_EVENTS_TABLE}"} <= tables
    assert "rm.accounts" in tables  # the read model's view
    triggers = set(summary["triggers"])
    for table in (CORE_EVENTS_TABLE, FEED_EVENTS_TABLE):
        assert (table, f"{table}_append_only") in triggers
        assert (table, f"{table}_no_truncate") in triggers
    assert ("accounts", "core", 1) in summary["registry"]


def test_upgrade_is_idempotent_and_keeps_data(container: Container) -> None:
    container.access.create_account(
        None,
        username="root",
        display_name="Root",
        role=Role.SUPER_ADMIN,
        province=None,
        initial_password="root-password",
    )
    container.engine.catch_up("accounts")
    before = schema_summary(container.conninfo)
    container.upgrade()
    container.upgrade()
    assert schema_summary(container.conninfo) == before
    assert container.core_log.head() == 3  # AccountCreated, RosterStarted, SuperAdminAdded
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute("SELECT username FROM rm.accounts").fetchall()
    assert row == [("root",)]


def test_two_processes_upgrading_at_once_do_not_race(empty_database_url: str) -> None:
    containers = [Container(make_settings(empty_database_url), empty_database_url) for _ in "ab"]
    barrier = threading.Barrier(len(containers))
    errors: list[BaseException] = []

    def run(container: Container) -> None:
        try:
            barrier.wait(timeout=10)
            container.upgrade()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in containers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        summary = schema_summary(containers[0].conninfo)
        assert [name for name, *_ in summary["registry"]].count("accounts") == 1
        # And the result works: a command, then its projection.
        containers[1].access.create_account(
            None,
            username="root",
            display_name="Root",
            role=Role.SUPER_ADMIN,
            province=None,
            initial_password="root-password",
        )
        containers[0].engine.catch_up("accounts")
        assert containers[0].projection_status.positions(["accounts"]) == {"accounts": 3}
    finally:
        for container in containers:
            container.close()
