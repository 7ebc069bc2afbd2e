"""The projection runtime's test world: the accounts read model as subject, a subclass that
blows up mid-page (a runner killed half-way), and helpers that read its tables."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import Cursor

from application.access.service import AccessService, principal_of
from domain.access.account import account_id_for
from domain.access.permissions import Role
from infra.bootstrap import Container
from projections.access import AccountsProjection
from projections.runtime.base import RecordedEvent
from projections.runtime.engine import ProjectionEngine

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


def table_has(container: Container, username: str) -> bool:
    with psycopg.connect(container.conninfo) as conn:
        return bool(
            conn.execute("SELECT 1 FROM rm.accounts WHERE username = %s", (username,)).fetchone()
        )
