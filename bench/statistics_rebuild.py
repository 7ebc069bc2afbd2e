"""Rebuild throughput of the statistics projection, next to the raw read-and-decode rate.

    .venv/bin/python bench/statistics_rebuild.py                 # 1,000,000 core events
    .venv/bin/python bench/statistics_rebuild.py --events 200000 --keep

A fresh database `spoa_bench_<random>` is created on SPOA_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end (unless --keep).

The core store is filled with a year of realistic history made by the real aggregates (every
rule holds): staff accounts and their logins, subscribers registered and changed by province
agents, second line, admins and the platform (INTEGRATION, not counted), alias claims, tickets
drafted, submitted, answered, resubmitted, rated and archived. Events are encoded with the core
store's eventsourcing mapper and written in bulk with COPY (no per-save round trips), in one
global time order across aggregates, as the live system would have stored them.

Then, on the same database and in this one process:
  raw   read every event in pages (the projection runtime's own query) and decode each through
        eventsourcing's mapper (`Mapper.to_domain_event`), doing nothing else;
  raw*  the same, decoding only the topics the statistics read (what the runtime decodes);
  es    eventsourcing's own reader: `recorder.select_notifications` + the mapper;
  rebuild  `Rebuilds.rebuild("statistics")`: blue/green from position 0, every page
        applied and tracked in its own transaction, then the swap.
Figures are events per second over the whole store. Target: rebuild >= 50,000 events/s and
>= 0.5 x raw. The machine's cores are shared with PostgreSQL (and anything else running), so
figures vary from run to run.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subscribers_generate import bench_container, drop_database, fresh_database

from domain.access.account import Account
from domain.access.permissions import Role
from domain.access.provinces import PROVINCES
from domain.shared import SYSTEM_ACTOR, Actor, ChangeMeta, DomainError
from domain.subscribers.alias_claim import claim_alias
from domain.subscribers.rules import NotificationMode, SmsBlacklistLevel
from domain.subscribers.subscriber import Subscriber
from domain.support.lifecycle import TicketState
from domain.support.sla import SlaPolicy
from domain.support.ticket import Ticket
from domain.support.ticket_content import DraftContent
from domain.support.values import TicketCategory, TicketPriority
from infra.bootstrap import Container
from infra.stores import CORE_EVENTS_TABLE
from projections.statistics.projection import StatisticsProjection

PROVINCE_CODES = list(PROVINCES)
# Big provinces get more subscribers (a rough shape, not data).
PROVINCE_WEIGHTS = [6 if p in {"GD", "JS", "SD", "ZJ", "HA", "SC"} else 2 for p in PROVINCE_CODES]
PLANS = ("FREE", "PLUS_5", "VIP_20")
POLICY = SlaPolicy()


def _meta(account: Account) -> ChangeMeta:
    actor = Actor(str(account.id), account.username, account.role.value, account.province)
    return ChangeMeta(actor, correlation_id=f"bench-{random.getrandbits(64):016x}")


class History:
    """A year of core-store history, produced step by step through the aggregates."""

    def __init__(self, seed: int, start: datetime, span: timedelta, events: int) -> None:
        self.rng = random.Random(seed)
        self.start, self.span = start, span
        self.now = start
        self.mean_gap = span.total_seconds() / events
        self.accounts: list[Account] = []
        self.agents: dict[str, list[Account]] = {}
        system = ChangeMeta(SYSTEM_ACTOR)
        self.pending: list[Any] = []
        for province in PROVINCE_CODES:
            for n in range(2):
                self._account(f"{province.lower()}.agent{n}", Role.PROVINCE_AGENT, province, system)
        self.second = [self._account(f"second{n}", Role.SECOND_LINE_AGENT, None, system)
                       for n in range(6)]  # fmt: skip
        self.admins = [self._account(f"admin{n}", Role.SUPER_ADMIN, None, system) for n in range(2)]
        self.platform = self._account("platform", Role.INTEGRATION, None, system)
        self.subscribers: list[Subscriber] = []
        self.open_tickets: list[Ticket] = []
        self.serial = 0

    def _account(
        self, username: str, role: Role, province: str | None, meta: ChangeMeta
    ) -> Account:
        account = Account.register(
            username=username,
            display_name=username,
            role=role,
            province=province,
            password_hash="$bench$",
            meta=meta,
        )
        self.accounts.append(account)
        if province is not None:
            self.agents.setdefault(province, []).append(account)
        self.pending.append(account)
        return account

    def _staff(self, province: str) -> Account:
        r = self.rng.random()
        if r < 0.70:
            return self.rng.choice(self.agents[province])
        if r < 0.95:
            return self.rng.choice(self.second)
        return self.rng.choice(self.admins)

    def step(self, done: float) -> None:
        """One command, `done` (0..1) of the way through the history; its aggregates go to
        `pending` (a command the rules refuse writes nothing)."""
        rng = self.rng
        # Time follows the share of events written, so the history ends at the span's end.
        paced = self.start + self.span * done
        jitter = rng.expovariate(2 / self.mean_gap)  # half a gap: the pace leads
        self.now = max(self.now, paced) + timedelta(seconds=jitter)
        r = rng.random()
        try:
            if r < 0.05 or not self.subscribers:
                self._register()
            elif r < 0.66:
                self._proxy_setting()
            elif r < 0.70:
                account = rng.choice(self.accounts)
                account.login_succeeded(self.now, "password", _meta(account))
                self.pending.append(account)
            else:
                self._ticket_step()
        except DomainError:
            pass  # e.g. NO_CHANGE on a random pick: no event this time

    def _register(self) -> None:
        self.serial += 1
        province = self.rng.choices(PROVINCE_CODES, PROVINCE_WEIGHTS)[0]
        actor = self.platform if self.rng.random() < 0.1 else self._staff(province)
        s = Subscriber.register(
            msisdn=f"1{self.rng.choice('3578')}{self.serial:09d}",
            province=province,
            plan_code=self.rng.choice(PLANS),
            at=self.now,
            meta=_meta(actor),
        )
        self.subscribers.append(s)
        self.pending.append(s)

    def _proxy_setting(self) -> None:
        rng, now = self.rng, self.now
        s = rng.choice(self.subscribers)
        actor = self.platform if rng.random() < 0.12 else self._staff(s.province)
        meta = _meta(actor)
        on = rng.random() < 0.5
        if s.status == "DEREGISTERED":
            s.reregister(s.province, rng.choice(PLANS), now, meta)
        elif s.status == "FROZEN":
            s.unfreeze(now, meta)
        else:
            op = rng.randrange(12)
            if op == 0:
                s.change_plan(rng.choice(PLANS), now, meta)
            elif op == 1:
                s.set_companion(on, now, meta)
            elif op == 2:
                s.set_bill_delivery(on, now, meta)
            elif op == 3:
                s.set_arrival_notification(on, NotificationMode.SMS, "08:00", "22:00", now, meta)
            elif op == 4:
                s.set_login_reminder(on, now, meta)
            elif op == 5:
                alias = f"u{self.serial}x{rng.randrange(10**6)}"
                s.set_alias(alias, now, meta)
                self.pending.append(claim_alias(None, alias, s.id, s.msisdn, now, meta))
            elif op in (6, 7):
                s.change_password(f"$argon2id$bench${rng.getrandbits(64):x}", now, meta)
            elif op == 8:
                level = rng.choice(list(SmsBlacklistLevel))
                s.set_sms_blacklist(level, now, meta)
            elif op == 9 and rng.random() < 0.3:
                s.freeze("异地登录", now, _meta(self.platform))
            elif op == 10 and rng.random() < 0.2:
                s.deregister(now, meta)
            else:
                s.change_plan(rng.choice(PLANS), now, meta)
        self.pending.append(s)

    def _ticket_step(self) -> None:
        rng, now = self.rng, self.now
        if rng.random() < 0.22 or not self.open_tickets:
            province = rng.choices(PROVINCE_CODES, PROVINCE_WEIGHTS)[0]
            agent = rng.choice(self.agents[province])
            content = DraftContent.clean(
                title="用户反映邮箱无法登录",
                body="网页版登录失败，提示密码错误，用户确认密码无误。",
                category=rng.choice(list(TicketCategory)),
                priority=rng.choice(list(TicketPriority)),
                msisdn=None,
            )
            t = Ticket.draft(province=province, content=content, at=now, meta=_meta(agent))
            self.open_tickets.append(t)
            self.pending.append(t)
            return
        index = rng.randrange(len(self.open_tickets))
        t = self.open_tickets[index]
        first = _meta(rng.choice(self.agents[t.province]))
        second = _meta(rng.choice(self.second))
        if t.status is TicketState.DRAFT:
            if rng.random() < 0.05:
                t.discard(at=now, meta=first)
            else:
                self.serial += 1
                t.submit(at=now, sla=POLICY, allocate_number=lambda: f"{t.province}-{self.serial}",
                         meta=first)  # fmt: skip
        elif t.status in (TicketState.SUBMITTED, TicketState.RESUBMITTED):
            t.answer(body="请清除浏览器缓存后重试", at=now, calendar=POLICY.calendar, meta=second)
        elif t.status is TicketState.ANSWERED:
            if rng.random() < 0.3:
                t.resubmit(body="仍然无法登录", at=now, calendar=POLICY.calendar, meta=first)
            else:
                t.rate(score=rng.randint(1, 5), comment=None, at=now, meta=first)
        elif t.status is TicketState.CLOSED:
            t.update_archive(resolution="已解决", tags=["登录"], at=now, meta=second)
        if t.status in (TicketState.DISCARDED,) or t.archive.resolution is not None:
            self.open_tickets[index] = self.open_tickets[-1]
            self.open_tickets.pop()
        self.pending.append(t)

    def drain(self) -> list[Any]:
        """The events of this step's changed aggregates, in the order they happened."""
        events = [e for aggregate in self.pending for e in aggregate.collect_events()]
        self.pending.clear()
        return events


def generate(container: Container, total: int, seed: int) -> float:
    """Fill the core store with `total` events. Returns the seconds it took."""
    started = time.perf_counter()
    history = History(seed, datetime.now(UTC) - timedelta(days=365), timedelta(days=364), total)
    mapper = container.core.mapper
    written = 0
    chunk: list[StoredEvent] = []
    with container.engine.connect(autocommit=False) as conn:

        def flush() -> None:
            with (
                conn.cursor() as cur,
                cur.copy(
                    f"COPY {CORE_EVENTS_TABLE} (originator_id, originator_version, topic, state)"
                    " FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for se in chunk:
                    copy.write_row((se.originator_id, se.originator_version, se.topic, se.state))
            conn.commit()
            chunk.clear()

        chunk.extend(mapper.to_stored_event(e) for e in history.drain())
        while written + len(chunk) < total:
            history.step((written + len(chunk)) / total)
            chunk.extend(mapper.to_stored_event(e) for e in history.drain())
            if len(chunk) >= 50_000:
                written += len(chunk)
                flush()
                print(f"  generated {written:,} events", flush=True)
        written += len(chunk)
        flush()
        conn.execute(f"ANALYZE {CORE_EVENTS_TABLE}")
        conn.commit()
    return time.perf_counter() - started


def raw_read_decode(container: Container, only_statistics: bool, page: int = 5000) -> float:
    """Events/s reading every event in pages and decoding through the mapper."""
    mapper = container.core.mapper
    topics = StatisticsProjection.topics if only_statistics else None
    started = time.perf_counter()
    count = 0
    after = 0
    with container.engine.connect() as conn, conn.cursor() as cur:
        while True:
            cur.execute(
                f"SELECT notification_id, originator_id, originator_version, topic, state"
                f" FROM {CORE_EVENTS_TABLE} WHERE notification_id > %s"
                " ORDER BY notification_id LIMIT %s",
                (after, page),
                prepare=True,
            )
            rows = cur.fetchall()
            if not rows:
                break
            for row in rows:
                if topics is None or row[3] in topics:
                    mapper.to_domain_event(StoredEvent(row[1], row[2], row[3], bytes(row[4])))
            count += len(rows)
            after = rows[-1][0]
    return count / (time.perf_counter() - started)


def eventsourcing_read_decode(container: Container, page: int = 5000) -> float:
    """Events/s through eventsourcing's own notification reader plus the mapper."""
    recorder: Any = container.core.recorder
    mapper = container.core.mapper
    started = time.perf_counter()
    count = 0
    start = 1
    while True:
        notifications = recorder.select_notifications(start, page)
        if not notifications:
            break
        for n in notifications:
            mapper.to_domain_event(n)
        count += len(notifications)
        start = notifications[-1].id + 1
    return count / (time.perf_counter() - started)


def timed_rebuild(container: Container, page_size: int | None) -> tuple[float, int]:
    head = container.projection_status.store_head("core")
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] >= 5:
            last[0] = time.perf_counter()
            print(f"  rebuild at {done:,}/{total:,}", flush=True)

    started = time.perf_counter()
    generation = container.rebuilds.rebuild("statistics", progress=progress, page_size=page_size)
    return head / (time.perf_counter() - started), generation


def summary(container: Container) -> str:
    with container.engine.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(sum(count), 0), count(*) FROM rm.stat_proxy_ops")
        proxy, proxy_rows = cur.fetchone() or (0, 0)
        cur.execute(
            "SELECT count(*), count(DISTINCT (day, province, category, status))"
            " FROM rm.stat_tickets"
        )
        tickets, ticket_rows = cur.fetchone() or (0, 0)
        cur.execute("SELECT count(*) FROM rm.stat_answer_times")
        answers = (cur.fetchone() or (0,))[0]
        cur.execute(
            "SELECT topic LIKE 'spoa.subscribers:Subscriber.%', count(*)"
            f" FROM {CORE_EVENTS_TABLE} GROUP BY 1"
        )
        by_kind = dict(cur.fetchall())
    return (
        f"statistics: {proxy:,} proxy operations by staff in {proxy_rows:,} rows,"
        f" {tickets:,} submitted tickets in {ticket_rows:,} rows, {answers:,} answer times;"
        f" store: {by_kind.get(True, 0):,} subscriber events,"
        f" {by_kind.get(False, 0):,} others (tickets, accounts, alias claims)"
    )


def run(
    url: str, events: int, seed: int, page_size: int | None, skip_generate: bool, rounds: int
) -> None:
    container = bench_container(url)
    try:
        if not skip_generate:
            seconds = generate(container, events, seed)
            head = container.projection_status.store_head("core")
            print(f"generated {head:,} core events in {seconds:.1f}s ({head / seconds:,.0f}/s)")
        head = container.projection_status.store_head("core")
        print(f"{head:,} core events; {rounds} rounds, each: raw read+decode, then a rebuild")
        topics_only = "raw read+decode, statistics topics only"
        es_reader = "eventsourcing select_notifications+mapper"
        once: list[tuple[str, Callable[[], float]]] = [
            (topics_only, lambda: raw_read_decode(container, True)),
            (es_reader, lambda: eventsourcing_read_decode(container)),
        ]
        for label, measure in once:
            print(f"  {label:44s} {measure():>10,.0f} events/s", flush=True)
        pairs: list[tuple[float, float]] = []
        generation = 0
        for n in range(1, rounds + 1):
            raw = raw_read_decode(container, False)
            rebuild, generation = timed_rebuild(container, page_size)
            pairs.append((raw, rebuild))
            print(
                f"  round {n}: raw read+decode (every event, mapper) {raw:>9,.0f} events/s;"
                f" rebuild {rebuild:>9,.0f} events/s = {rebuild / raw:.2f} x raw",
                flush=True,
            )
        raws = sorted(p[0] for p in pairs)
        rebuilds = sorted(p[1] for p in pairs)
        ratios = sorted(p[1] / p[0] for p in pairs)
        mid = len(pairs) // 2
        print(
            f"raw read+decode (every event, mapper):   median {raws[mid]:>9,.0f}"
            f"  best {raws[-1]:>9,.0f} events/s"
        )
        print(
            f"rebuild statistics (blue/green, tracked): median {rebuilds[mid]:>9,.0f}"
            f"  best {rebuilds[-1]:>9,.0f} events/s  (generation {generation})"
        )
        print(f"rebuild / raw (same round):               median {ratios[mid]:.2f}"
              f"  best {ratios[-1]:.2f}")  # fmt: skip
        print(summary(container))
        met = rebuilds[mid] >= 50_000 and ratios[mid] >= 0.5
        print(
            f"target (>= 50,000 events/s and >= 0.5 x raw, medians): {'met' if met else 'NOT met'}"
        )
    finally:
        container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2009)
    parser.add_argument("--page-size", type=int, default=None, help="rebuild page size")
    parser.add_argument("--database-url", default=None, help="reuse a database (--keep'd)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--rounds", type=int, default=3, help="raw + rebuild measurements")
    args = parser.parse_args()
    url = args.database_url or fresh_database()
    print(f"database: {url}")
    try:
        run(url, args.events, args.seed, args.page_size, bool(args.database_url), args.rounds)
    finally:
        if not args.keep and not args.database_url:
            drop_database(url)


if __name__ == "__main__":
    main()
