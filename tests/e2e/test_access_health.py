"""/healthz says the process is up; /readyz also needs the database and the projections."""

from __future__ import annotations

import logging
import time

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.bootstrap import Container
from tests.roles import runtime_role, two_role_container


def test_healthz_needs_nothing(container: Container) -> None:
    with TestClient(create_app(container, run_projections=False)) as client:
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_with_database_and_runner(client: TestClient, container: Container) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "database": True,
        "projections": True,
        "leastPrivilege": False,  # one role owns everything here (see the test below)
        "status": "ok",
    }
    assert container.runner is not None and container.runner.healthy


def test_readyz_fails_when_the_projection_runner_is_down(
    client: TestClient, container: Container
) -> None:
    assert container.runner is not None
    container.runner.stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "database": True,
        "projections": False,
        "leastPrivilege": False,
        "status": "fail",
    }


def test_readyz_ignores_projections_run_elsewhere(container: Container) -> None:
    with TestClient(create_app(container, run_projections=False)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["projections"] is True


def test_readyz_fails_when_the_database_goes_away(pg_server_url: str, container: Container) -> None:
    dbname = container.params.dbname
    with TestClient(create_app(container, run_projections=False)) as client:
        assert client.get("/readyz").status_code == 200
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )
        try:
            started = time.monotonic()
            response = client.get("/readyz")
            assert time.monotonic() - started < 10  # bounded: readiness answers, never hangs
            assert client.get("/healthz").status_code == 200
        finally:
            with psycopg.connect(pg_server_url, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
    assert response.status_code == 503
    assert response.json()["database"] is False
    assert response.json()["leastPrivilege"] is False


def test_readyz_reports_least_privilege_when_served_as_a_second_role(
    pg_server_url: str, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Still 200 either way; leastPrivilege says whether the serving role could rewrite
    history (it owns the events tables, or is a superuser), and serving as such a role warns
    at start."""
    with (
        runtime_role(pg_server_url, database_url) as role,
        two_role_container(database_url, role) as container,
        TestClient(create_app(container, run_projections=True)) as client,
    ):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "database": True,
        "projections": True,
        "leastPrivilege": True,
        "status": "ok",
    }
    assert "can rewrite history" not in caplog.text


def test_serving_as_the_owner_warns_at_start(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), TestClient(create_app(container, run_projections=False)):
        pass
    assert "can rewrite history" in caplog.text
