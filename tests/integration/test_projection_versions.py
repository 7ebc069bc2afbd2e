"""Projection versions on PostgreSQL: a projection whose code is newer than its serving tables is
rebuilt blue/green into a new generation and swapped in, once, by the runner's leader.

The accounts read model is the subject; test-only subclasses with a bumped `version` stand in
for a release that changed its tables (their DDL leaves a mark, a table comment, so the test
can tell which code built the tables that serve).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import psycopg
import pytest
from psycopg import Cursor, sql

from infra.bootstrap import Container
from infra.schema import upgrade
from projections.access import AccountsProjection
from projections.runtime.base import RecordedEvent
from projections.runtime.engine import ProjectionEngine
from projections.runtime.rebuild import Rebuilds
from projections.runtime.registry import ProjectionVersionError
from projections.runtime.runner import ProjectionRunner, wait_for_position
from projections.runtime.status import ProjectionStatus
from tests.integration.projection_world import (
    NAME,
    CrashingAccounts,
    SimulatedCrashError,
    create,
    eventually,
    expected_table,
    schema_exists,
    seed,
    table,
    table_has,
    tracking,
)


class AccountsV2(AccountsProjection):
    """The accounts read model as a later release ships it: version 2, its tables marked."""

    version: ClassVar[int] = 2

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        super().create_tables(cur, schema)
        cur.execute(sql.SQL("COMMENT ON TABLE {}.accounts IS 'v2'").format(sql.Identifier(schema)))


class SlowAccountsV2(AccountsV2):
    """Version 2 whose pages take a while outside the serving generation (a big rebuild)."""

    def __init__(self, pause: float = 0.3) -> None:
        self.pause = pause

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        if schema != "proj_accounts_g1":
            time.sleep(self.pause)
        super().apply(cur, schema, events)


class PagedSlowAccountsV2(SlowAccountsV2):
    """Slow version 2 in pages of two events, rebuilds included (a rebuild stopped half-way)."""

    page_size: ClassVar[int | None] = 2


def engine_with(container: Container, projection: AccountsProjection) -> ProjectionEngine:
    return ProjectionEngine(container.conninfo, [projection], container.engine.sources, 50)


def schema_step(container: Container, engine: ProjectionEngine) -> None:
    """What `spoa db upgrade` (every start) does for the projections, under the schema lock."""
    upgrade(container.conninfo, [], [], engine)


def registry(container: Container) -> tuple[int, int]:
    """(active generation, registered version) of the accounts projection."""
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute(
            "SELECT active_generation, version FROM projection_registry WHERE name = %s", (NAME,)
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def served_from(container: Container) -> tuple[str, str | None]:
    """The schema rm.accounts reads, and the comment on the table there."""
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute(
            "SELECT u.table_schema, obj_description("
            "   format('%I.%I', u.table_schema, u.table_name)::regclass, 'pg_class')"
            " FROM information_schema.view_table_usage u"
            " WHERE u.view_schema = 'rm' AND u.view_name = 'accounts'"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def tracking_versions(container: Container) -> list[tuple[int, int]]:
    with psycopg.connect(container.conninfo) as conn:
        rows = conn.execute(
            "SELECT generation, version FROM projection_tracking WHERE name = %s"
            " ORDER BY generation",
            (NAME,),
        ).fetchall()
    return [(int(g), int(v)) for g, v in rows]


@pytest.fixture
def served_v1(container: Container) -> list[tuple[Any, ...]]:
    """Accounts projected by version 1 (what the database holds before the release)."""
    seed(container, 6)
    container.engine.catch_up(NAME)
    assert registry(container) == (1, 1)
    return table(container)


# ---------------------------------------------------------------- the schema step
def test_the_schema_step_adds_versions_to_a_database_from_before_them(
    container: Container,
) -> None:
    seed(container, 3)
    container.engine.catch_up(NAME)
    with psycopg.connect(container.conninfo) as conn:
        conn.execute("ALTER TABLE projection_registry DROP COLUMN version")
        conn.execute("ALTER TABLE projection_tracking DROP COLUMN version")
    container.upgrade()
    container.upgrade()
    with psycopg.connect(container.conninfo) as conn:
        versions = conn.execute("SELECT DISTINCT version FROM projection_registry").fetchall()
    assert versions == [(1,)]  # everything before versions was built by version 1
    assert tracking_versions(container) == [(1, 1)]
    # ... so exactly the projections whose code is past version 1 are due a rebuild.
    outdated = {s.name for s in container.projection_status.status() if s.rebuild_needed}
    assert outdated == {p.name for p in container.engine.projections.values() if p.version > 1}
    assert NAME not in outdated
    container.engine.catch_up(NAME)
    assert table(container) == expected_table(container)


def test_the_schema_step_only_records_that_a_rebuild_is_needed(
    container: Container, served_v1: list[tuple[Any, ...]]
) -> None:
    v2 = engine_with(container, AccountsV2())
    schema_step(container, v2)
    schema_step(container, v2)
    # Nothing was built at start-up: version 1's tables keep serving.
    assert registry(container) == (1, 1)
    assert tracking(container) == [(1, container.core_log.head())]
    assert not schema_exists(container, "proj_accounts_g2")
    (state,) = ProjectionStatus(v2).status()
    assert (state.version, state.code_version, state.rebuild_needed) == (1, 2, True)
    assert not v2.needs_rebuild(NAME)  # this process has not stepped it yet

    # The new code keeps following on the old tables meanwhile, and learns it is outdated.
    create(container.access, "meanwhile")
    v2.catch_up(NAME)
    assert table_has(container, "meanwhile")
    assert v2.needs_rebuild(NAME)
    assert served_from(container) == ("proj_accounts_g1", None)


# ---------------------------------------------------------------- the runner's leader
def test_the_runner_rebuilds_a_new_version_and_serves_it(
    container: Container, served_v1: list[tuple[Any, ...]]
) -> None:
    v2 = engine_with(container, AccountsV2())
    schema_step(container, v2)
    runner = ProjectionRunner(v2, poll_seconds=0.05)
    runner.start()
    try:
        assert eventually(lambda: registry(container) == (2, 2))
        create(container.access, "after.swap")
        assert wait_for_position(
            ProjectionStatus(v2), [NAME], container.core_log.head(), timeout=10
        )
    finally:
        runner.stop()
    assert runner.rebuilt == {NAME: 2}
    assert served_from(container) == ("proj_accounts_g2", "v2")
    assert tracking_versions(container) == [(2, 2)]
    assert not schema_exists(container, "proj_accounts_g1")
    # The new generation holds what a fresh apply of every event gives.
    assert table(container) == expected_table(container)
    assert [r for r in table(container) if r[1] != "after.swap"] == served_v1
    (state,) = ProjectionStatus(v2).status()
    assert (state.generation, state.version, state.rebuild_needed) == (2, 2, False)


def test_the_old_version_serves_and_follows_while_the_new_one_builds(
    container: Container, served_v1: list[tuple[Any, ...]]
) -> None:
    v2 = engine_with(container, SlowAccountsV2(pause=1.0))
    runner = ProjectionRunner(v2, poll_seconds=0.05)
    runner.start()
    try:
        assert eventually(lambda: len(tracking(container)) == 2)  # generation 2 is building
        create(container.access, "during.rebuild")
        # The live leader applied it to the old generation, which still serves.
        assert eventually(lambda: table_has(container, "during.rebuild"), timeout=0.8)
        assert registry(container) == (1, 1)
        assert eventually(lambda: registry(container) == (2, 2), timeout=30)
        assert wait_for_position(
            ProjectionStatus(v2), [NAME], container.core_log.head(), timeout=10
        )
    finally:
        runner.stop()
    assert served_from(container) == ("proj_accounts_g2", "v2")
    assert table(container) == expected_table(container)


def test_an_unchanged_version_triggers_nothing(
    container: Container, served_v1: list[tuple[Any, ...]]
) -> None:
    v1 = engine_with(container, AccountsProjection())
    schema_step(container, v1)
    runner = ProjectionRunner(v1, poll_seconds=0.05)
    runner.start()
    try:
        assert eventually(lambda: NAME in runner.leading)
        create(container.access, "same.version")
        assert wait_for_position(
            ProjectionStatus(v1), [NAME], container.core_log.head(), timeout=10
        )
        time.sleep(0.3)  # several steps
    finally:
        runner.stop()
    assert Rebuilds(v1).rebuild_if_outdated(NAME) is None
    assert runner.rebuilt == {}
    assert registry(container) == (1, 1)
    assert tracking(container) == [(1, container.core_log.head())]
    assert not schema_exists(container, "proj_accounts_g2")
    assert served_from(container) == ("proj_accounts_g1", None)


def test_processes_asking_at_once_build_the_new_version_once(
    container: Container, served_v1: list[tuple[Any, ...]]
) -> None:
    engines = [engine_with(container, SlowAccountsV2()) for _ in range(3)]
    barrier = threading.Barrier(len(engines))
    results: list[int | None] = []
    errors: list[BaseException] = []

    def run(engine: ProjectionEngine) -> None:
        try:
            barrier.wait(timeout=10)
            schema_step(container, engine)
            results.append(Rebuilds(engine).rebuild_if_outdated(NAME))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results, key=str) == [2, None, None]
    assert registry(container) == (2, 2)
    assert tracking_versions(container) == [(2, 2)]
    assert not schema_exists(container, "proj_accounts_g3")
    # Once current, asking again builds nothing.
    assert Rebuilds(engines[0]).rebuild_if_outdated(NAME) is None
    assert registry(container) == (2, 2)
    assert table(container) == served_v1


def test_two_runners_build_the_new_version_once(
    container: Container, served_v1: list[tuple[Any, ...]]
) -> None:
    a = ProjectionRunner(engine_with(container, SlowAccountsV2(0.1)), poll_seconds=0.05)
    b = ProjectionRunner(engine_with(container, SlowAccountsV2(0.1)), poll_seconds=0.05)
    a.start()
    b.start()
    try:
        assert eventually(lambda: registry(container) == (2, 2), timeout=30)
        time.sleep(0.5)  # the standby (or a late leader) must not build again
    finally:
        a.stop()
        b.stop()
    assert {**a.rebuilt, **b.rebuilt} == {NAME: 2}
    assert len(a.rebuilt) + len(b.rebuilt) == 1
    assert tracking_versions(container) == [(2, 2)]
    assert table(container) == served_v1


def test_a_rebuild_stopped_with_its_runner_resumes_on_the_next_start(
    container: Container, served_v1: list[tuple[Any, ...]]
) -> None:
    runner = ProjectionRunner(engine_with(container, PagedSlowAccountsV2(0.2)), poll_seconds=0.05)
    runner.start()
    try:
        assert eventually(lambda: len(tracking(container)) == 2 and tracking(container)[1][1] > 0)
    finally:
        runner.stop()
    (_, building) = tracking(container)
    assert building[0] == 2 and 0 < building[1] < container.core_log.head()
    assert registry(container) == (1, 1)

    progress: list[tuple[int, int]] = []
    v2 = engine_with(container, AccountsV2())
    assert Rebuilds(v2).rebuild_if_outdated(NAME, progress=lambda *p: progress.append(p)) == 2
    assert progress[0][0] == building[1]  # resumed, not started over
    assert registry(container) == (2, 2)
    assert table(container) == served_v1


def test_an_interrupted_rebuild_by_the_old_version_is_started_over_by_the_new(
    container: Container, served_v1: list[tuple[Any, ...]]
) -> None:
    with pytest.raises(SimulatedCrashError):
        Rebuilds(engine_with(container, CrashingAccounts(crash_on=2))).rebuild(NAME, page_size=3)
    assert tracking_versions(container) == [(1, 1), (2, 1)]

    progress: list[tuple[int, int]] = []
    v2 = engine_with(container, AccountsV2())
    assert Rebuilds(v2).rebuild_if_outdated(NAME, progress=lambda *p: progress.append(p)) == 3
    assert progress[0][0] == 0  # the old code's pages were not kept
    assert registry(container) == (3, 2)
    assert tracking_versions(container) == [(3, 2)]
    assert not schema_exists(container, "proj_accounts_g2")
    assert served_from(container) == ("proj_accounts_g3", "v2")
    assert table(container) == served_v1


# ---------------------------------------------------------------- older code
def test_older_code_neither_applies_to_newer_tables_nor_downgrades_them(
    container: Container, served_v1: list[tuple[Any, ...]]
) -> None:
    assert Rebuilds(engine_with(container, AccountsV2())).rebuild_if_outdated(NAME) == 2
    create(container.access, "written.later")
    position = tracking(container)

    v1 = engine_with(container, AccountsProjection())
    with v1.connect() as conn, pytest.raises(ProjectionVersionError):
        v1.step(conn, NAME)
    assert tracking(container) == position
    assert Rebuilds(v1).rebuild_if_outdated(NAME) is None
    (state,) = ProjectionStatus(v1).status()
    assert (state.version, state.code_version, state.rebuild_needed) == (2, 1, False)

    runner = ProjectionRunner(v1, poll_seconds=0.05)
    runner.start()
    try:
        assert eventually(lambda: "newer than this code" in runner.errors.get(NAME, ""))
    finally:
        runner.stop()
    assert tracking(container) == position and runner.rebuilt == {}
    assert not table_has(container, "written.later")

    # An explicit rebuild by the older code is the way back (a deliberate downgrade).
    assert Rebuilds(v1).rebuild(NAME) == 3
    assert registry(container) == (3, 1)
    assert served_from(container) == ("proj_accounts_g3", None)
    assert table(container) == expected_table(container)


# ---------------------------------------------------------------- the CLI
def test_the_cli_shows_the_version_and_a_needed_rebuild(
    container: Container, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app

    monkeypatch.setenv("SPOA_DATABASE_URL", database_url)
    monkeypatch.setenv("SPOA_SECRET_KEY", "cli-test-secret-0123456789abcdef")
    monkeypatch.setenv("SPOA_LOG_JSON", "false")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(AccountsProjection, "version", 2)
    cli = CliRunner()

    result = cli.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "accounts: tables are version 1, the code's is 2: rebuild needed" in result.output
    result = cli.invoke(app, ["projections", "status"])
    assert result.exit_code == 0, result.output
    assert "1 → 2: rebuild needed" in result.output

    result = cli.invoke(app, ["projections", "rebuild", "accounts"])
    assert result.exit_code == 0, result.output
    assert registry(container) == (2, 2)
    result = cli.invoke(app, ["projections", "status"])
    assert "rebuild needed" not in result.output
    result = cli.invoke(app, ["db", "upgrade"])
    assert "rebuild needed" not in result.output
