"""Over HTTP, a failing projection is loud: GraphQL `projections` says failing with the last
error, /metrics says 1, /readyz answers 503 once it has failed for too long; all clear again
once the cause goes away."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from psycopg import Cursor

from api.app import create_app
from infra.bootstrap import Container
from projections.runtime.base import RecordedEvent
from projections.subscribers import SubscribersProjection
from tests.conftest import make_settings
from tests.helpers import GraphQL, seed_accounts

# (one role owns everything in these tests: served, but not least privilege)
HEALTHY = {"database": True, "projections": True, "leastPrivilege": False, "status": "ok"}
QUERY = "{ projections { name position lag failing lastError } }"


class PoisonedSubscribers(SubscribersProjection):
    """Raises on every page until healed (the cause of the failure going away)."""

    poisoned = True

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        if self.poisoned:
            raise RuntimeError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        super().apply(cur, schema, events)


class World:
    def __init__(
        self, container: Container, client: TestClient, projection: PoisonedSubscribers
    ) -> None:
        self.container = container
        self.client = client
        self.gql = GraphQL(client)
        self.projection = projection
        staff = seed_accounts(container)
        container.subscribers.register(staff["admin"], "13800138000", "GD", "FREE")

    def projections(self) -> dict[str, dict[str, Any]]:
        result = self.gql(QUERY, as_user="auditor")
        assert "errors" not in result, result
        return {p["name"]: p for p in result["data"]["projections"]}

    def failing_gauge(self) -> dict[str, float]:
        text = self.client.get("/metrics").text
        return {
            s.labels["projection"]: s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "spoa_projection_failing"
        }


@pytest.fixture
def world_with(database_url: str) -> Iterator[Callable[[float], World]]:
    """A served app whose subscribers projection fails, /readyz failing after `seconds`."""
    opened: list[tuple[Container, TestClient]] = []

    def make(seconds: float) -> World:
        settings = make_settings(
            database_url,
            projection_poll_seconds=0.1,
            projection_retry_max_seconds=0.4,
            projection_failing_seconds=seconds,
        )
        container = Container(settings, database_url)
        projection = PoisonedSubscribers()
        container.engine.projections["subscribers"] = projection  # before the runner starts
        client = TestClient(create_app(container, run_projections=True))
        client.__enter__()
        opened.append((container, client))
        return World(container, client, projection)

    yield make
    for container, client in opened:
        client.__exit__(None, None, None)
        container.close()


def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_graphql_and_metrics_show_the_failure_until_it_recovers(
    world_with: Callable[[float], World],
) -> None:
    world = world_with(3600)
    assert eventually(lambda: world.projections()["subscribers"]["failing"])
    projections = world.projections()
    assert projections["subscribers"]["lastError"] == (
        "RuntimeError: PostgreSQL text fields cannot contain NUL (0x00) bytes"
    )
    assert projections["subscribers"]["lag"] > 0
    # The others keep up and say nothing.
    assert eventually(lambda: world.projections()["accounts"]["lag"] == 0)
    assert world.projections()["accounts"]["failing"] is False
    assert world.projections()["accounts"]["lastError"] is None
    gauge = world.failing_gauge()
    assert gauge["subscribers"] == 1 and gauge["accounts"] == 0
    # Failing for less than SPOA_PROJECTION_FAILING_SECONDS: ready, as before.
    readyz = world.client.get("/readyz")
    assert (readyz.status_code, readyz.json()) == (200, HEALTHY)

    world.projection.poisoned = False
    assert eventually(lambda: not world.projections()["subscribers"]["failing"])
    recovered = world.projections()["subscribers"]
    assert recovered["lastError"] is None
    assert eventually(lambda: world.projections()["subscribers"]["lag"] == 0)
    assert set(world.failing_gauge().values()) == {0}


def test_readyz_answers_503_naming_a_projection_failing_for_too_long(
    world_with: Callable[[float], World],
) -> None:
    world = world_with(0.5)
    assert eventually(lambda: world.client.get("/readyz").status_code == 503)
    readyz = world.client.get("/readyz").json()
    assert readyz == {
        "database": True,
        "projections": False,
        "leastPrivilege": False,
        "status": "fail",
        "failing": ["subscribers"],
    }
    assert world.client.get("/healthz").status_code == 200  # the process itself is fine

    world.projection.poisoned = False
    assert eventually(lambda: world.client.get("/readyz").status_code == 200)
    assert world.client.get("/readyz").json() == HEALTHY
