"""FAQ search latency (p50/p99) over 10,000 FAQs, Chinese and English queries. Prints figures.

    .venv/bin/python bench/faq_search.py                      # 10,000 FAQs, 30 rounds
    .venv/bin/python bench/faq_search.py --faqs 50000 --rounds 10 --keep

Creates a fresh database on SPOA_BENCH_PG_URL (default: the machine's PostgreSQL at
postgresql://postgres@127.0.0.1:5432/postgres), or uses --database-url. FAQs are generated
from the seed's topics (passwords, unfreezing, arrival notification, the 10658139 blacklist,
plans, login reminders, POP/IMAP, bill delivery ...), about 60 % Chinese and 40 % English,
saved through the domain in batches and indexed by the real projection. Each query runs
through KnowledgeService.search (parse, SQL with ranking and count, highlighting), first 20
hits, as the GraphQL resolver calls it; HTTP and JSON are not included. Target: p99 <= 50 ms.
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from typing import Any

import psycopg

from application.access.service import principal_of
from application.unit_of_work import save
from domain.access.permissions import Role
from domain.knowledge.faq import Faq, FaqContent
from infra.bootstrap import Container
from infra.database import ConnectionParams
from infra.settings import Settings

SERVER = os.environ.get("SPOA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

ZH_TOPICS = [
    ("密码", ["如何修改邮箱密码", "忘记密码怎么办", "密码连续输错被锁定", "客户端提示密码错误"]),
    ("解冻", ["如何解冻被冻结的邮箱", "邮箱为什么被冻结", "欠费冻结后如何恢复"]),
    ("到达通知", ["如何设置邮件到达通知", "收不到到达通知短信", "到达通知时段设置"]),
    ("黑名单", ["10658139 短信黑名单级别", "如何拒收营销短信", "全部拒收后的影响"]),
    ("套餐", ["如何变更邮箱套餐", "套餐变更生效时间", "各套餐月费说明"]),
    ("登录提醒", ["如何开通登录提醒", "关闭登录短信提醒", "异地登录提醒说明"]),
    ("客户端", ["Outlook 中设置 POP3", "手机客户端设置 IMAP", "SMTP 发信失败"]),
    ("账单", ["订阅话费账单投递", "本月没有收到账单邮件", "退订话费账单投递"]),
    ("别名", ["如何设置邮箱别名", "别名已被占用怎么办"]),
    ("积分", ["邮箱积分如何获得", "积分等级说明"]),
]
ZH_SENTENCES = [
    "客服核实机主身份后可在 SPOA 代客设置中办理。",
    "修改后系统会向用户手机发送短信提醒。",
    "如问题仍未解决，请提交工单给二线支持并写明手机号和时间。",
    "可在客户历史记录中查询相关的短信记录和扣费记录。",
    "10658139 是 139 邮箱的短信服务号。",
    "升级立即生效，降级次月一日生效。",
    "接收服务器 pop.139.com 端口 110，发送服务器 smtp.139.com 端口 25。",
    "每月五日前后 BOSS 会把上月话费账单投递到邮箱。",
    "冻结期间可以收信，但不能登录和发信。",
    "请提醒用户定期修改密码并开通登录提醒。",
]
EN_TOPICS = [
    (
        "password",
        [
            "How to reset a forgotten password",
            "Password requirements",
            "Locked after wrong passwords",
        ],
    ),
    ("unfreeze", ["Unfreezing a frozen mailbox", "Why mailboxes get frozen"]),
    ("arrival", ["Setting up arrival notifications", "Arrival notification SMS missing"]),
    ("blacklist", ["Blocking marketing SMS from 10658139", "SMS blacklist levels"]),
    ("plan", ["Changing the mailbox plan", "Plan fees and billing"]),
    ("reminder", ["Turning login reminders on", "Login reminder for new devices"]),
    ("client", ["POP3 and IMAP server settings", "Configuring IMAP on phones"]),
    ("bill", ["Monthly phone bill delivery", "Bill email did not arrive"]),
]
EN_SENTENCES = [
    "Verify the owner before changing anything on their behalf.",
    "The change is recorded and the customer receives an SMS from 10658139.",
    "If the problem persists, submit a ticket with the phone number and the time.",
    "Check the SMS records and the charge records in the customer history.",
    "Upgrades apply at once; downgrades on the first day of next month.",
    "POP3 uses pop.139.com port 110 and IMAP uses imap.139.com port 143.",
    "A frozen mailbox still receives mail but cannot log in or send.",
    "Bills are delivered around the fifth day of each month.",
]
ZH_QUERIES = [
    "密码", "郵箱 解凍", "到达通知", "10658139 黑名单", "话费账单", "登录提醒", "套餐变更",
    "锁", "邮箱密码", "套餐生效", "POP3 设置", "别名占用",
]  # fmt: skip
EN_QUERIES = [
    "password", "unfreeze mailbox", "arrival notification", "POP3", "IMAP settings",
    "bill delivery", "blacklist", "login reminder", "plan fees", "10658139", "how do I reset my password",  # noqa: E501
    "p",
]  # fmt: skip


def generate(rng: random.Random, count: int) -> list[FaqContent]:
    faqs = []
    for i in range(count):
        if rng.random() < 0.6:
            keyword, titles = rng.choice(ZH_TOPICS)
            title = f"{rng.choice(titles)}（{i}）"
            body = "".join(rng.choices(ZH_SENTENCES, k=rng.randint(3, 12)))
            category = f"{keyword}类"
        else:
            keyword, titles = rng.choice(EN_TOPICS)
            title = f"{rng.choice(titles)} (#{i})"
            body = " ".join(rng.choices(EN_SENTENCES, k=rng.randint(3, 10)))
            category = keyword.title()
        faqs.append(FaqContent.parse(title=title, body=body, category=category, keywords=[keyword]))
    return faqs


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]


def measure(container: Container, principal: Any, queries: list[str], rounds: int) -> Any:
    for q in queries:  # warm-up: plans cached, pages in shared buffers
        container.knowledge.search(principal, q, None, 20)
    timings: list[float] = []
    per_query: dict[str, list[float]] = {q: [] for q in queries}
    totals: dict[str, int] = {}
    for _ in range(rounds):
        for q in queries:
            started = time.perf_counter()
            page = container.knowledge.search(principal, q, None, 20)
            elapsed = (time.perf_counter() - started) * 1000
            timings.append(elapsed)
            per_query[q].append(elapsed)
            totals[q] = page.total
    return timings, {q: (totals[q], statistics.median(t)) for q, t in per_query.items()}


def report(label: str, timings: list[float]) -> None:
    print(
        f"{label:<8} n={len(timings):5d}  p50={percentile(timings, 0.50):6.2f} ms"
        f"  p95={percentile(timings, 0.95):6.2f} ms  p99={percentile(timings, 0.99):6.2f} ms"
        f"  max={max(timings):6.2f} ms  mean={statistics.fmean(timings):6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faqs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    args = parser.parse_args()

    url, created = args.database_url, False
    if url is None:
        name = f"spoa_bench_faq_{uuid.uuid4().hex[:8]}"
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
        account = container.access.create_account(
            None,
            username=f"bench.kb.{uuid.uuid4().hex[:6]}",
            display_name="Bench",
            role=Role.SECOND_LINE_AGENT,
            province=None,
            initial_password="bench-password-1",
        ).account
        author = principal_of(account)
        print(f"cpus: {os.cpu_count()} (shared); database: {ConnectionParams.from_url(url).dbname}")
        started = time.perf_counter()
        contents = generate(random.Random(139), args.faqs)
        meta = author.meta()
        for start in range(0, len(contents), 250):
            batch = [Faq.create(c, meta) for c in contents[start : start + 250]]
            save(container.core, *batch)
        stored = time.perf_counter()
        container.engine.catch_up("faqs")
        indexed = time.perf_counter()
        with psycopg.connect(container.conninfo, autocommit=True) as conn:
            conn.execute("ANALYZE")
        print(
            f"{args.faqs} FAQs: stored in {stored - started:.1f} s,"
            f" indexed by the projection in {indexed - stored:.1f} s"
        )
        zh, zh_totals = measure(container, author, ZH_QUERIES, args.rounds)
        en, en_totals = measure(container, author, EN_QUERIES, args.rounds)
        print(
            f"search latency, first 20 hits with totalCount and highlights, {args.rounds} rounds:"
        )
        report("Chinese", zh)
        report("English", en)
        report("all", zh + en)
        print("per query: totalCount, median latency")
        for q, (total, median) in {**zh_totals, **en_totals}.items():
            print(f"  {q!r:32} {total:6d} hits  {median:6.2f} ms")
        p99 = percentile(zh + en, 0.99)
        print(f"target p99 <= 50 ms: {'met' if p99 <= 50 else 'NOT met'} (p99 {p99:.2f} ms)")
    finally:
        container.close()
        if created and not args.keep:
            name = ConnectionParams.from_url(url).dbname
            with psycopg.connect(SERVER, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif created:
            print(f"kept database: {url}")


if __name__ == "__main__":
    main()
