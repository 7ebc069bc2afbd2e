"""A failing projection on PostgreSQL is loud and does not spin: it backs off, logs each error
once, is on record for every process, leaves the others alone, and recovers by itself."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import psycopg
import pytest
from psycopg import Cursor

from domain.access.permissions import Role
from domain.subscribers.subscriber import subscriber_id_for
from infra.bootstrap import Container
from projections.access import AccountsProjection
from projections.runtime.base import Projection, RecordedEvent
from projections.runtime.engine import ProjectionEngine
from projections.runtime.failures import MAX_ERROR_CHARS, record_failure
from projections.runtime.runner import ProjectionRunner
from projections.runtime.status import ProjectionState, ProjectionStatus, failing_longer_than
from projections.subscribers import SubscribersProjection
from tests.helpers import PASSWORD, seed_accounts

RUNNER_LOG = "projections.runtime.runner"
GD = "13800138000"


class PoisonedAccounts(AccountsProjection):
    """Raises on every page until healed (the cause of the failure going away)."""

    def __init__(self) -> None:
        self.poisoned = True
        self.attempts = 0

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        self.attempts += 1
        if self.poisoned:
            # A NUL and a long text: the record of the failure must still be storable.
            raise RuntimeError("cannot apply\x00 " + "x" * 2000)
        super().apply(cur, schema, events)


def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def engine_of(container: Container, *projections: Projection) -> ProjectionEngine:
    return ProjectionEngine(container.conninfo, list(projections), container.engine.sources)


def state(engine: ProjectionEngine, name: str) -> ProjectionState:
    return next(s for s in ProjectionStatus(engine).status() if s.name == name)


def failing_longer_than_(container: Container, seconds: float) -> list[str]:
    with psycopg.connect(container.conninfo) as conn, conn.cursor() as cur:
        return failing_longer_than(cur, seconds)


def create_account(container: Container, username: str) -> None:
    container.access.create_account(
        None,
        username=username,
        display_name=username.title(),
        role=Role.VIEWER,
        province=None,
        initial_password=PASSWORD,
    )


def failure_logs(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == RUNNER_LOG
        and r.levelno >= logging.ERROR
        and r.getMessage().startswith(f"projection {name} failed")
    ]


def write_poison_freeze(container: Container, msisdn: str) -> None:
    """A MailboxFrozen event whose reason PostgreSQL text cannot hold, written past the
    command's checks (as one was, before reasons were checked for control characters)."""
    subscriber_id = subscriber_id_for(msisdn)
    subscriber = container.core.repository.get(subscriber_id)
    meta = next(iter(container.core.events.get(subscriber_id))).meta
    now = datetime.now(UTC)
    subscriber._frozen(reason="a\x00b", at=now, meta=meta, timestamp=now)
    container.core.save(subscriber)


def test_a_poison_event_fails_its_projection_loudly_and_the_others_keep_up(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    staff = seed_accounts(container)
    container.subscribers.register(staff["admin"], GD, "GD", "FREE")
    write_poison_freeze(container, GD)
    create_account(container, "after.poison")  # the accounts projection has more to do
    engine = engine_of(container, SubscribersProjection(), AccountsProjection())
    caplog.set_level(logging.INFO, logger=RUNNER_LOG)
    runner = ProjectionRunner(engine, poll_seconds=0.05, max_retry_seconds=0.4)
    runner.start()
    try:
        assert eventually(lambda: state(engine, "subscribers").failing)
        head = container.core_log.head()
        assert eventually(lambda: state(engine, "accounts").position == head)
        time.sleep(1.0)  # a few retries
        subscribers, accounts = state(engine, "subscribers"), state(engine, "accounts")
        failure = runner.failures["subscribers"]
    finally:
        runner.stop()

    assert subscribers.last_error is not None and "NUL" in subscribers.last_error
    assert subscribers.lag > 0  # stuck before the poison, and it says so
    assert not accounts.failing and accounts.lag == 0 and accounts.last_error is None
    assert "accounts" not in runner.failures
    assert failure.count >= 2 and failure.error == subscribers.last_error
    assert len(failure_logs(caplog, "subscribers")) == 1  # once, not once per retry
    assert failing_longer_than_(container, 0) == ["subscribers"]
    assert failing_longer_than_(container, 3600) == []


def test_a_failing_leader_backs_off_keeps_its_lead_and_recovers_when_the_cause_goes_away(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    seed_accounts(container)
    first, second = PoisonedAccounts(), PoisonedAccounts()
    engines = [engine_of(container, first), engine_of(container, second)]
    runners = [ProjectionRunner(e, poll_seconds=0.05, max_retry_seconds=0.4) for e in engines]
    caplog.set_level(logging.INFO, logger=RUNNER_LOG)
    for runner in runners:
        runner.start()
    try:
        assert eventually(lambda: first.attempts + second.attempts >= 4)
        since = state(engines[0], "accounts").failing_since
        leaders = [r for r in runners if "accounts" in r.leading]
        before = first.attempts + second.attempts
        time.sleep(2.0)
        attempts = first.attempts + second.attempts - before
        failing = state(engines[0], "accounts")
        # The same process leads: the other stood by rather than retrying too.
        assert [r for r in runners if "accounts" in r.leading] == leaders and len(leaders) == 1
        assert 0 in (first.attempts, second.attempts)
        failure = leaders[0].failures["accounts"]

        first.poisoned = second.poisoned = False
        assert eventually(lambda: not state(engines[0], "accounts").failing)
        recovered = state(engines[0], "accounts")
        assert eventually(lambda: not leaders[0].failures)
    finally:
        for runner in runners:
            runner.stop()

    # Polling every 0.05 s would have tried 40 times; doubling up to 0.4 s, a handful.
    assert 1 <= attempts <= 10, attempts
    assert failing.failing and failing.failing_since == since  # kept from the first failure
    assert failing.last_error is not None
    assert failing.last_error.startswith("RuntimeError: cannot apply\\x00 xxx")
    assert len(failing.last_error) == MAX_ERROR_CHARS
    assert failure.count >= 4 and failure.error == failing.last_error
    assert failure.since_wall.tzinfo is not None
    assert len(failure_logs(caplog, "accounts")) == 1
    assert any("projection accounts recovered" in r.getMessage() for r in caplog.records)

    assert recovered.failing_since is None and recovered.last_error is None
    assert recovered.lag == 0
    assert failing_longer_than_(container, 0) == []


class UnbuildableAccountsV2(AccountsProjection):
    """A version 2 that applies to the serving tables but not to a rebuild's."""

    version: ClassVar[int] = 2

    def __init__(self) -> None:
        self.rebuild_attempts = 0

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        if schema != "proj_accounts_g1":
            self.rebuild_attempts += 1
            raise RuntimeError("version 2 cannot build this")
        super().apply(cur, schema, events)


def test_a_failing_background_rebuild_backs_off_too(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    seed_accounts(container)
    container.engine.catch_up("accounts")
    v2 = UnbuildableAccountsV2()
    engine = engine_of(container, v2)
    caplog.set_level(logging.INFO, logger=RUNNER_LOG)
    # Rebuilds retry after 10 polls (0.1 s here), doubling up to 0.4 s.
    runner = ProjectionRunner(engine, poll_seconds=0.01, max_retry_seconds=0.4)
    runner.start()
    try:
        assert eventually(lambda: v2.rebuild_attempts >= 3)
        before = v2.rebuild_attempts
        time.sleep(3.0)
        attempts = v2.rebuild_attempts - before
        live = state(engine, "accounts")
    finally:
        runner.stop()
    assert 1 <= attempts <= 9, attempts  # every 0.1 s (and the rebuild's own time): 20
    assert runner.rebuild_tracker.failures["accounts"].count >= 4
    assert runner.errors["accounts (rebuild)"] == "RuntimeError: version 2 cannot build this"
    logged = [r for r in caplog.records if "rebuild to its new version failed" in r.getMessage()]
    assert len(logged) == 1
    # The live tables serve and follow meanwhile: not failing.
    assert not live.failing and live.lag == 0 and live.rebuild_needed


def test_a_failure_another_leader_left_on_record_is_cleared_by_the_next_good_step(
    container: Container,
) -> None:
    seed_accounts(container)
    engine = engine_of(container, AccountsProjection())
    with engine.connect() as conn:
        record_failure(conn, "accounts", "RuntimeError: from a process that has gone")
    assert state(engine, "accounts").failing
    runner = ProjectionRunner(engine, poll_seconds=0.05)
    runner.start()
    try:
        assert eventually(lambda: not state(engine, "accounts").failing)
    finally:
        runner.stop()
    assert state(engine, "accounts").last_error is None


def test_the_schema_step_adds_the_failure_record_to_a_database_from_before_it(
    container: Container,
) -> None:
    with psycopg.connect(container.conninfo) as conn:
        conn.execute("ALTER TABLE projection_registry DROP COLUMN failing_since")
        conn.execute("ALTER TABLE projection_registry DROP COLUMN last_error")
    container.upgrade()
    container.upgrade()
    states = container.projection_status.status()
    assert states and not any(s.failing or s.last_error for s in states)
    assert failing_longer_than_(container, 0) == []


def test_the_cli_status_shows_a_failing_projection_and_its_last_error(
    container: Container, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app

    monkeypatch.setenv("SPOA_DATABASE_URL", database_url)
    monkeypatch.setenv("SPOA_SECRET_KEY", "cli-test-secret-0123456789abcdef")
    monkeypatch.setenv("SPOA_LOG_JSON", "false")
    monkeypatch.setenv("COLUMNS", "400")
    with container.engine.connect() as conn:
        record_failure(conn, "accounts", "DataError: no NUL in [text]")
    result = CliRunner().invoke(app, ["projections", "status"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "accounts" in line]
    assert len(lines) == 1 and "DataError: no NUL in [text]" in lines[0], result.output
    assert "since " in lines[0]
