"""Live projection runners on PostgreSQL: one leader per projection with a standby, wake-ups by
notification, bounded waits, status and health."""

from __future__ import annotations

import time

import psycopg

from infra.bootstrap import Container
from projections.access import AccountsProjection
from projections.runtime.runner import ProjectionRunner, wait_for_position
from projections.runtime.status import ProjectionStatus
from tests.integration.projection_world import (
    NAME,
    create,
    engine_for,
    eventually,
    expected_table,
    seed,
    table,
    table_has,
)


# ---------------------------------------------------------------- live runners
def test_one_leader_per_projection_and_a_standby_takes_over(container: Container) -> None:
    seed(container, 3)
    a = ProjectionRunner(engine_for(container, AccountsProjection(), 50), poll_seconds=0.05)
    b = ProjectionRunner(engine_for(container, AccountsProjection(), 50), poll_seconds=0.05)
    a.start()
    b.start()
    try:
        assert eventually(lambda: NAME in a.leading | b.leading)
        time.sleep(0.2)  # several standby polls: the other one must still be waiting
        assert (NAME in a.leading) != (NAME in b.leading)
        leader, standby = (a, b) if NAME in a.leading else (b, a)
        assert wait_for_position(
            ProjectionStatus(leader.engine), [NAME], container.core_log.head(), 10
        )

        leader.stop()
        assert NAME not in leader.leading
        assert eventually(lambda: NAME in standby.leading)
        create(container.access, "after.failover")
        assert wait_for_position(
            ProjectionStatus(standby.engine), [NAME], container.core_log.head(), 10
        )
        assert table_has(container, "after.failover")
        assert table(container) == expected_table(container)
    finally:
        a.stop()
        b.stop()


def listening(container: Container, channel: str) -> bool:
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            (f'LISTEN "{channel}"',),
        ).fetchone()
    return row is not None


def test_notify_wakes_the_runner_long_before_its_next_poll(container: Container) -> None:
    runner = ProjectionRunner(engine_for(container, AccountsProjection(), 50), poll_seconds=30)
    runner.start()
    try:
        assert eventually(lambda: NAME in runner.leading)
        assert eventually(lambda: listening(container, "core_events"))
        create(container.access, "woken")
        assert wait_for_position(
            ProjectionStatus(runner.engine), [NAME], container.core_log.head(), timeout=5
        )
    finally:
        runner.stop()


def test_wait_for_position_is_bounded(container: Container) -> None:
    create(container.access, "ann")
    head = container.core_log.head()
    started = time.monotonic()
    assert not wait_for_position(ProjectionStatus(container.engine), [NAME], head, timeout=0.1)
    assert time.monotonic() - started < 2
    container.engine.catch_up(NAME)
    assert wait_for_position(ProjectionStatus(container.engine), [NAME], head, timeout=0.1)
    assert wait_for_position(ProjectionStatus(container.engine), [NAME], 0, timeout=0.1)


def test_status_reports_position_and_lag(container: Container) -> None:
    seed(container, 3)
    head = container.core_log.head()
    before = {s.name: s for s in container.projection_status.status()}[NAME]
    assert (before.position, before.lag, before.updated_at) == (0, head, None)
    container.engine.catch_up(NAME)
    after = {s.name: s for s in container.projection_status.status()}[NAME]
    assert (after.position, after.lag, after.generation) == (head, 0, 1)
    assert after.updated_at is not None
    assert after.building_generation is None


def test_runner_health(container: Container) -> None:
    runner = ProjectionRunner(engine_for(container, AccountsProjection(), 50), poll_seconds=0.05)
    assert not runner.healthy
    runner.start()
    try:
        assert runner.healthy
    finally:
        runner.stop()
    assert not runner.healthy
