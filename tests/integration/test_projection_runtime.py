"""The projection runtime on PostgreSQL: exactly-once pages, rebuilds, leaders, read-your-writes.

The accounts read model is the subject; a subclass that blows up mid-page stands in for a
runner killed half-way through a page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import Cursor

from application.access.service import AccessService, principal_of
from application.ports import RateLimitedError
from domain.access.account import account_id_for
from domain.access.permissions import Role
from domain.shared import DomainError
from infra.bootstrap import Container
from projections.access import AccountsProjection
from projections.runtime.base import RecordedEvent
from projections.runtime.engine import ProjectionEngine
from projections.runtime.rebuild import Rebuilds
from projections.runtime.runner import ProjectionRunner, wait_for_position
from projections.runtime.status import ProjectionStatus

NAME = "accounts"
PASSWORD = "a-good-password-1"


class SimulatedCrashError(RuntimeError):
    """The stand-in for a process dying mid-page."""


class CrashingAccounts(AccountsProjection):
    """Applies half of its `crash_on`-th page, then dies."""

    def __init__(self, crash_on: int) -> None:
        self.crash_on = crash_on
        self.calls = 0

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        self.calls += 1
        if self.calls < self.crash_on:
            super().apply(cur, schema, events)
            return
        super().apply(cur, schema, events[: max(1, len(events) // 2)])
        raise SimulatedCrashError(f"killed mid-page on page {self.calls}")


def engine_for(container: Container, projection: AccountsProjection, page: int) -> ProjectionEngine:
    return ProjectionEngine(container.conninfo, [projection], container.engine.sources, page)


def create(access: AccessService, username: str, role: Role = Role.VIEWER, **kw: Any) -> None:
    access.create_account(
        None,
        username=username,
        display_name=username.title(),
        role=role,
        province=kw.get("province"),
        initial_password=PASSWORD,
    )


def seed(container: Container, n: int) -> None:
    create(container.access, "root", Role.SUPER_ADMIN)
    for i in range(n):
        create(container.access, f"user{i:02d}", Role.PROVINCE_AGENT, province="GD")
    admin = principal_of(container.core.repository.get(account_id_for("root")))
    container.access.disable(admin, account_id_for("user00"), "test")
    container.access.login("user01", PASSWORD)
    container.access.change_role(admin, account_id_for("user02"), Role.VIEWER, None, None)


def table(container: Container) -> list[tuple[Any, ...]]:
    with psycopg.connect(container.conninfo) as conn:
        return conn.execute("SELECT * FROM rm.accounts ORDER BY username").fetchall()


def tracking(container: Container) -> list[tuple[int, int]]:
    with psycopg.connect(container.conninfo) as conn:
        rows = conn.execute(
            "SELECT generation, position FROM projection_tracking WHERE name = %s"
            " ORDER BY generation",
            (NAME,),
        ).fetchall()
    return [(int(g), int(p)) for g, p in rows]


def active_generation(container: Container) -> int:
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute(
            "SELECT active_generation FROM projection_registry WHERE name = %s", (NAME,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def schema_exists(container: Container, schema: str) -> bool:
    with psycopg.connect(container.conninfo) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            ).fetchone()
        )


def expected_table(container: Container) -> list[tuple[Any, ...]]:
    """The accounts list as the aggregates themselves say it should be."""
    with psycopg.connect(container.conninfo) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT originator_id FROM core_events WHERE topic = %s",
                ("spoa.access:Account.AccountCreated",),
            ).fetchall()
        ]
    rows = []
    for account_id in ids:
        a = container.core.repository.get(account_id)
        rows.append(
            (
                a.id,
                a.username,
                a.display_name,
                a.role.value,
                a.province,
                a.enabled,
                a.created_on,
                a.last_login_at,
                a.version,
            )
        )
    return sorted(rows, key=lambda r: r[1])


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# ---------------------------------------------------------------- exactly once
def test_a_page_that_dies_half_way_leaves_no_trace(container: Container) -> None:
    seed(container, 6)
    crashing = engine_for(container, CrashingAccounts(crash_on=2), page=4)
    with crashing.connect() as conn:
        assert crashing.step(conn, NAME) == 4
        position, rows = tracking(container), table(container)
        assert position == [(1, 4)] and rows
        with pytest.raises(SimulatedCrashError):
            crashing.step(conn, NAME)
    # Neither the half-applied rows nor a moved position survived the crash.
    assert tracking(container) == position
    assert table(container) == rows

    # The restarted runner finishes the job: equal to the truth, and to a fresh rebuild.
    container.engine.catch_up(NAME)
    incremental = table(container)
    assert incremental == expected_table(container)
    assert tracking(container) == [(1, container.core_log.head())]
    assert container.rebuilds.rebuild(NAME) == 2
    assert table(container) == incremental


def test_a_runner_killed_mid_page_resumes_where_it_committed(container: Container) -> None:
    seed(container, 6)
    runner = ProjectionRunner(engine_for(container, CrashingAccounts(crash_on=2), 4), 0.05)
    runner.start()
    try:
        assert eventually(lambda: NAME in runner.errors)
    finally:
        runner.stop()
    assert "killed mid-page" in runner.errors[NAME]
    assert tracking(container) == [(1, 4)]  # the first page only, applied exactly once

    runner = ProjectionRunner(engine_for(container, AccountsProjection(), 4), 0.05)
    runner.start()
    try:
        head = container.core_log.head()
        assert wait_for_position(ProjectionStatus(runner.engine), [NAME], head, timeout=10)
    finally:
        runner.stop()
    assert table(container) == expected_table(container)


COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["create", "disable", "enable", "role", "login", "bad-login"]),
        st.sampled_from(["ann", "bob", "cat"]),
        st.sampled_from([Role.VIEWER, Role.PROVINCE_AGENT, Role.AUDITOR]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=5)
@given(commands=COMMANDS, page=st.integers(min_value=1, max_value=5))
def test_rebuild_equals_the_incremental_table(
    container: Container, commands: list[tuple[str, str, Role]], page: int
) -> None:
    """Whatever happened, tiny incremental pages and a rebuild agree (with the aggregates)."""
    access = container.access
    if not table(container):
        create(access, "root", Role.SUPER_ADMIN)
    admin = principal_of(container.core.repository.get(account_id_for("root")))
    for command, username, role in commands:
        target = account_id_for(username)
        try:
            if command == "create":
                create(access, username, role, province="GD")
            elif command == "disable":
                access.disable(admin, target, None)
            elif command == "enable":
                access.enable(admin, target)
            elif command == "role":
                access.change_role(admin, target, role, "BJ", None)
            elif command == "login":
                access.login(username, PASSWORD)
            else:
                access.login(username, "wrong-password")
        except (DomainError, RateLimitedError):
            pass  # refused commands store nothing; that is part of the history too
    engine_for(container, AccountsProjection(), page).catch_up(NAME)
    incremental = table(container)
    assert incremental == expected_table(container)
    container.rebuilds.rebuild(NAME)
    assert table(container) == incremental


# ---------------------------------------------------------------- rebuilds
def test_an_interrupted_rebuild_resumes_and_restart_starts_over(container: Container) -> None:
    seed(container, 8)
    container.engine.catch_up(NAME)
    served = table(container)
    head = container.core_log.head()

    with pytest.raises(SimulatedCrashError):
        Rebuilds(engine_for(container, CrashingAccounts(crash_on=3), 3)).rebuild(NAME, page_size=3)
    # Two pages of generation 2 were kept; the old generation still serves.
    assert tracking(container) == [(1, head), (2, 6)]
    assert active_generation(container) == 1
    assert table(container) == served
    status = {s.name: s for s in container.projection_status.status()}[NAME]
    assert (status.building_generation, status.building_position) == (2, 6)

    progress: list[tuple[int, int]] = []
    generation = container.rebuilds.rebuild(
        NAME, page_size=3, progress=lambda *p: progress.append(p)
    )
    assert generation == 2
    assert progress[0] == (6, head)  # resumed, not started over
    assert progress[-1] == (head, head)
    assert active_generation(container) == 2
    assert tracking(container) == [(2, head)]
    assert not schema_exists(container, "proj_accounts_g1")
    assert table(container) == served

    with pytest.raises(SimulatedCrashError):
        Rebuilds(engine_for(container, CrashingAccounts(crash_on=2), 3)).rebuild(NAME, page_size=3)
    assert tracking(container) == [(2, head), (3, 3)]
    progress.clear()
    generation = container.rebuilds.rebuild(
        NAME, restart=True, page_size=3, progress=lambda *p: progress.append(p)
    )
    assert generation == 4
    assert progress[0] == (0, head)  # started over
    assert not schema_exists(container, "proj_accounts_g3")
    assert tracking(container) == [(4, head)]
    assert table(container) == served


def test_rebuild_picks_up_events_stored_while_it_ran(container: Container) -> None:
    seed(container, 3)
    container.engine.catch_up(NAME)

    def write_during_progress(done: int, total: int) -> None:
        if done == 3 and not table_has(container, "late"):
            create(container.access, "late")  # stored after the rebuild read its head

    container.rebuilds.rebuild(NAME, page_size=3, progress=write_during_progress)
    assert table_has(container, "late")
    assert table(container) == expected_table(container)


def test_rebuild_while_the_live_runner_and_writers_run(container: Container) -> None:
    """Blue/green: the old generation keeps serving and following; nothing is lost in the swap."""
    seed(container, 3)
    runner = ProjectionRunner(engine_for(container, AccountsProjection(), 3), poll_seconds=0.05)
    runner.start()

    def write() -> None:
        for i in range(12):
            create(container.access, f"live{i:02d}")

    writer = threading.Thread(target=write)
    try:
        writer.start()
        generation = container.rebuilds.rebuild(NAME, page_size=2)
        writer.join(timeout=30)
        assert wait_for_position(
            ProjectionStatus(runner.engine), [NAME], container.core_log.head(), timeout=10
        )
    finally:
        runner.stop()
    assert generation == 2 and active_generation(container) == 2
    assert table(container) == expected_table(container)
    assert len(table(container)) == 4 + 12


def table_has(container: Container, username: str) -> bool:
    with psycopg.connect(container.conninfo) as conn:
        return bool(
            conn.execute("SELECT 1 FROM rm.accounts WHERE username = %s", (username,)).fetchone()
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
    assert container.waiter.wait([NAME], head)
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
