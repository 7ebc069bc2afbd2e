"""Ticket list latency (p50/p95/p99) over N tickets: newest page, filters, Chinese text
search, overdue, as an unscoped reader and as a province agent. Prints figures.

    .venv/bin/python bench/ticket_search.py                    # 20,000 tickets, 20 rounds
    .venv/bin/python bench/ticket_search.py --tickets 100000 --rounds 5 --keep

Creates a fresh database on SPOA_BENCH_PG_URL (default: the machine's PostgreSQL at
postgresql://postgres@127.0.0.1:5432/postgres), or uses --database-url. Tickets go through the
domain (drafted, most submitted, many answered, some closed) across 31 provinces over 60
days, saved in batches and listed by the real projection. Each query runs through
TicketQueryService.search (first 50 and the total), as the GraphQL resolver calls it; HTTP
and JSON are not included. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from application.access.service import principal_of
from application.support.ticket_queries import TicketFilter
from application.unit_of_work import save
from domain.access.permissions import Role
from domain.access.provinces import PROVINCES
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import TicketCategory, TicketPriority
from infra.bootstrap import Container
from infra.database import ConnectionParams
from infra.settings import Settings

SERVER = os.environ.get("SPOA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SUBJECTS = ["邮箱", "短信", "彩信", "账单", "套餐", "积分", "别名", "密码", "客户端", "黑名单"]
PROBLEMS = ["无法登录", "通知延迟", "发送失败", "没有收到", "扣费异常", "设置失败", "被冻结"]
DETAILS = [
    "用户反映多次尝试后仍然失败。",
    "已核实机主身份并清除缓存。",
    "POP3 客户端提示超时，网页版正常。",
    "问题从昨天下午开始出现。",
    "用户要求尽快回复并补偿。",
    "同一小区多名用户有相同情况。",
]
ANSWERS = ["已扩容短信网关，请观察。", "计费同步延迟，已退费。", "请用户升级客户端后重试。"]
QUERIES = [
    ("newest", TicketFilter()),
    ("status", TicketFilter(statuses=["SUBMITTED", "RESUBMITTED"])),
    ("overdue", TicketFilter(overdue=True)),
    ("text 登录", TicketFilter(text="登录")),
    ("text 2 words", TicketFilter(text="短信 延迟")),
    ("text answer", TicketFilter(text="扩容")),
    ("text rare", TicketFilter(text="补偿")),
    ("text latin", TicketFilter(text="pop3")),
    ("text+status", TicketFilter(text="账单", statuses=["CLOSED"])),
]


def generate(container: Container, count: int, actor: Any, now: datetime) -> None:
    rng = random.Random(139)
    policy = SlaPolicy()
    provinces = list(PROVINCES)
    first, second = actor.meta(), actor.meta()
    batch: list[Any] = []
    serial = 0
    for _ in range(count):
        at = now - timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        content = DraftContent.clean(
            f"{rng.choice(SUBJECTS)}{rng.choice(PROBLEMS)}",
            "".join(rng.choices(DETAILS, k=rng.randint(1, 4))),
            rng.choice(list(TicketCategory)),
            rng.choice(list(TicketPriority)),
            f"13{rng.randint(100000000, 999999999)}",
        )
        ticket = Ticket.draft(province=rng.choice(provinces), content=content, at=at, meta=first)
        roll = rng.random()
        if roll > 0.1:
            serial += 1
            number = f"{ticket.province}-BENCH-{serial:07d}"
            ticket.submit(at=at, sla=policy, allocate_number=lambda n=number: n, meta=first)
        if roll > 0.4:
            ticket.answer(
                body=rng.choice(ANSWERS),
                at=at + timedelta(hours=3),
                calendar=policy.calendar,
                meta=second,
            )
        if roll > 0.7:
            ticket.rate(
                score=rng.randint(1, 5), comment=None, at=at + timedelta(days=1), meta=first
            )
        batch.append(ticket)
        if len(batch) == 250:
            save(container.core, *batch)
            batch = []
    if batch:
        save(container.core, *batch)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    args = parser.parse_args()

    url, created = args.database_url, False
    if url is None:
        name = f"spoa_bench_tickets_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = psycopg.conninfo.make_conninfo(
            ConnectionParams.from_url(SERVER).conninfo(), dbname=name
        )
        created = True
    settings = Settings(
        database_url=url,
        dev_mode=True,
        secret_key="bench-secret-key-0123456789abcdef",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        log_json=False,
    )
    container = Container(settings, url)
    try:
        container.upgrade()
        suffix = uuid.uuid4().hex[:6]
        admin = principal_of(
            container.access.create_account(
                None,
                username=f"bench.admin.{suffix}",
                display_name="Bench",
                role=Role.SUPER_ADMIN,
                province=None,
                initial_password="bench-password-1",
            ).account
        )
        agent = principal_of(
            container.access.create_account(
                None,
                username=f"bench.gd.{suffix}",
                display_name="Bench GD",
                role=Role.PROVINCE_AGENT,
                province="GD",
                initial_password="bench-password-1",
            ).account
        )
        print(f"cpus: {os.cpu_count()} (shared); database: {ConnectionParams.from_url(url).dbname}")
        started = time.perf_counter()
        generate(container, args.tickets, admin, datetime.now(UTC))
        stored = time.perf_counter()
        container.engine.catch_up("tickets")
        listed = time.perf_counter()
        with psycopg.connect(container.conninfo, autocommit=True) as conn:
            conn.execute("ANALYZE")
        print(
            f"{args.tickets} tickets: stored in {stored - started:.1f} s,"
            f" projected in {listed - stored:.1f} s"
        )
        for who, principal in (("admin", admin), ("GD agent", agent)):
            print(f"-- as {who}")
            for label, query in QUERIES:
                container.ticket_queries.search(principal, query, None, 51)  # warm-up
                timings = []
                total = 0
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    _, total = container.ticket_queries.search(principal, query, None, 51)
                    timings.append((time.perf_counter() - t0) * 1000)
                print(
                    f"{label:<14} total={total:6d}  p50={percentile(timings, 0.5):7.2f} ms"
                    f"  p95={percentile(timings, 0.95):7.2f} ms"
                    f"  p99={percentile(timings, 0.99):7.2f} ms"
                    f"  mean={statistics.fmean(timings):7.2f} ms"
                )
    finally:
        container.close()
        if created and not args.keep:
            with psycopg.connect(SERVER, autocommit=True) as admin_conn:
                admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
