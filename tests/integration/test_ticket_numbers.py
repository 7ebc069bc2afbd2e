"""Ticket numbers: <province>-<yyyymmdd>-<seq>, per province per Asia/Shanghai day, without
duplicates or gaps, also when submissions race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.support.numbers import sequence_id
from infra.bootstrap import Container
from tests.helpers import seed_accounts
from tests.integration.support_helpers import FakeClock, draft, use_clock

# 2026-11-23 23:30 in Asia/Shanghai (15:30 UTC): the Shanghai day, not the UTC day, counts.
LATE_MONDAY = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


def test_numbers_follow_province_and_shanghai_day(container: Container) -> None:
    p = seed_accounts(container)
    clock = FakeClock(LATE_MONDAY)
    use_clock(container, clock)

    def submit(agent: str) -> str:
        ticket_id = draft(container, p[agent])
        ticket = container.tickets.submit(p[agent], ticket_id).ticket
        assert ticket is not None and ticket.number is not None
        return ticket.number

    assert [submit("gd.agent"), submit("gd.agent"), submit("bj.agent")] == [
        "GD-20261123-0001",
        "GD-20261123-0002",
        "BJ-20261123-0001",
    ]
    clock.advance(minutes=31)  # 00:01 on Tuesday in Shanghai, still Monday in UTC
    assert submit("gd.agent") == "GD-20261124-0001"
    # A draft shows a provisional number until it is submitted.
    pending = container.ticket_queries.get(p["admin"], draft(container, p["gd.agent"]))
    assert pending is not None and pending.number.startswith("GD-DRAFT-")


def test_concurrent_submissions_get_unique_gapless_numbers(container: Container) -> None:
    p = seed_accounts(container)
    clock = FakeClock(LATE_MONDAY)
    use_clock(container, clock)
    agent = p["gd.agent"]
    threads_n, per_thread = 6, 4
    drafts = [[draft(container, agent) for _ in range(per_thread)] for _ in range(threads_n)]
    barrier = threading.Barrier(threads_n)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(ids: list[UUID]) -> None:
        barrier.wait()
        for ticket_id in ids:
            try:
                ticket = container.tickets.submit(agent, ticket_id).ticket
                assert ticket is not None and ticket.number is not None
                with lock:
                    numbers.append(ticket.number)
            except BaseException as exc:  # reported below
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=work, args=(ids,)) for ids in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = threads_n * per_thread
    assert sorted(numbers) == [f"GD-20261123-{n:04d}" for n in range(1, total + 1)]
    sequence = container.core.repository.get(sequence_id("GD", LATE_MONDAY.date()))
    assert sequence.last == total
    # Every number was issued exactly once, to the ticket that carries it.
    for ids in drafts:
        for ticket_id in ids:
            view = container.ticket_queries.get(p["admin"], ticket_id)
            assert view is not None and view.status == "SUBMITTED"
    assert clock.now() == LATE_MONDAY + timedelta(0)
