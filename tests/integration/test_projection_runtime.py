"""The projection runtime on PostgreSQL: exactly-once pages and blue/green rebuilds."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.access.service import principal_of
from application.ports import RateLimitedError
from domain.access.account import account_id_for
from domain.access.permissions import Role
from domain.shared import DomainError
from infra.bootstrap import Container
from projections.access import AccountsProjection
from projections.runtime.rebuild import Rebuilds
from projections.runtime.runner import ProjectionRunner, wait_for_position
from projections.runtime.status import ProjectionStatus
from tests.integration.projection_world import (
    NAME,
    PASSWORD,
    CrashingAccounts,
    SimulatedCrashError,
    active_generation,
    create,
    engine_for,
    eventually,
    expected_table,
    schema_exists,
    seed,
    table,
    table_has,
    tracking,
)


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
