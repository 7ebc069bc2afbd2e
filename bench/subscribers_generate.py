"""Generate N subscribers with realistic change histories into a SPOA database.

    .venv/bin/python bench/subscribers_generate.py --count 10000
    .venv/bin/python bench/subscribers_generate.py --count 100000 --database-url postgresql://...

Without --database-url a fresh database `spoa_bench_<random>` is created on
SPOA_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres) and its URL printed.
Histories are SubscriberService commands (every rule holds), one transaction each, spread over
--days of the past, made by province agents, second-line staff and the platform (freezes).
Later performance work (history queries, statistics, projections rebuilds) starts from here.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from application.access.service import principal_of
from demo.subscribers import HistoryGenerator, Staff, generate_histories
from domain.access.account import account_id_for
from domain.access.permissions import Role
from infra.bootstrap import Container
from infra.database import ConnectionParams
from infra.settings import Settings

SERVER = os.environ.get("SPOA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_PASSWORD = "bench-password-1"
BENCH_ACCOUNTS: list[tuple[str, Role, str | None]] = [
    ("bench.admin", Role.SUPER_ADMIN, None),
    ("bench.second", Role.SECOND_LINE_AGENT, None),
    ("bench.gd", Role.PROVINCE_AGENT, "GD"),
    ("bench.bj", Role.PROVINCE_AGENT, "BJ"),
    ("bench.platform", Role.INTEGRATION, None),
]


def fresh_database(server: str = SERVER) -> str:
    name = f"spoa_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return psycopg.conninfo.make_conninfo(ConnectionParams.from_url(server).conninfo(), dbname=name)


def drop_database(url: str, server: str = SERVER) -> None:
    name = ConnectionParams.from_url(url).dbname
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "dev_mode": True,
        "secret_key": "bench-secret-key-0123456789abcdef",
        "log_json": False,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


def bench_container(url: str) -> Container:
    container = Container(bench_settings(url), url)
    container.upgrade()
    return container


def ensure_accounts(container: Container) -> dict[str, Any]:
    principals = {}
    for username, role, province in BENCH_ACCOUNTS:
        account = container.access.actor_account(account_id_for(username))
        if account is None:
            account = container.access.create_account(
                None,
                username=username,
                display_name=username,
                role=role,
                province=province,
                initial_password=BENCH_PASSWORD,
            ).account
        principals[username] = principal_of(account)
    return principals


def generate(
    container: Container, count: int, days: int, seed: int, quiet: bool = False
) -> list[str]:
    principals = ensure_accounts(container)
    staff = Staff(
        second_line=[principals["bench.second"], principals["bench.admin"]],
        platform=principals["bench.platform"],
        province_agents={"GD": principals["bench.gd"], "BJ": principals["bench.bj"]},
    )
    now = datetime.now(UTC)
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if quiet or time.perf_counter() - last[0] < 2:
            return
        last[0] = time.perf_counter()
        print(f"  {done:,}/{total:,} steps", flush=True)

    numbers = generate_histories(
        HistoryGenerator(container.subscribers, staff, seed),
        count=count,
        start=now - timedelta(days=days),
        end=now - timedelta(minutes=1),
        progress=progress,
    )
    elapsed = time.perf_counter() - started
    events = container.core_log.head()
    if not quiet:
        print(
            f"generated {len(numbers):,} subscribers, core head at {events:,} events,"
            f" in {elapsed:.1f}s ({events / max(elapsed, 1e-9):,.0f} events/s)"
        )
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=139)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--catch-up", action="store_true", help="apply every projection after")
    args = parser.parse_args()
    url = args.database_url or fresh_database()
    print(f"database: {url}")
    container = bench_container(url)
    try:
        generate(container, args.count, args.days, args.seed)
        if args.catch_up:
            started = time.perf_counter()
            container.engine.catch_up_all()
            print(f"projections caught up in {time.perf_counter() - started:.1f}s")
    finally:
        container.close()


if __name__ == "__main__":
    main()
