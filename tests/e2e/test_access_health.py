"""/healthz says the process is up; /readyz also needs the database and the projections."""

from __future__ import annotations

import time

import psycopg
from fastapi.testclient import TestClient

from api.app import create_app
from infra.bootstrap import Container


def test_healthz_needs_nothing(container: Container) -> None:
    with TestClient(create_app(container, run_projections=False)) as client:
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_with_database_and_runner(client: TestClient, container: Container) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": True, "projections": True, "status": "ok"}
    assert container.runner is not None and container.runner.healthy


def test_readyz_fails_when_the_projection_runner_is_down(
    client: TestClient, container: Container
) -> None:
    assert container.runner is not None
    container.runner.stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": True, "projections": False, "status": "fail"}


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
