"""The statistics projection in PostgreSQL: equal to brute-force counts over random histories,
consistent over every groupBy, and rebuilt (blue/green, also after an interruption) into
exactly the tables it built incrementally."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.statistics.service import (
    ProxyDimension,
    StatisticsService,
    StatRow,
    TicketDimension,
)
from domain.access.permissions import Role
from domain.support.values import TicketCategory
from infra.bootstrap import Container
from projections.statistics.projection import StatisticsQueries
from tests.statistics_helpers import (
    PROVINCES,
    PROXY_DIMENSIONS,
    START,
    TICKET_DIMENSIONS,
    World,
    grouped,
    of_categories,
    oracle,
    orders,
    steps,
    times,
)
from tests.subscriber_helpers import principal

ADMIN = principal("admin", Role.SUPER_ADMIN)
TABLES = ("stat_proxy_ops", "stat_tickets", "stat_answer_times")
_worlds = itertools.count()


@dataclass
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


def new_world() -> World:
    """A world whose subscribers no earlier world in the same store has."""
    n = next(_worlds)
    return World(numbers=tuple(f"139{n:04d}{i:04d}" for i in range(5)))


def play(container: Container, world: World, history: list[Any]) -> None:
    for step in history:
        touched = world.run(step)
        if touched:
            container.core.save(*touched)


def stored_events(container: Container) -> list[Any]:
    return [r.event for r in container.core_log.feed(0, 1_000_000)]


def service_at(container: Container, now: datetime) -> StatisticsService:
    # No row limit: these compare every grouping with an oracle (the limit has unit tests).
    return StatisticsService(
        StatisticsQueries(container.read_pool.connection),
        container.waiter,
        FixedClock(now),
        max_rows=10**9,
    )


def as_pairs(rows: list[StatRow]) -> list[tuple[list[str], int]]:
    return [(r.keys, r.count) for r in rows]


@settings(max_examples=12)
@given(history=steps(40), data=st.data())
def test_statistics_equal_brute_force_counts_over_random_histories(
    container: Container, history: list[Any], data: st.DataObject
) -> None:
    world = new_world()
    play(container, world, history)
    container.engine.catch_up("statistics")
    expected = oracle(stored_events(container), world.policy)
    span = (world.now - START).days + 2
    for _ in range(4):
        first = START.date() + timedelta(days=data.draw(st.integers(-1, span)))
        last = first + timedelta(days=data.draw(st.integers(0, span)))
        province = data.draw(st.sampled_from([None, *PROVINCES]))
        now = START + timedelta(minutes=data.draw(st.integers(0, span * 24 * 60)))
        svc = service_at(container, now)
        proxy_dims = data.draw(st.permutations(PROXY_DIMENSIONS).flatmap(_prefix))
        ticket_dims = data.draw(st.permutations(TICKET_DIMENSIONS).flatmap(_prefix))
        got = svc.proxy_operations(
            ADMIN, first, last, [ProxyDimension(d) for d in proxy_dims], province
        )
        assert as_pairs(got) == grouped(
            expected.proxy, PROXY_DIMENSIONS, proxy_dims, first, last, province
        )
        categories = data.draw(
            st.one_of(
                st.none(), st.lists(st.sampled_from(list(TicketCategory)), min_size=1, unique=True)
            )
        )
        got = svc.complaint_tickets(
            ADMIN, first, last, [TicketDimension(d) for d in ticket_dims], province, categories
        )
        counted = of_categories(expected.tickets, categories)
        assert as_pairs(got) == grouped(
            counted, TICKET_DIMENSIONS, ticket_dims, first, last, province
        )
        t = svc.ticket_times(ADMIN, first, last, province)
        median, p90, answered, overdue = times(expected, first, last, province, now)
        assert (t.answered, t.overdue) == (answered, overdue)
        assert t.median_minutes_to_answer == pytest.approx(median)
        assert t.p90_minutes_to_answer == pytest.approx(p90)


def _prefix(dims: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.integers(0, len(dims)).map(lambda k: dims[:k])


def seeded_history(seed: int, size: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    from tests.statistics_helpers import ACTORS, SUBSCRIBER_OPS, TICKET_OPS

    history: list[tuple[Any, ...]] = []
    for _ in range(size):
        if rng.random() < 0.5:
            op = rng.choice(SUBSCRIBER_OPS)
            history.append(("sub", rng.randrange(5), op, rng.randrange(len(ACTORS)),
                            rng.randrange(600), rng.randrange(12)))  # fmt: skip
        else:
            op = rng.choice(TICKET_OPS)
            history.append(("ticket", rng.randrange(8), op, rng.randrange(len(ACTORS)),
                            rng.randrange(600), rng.randrange(12)))  # fmt: skip
    return history


@pytest.fixture
def played(container: Container) -> Iterator[tuple[Container, World]]:
    world = new_world()
    play(container, world, seeded_history(7, 300))
    container.engine.catch_up("statistics")
    yield container, world


def test_every_group_by_agrees_with_the_ungrouped_total_and_the_oracle(
    played: tuple[Container, World],
) -> None:
    container, world = played
    expected = oracle(stored_events(container), world.policy)
    svc = service_at(container, world.now)
    first, last = START.date(), world.now.date()
    every = list(TicketCategory)
    for province in (None, "GD"):
        (total_proxy,) = svc.proxy_operations(ADMIN, first, last, [], province)
        (total_tickets,) = svc.complaint_tickets(ADMIN, first, last, [], province, every)
        (complaints,) = svc.complaint_tickets(ADMIN, first, last, [], province)
        assert complaints.count == sum(
            n for _, n in grouped(of_categories(expected.tickets, None), TICKET_DIMENSIONS,
                                  [], first, last, province)
        )  # fmt: skip
        assert 0 < complaints.count < total_tickets.count
        assert total_proxy.keys == [] and total_proxy.count > 0
        assert total_tickets.keys == [] and total_tickets.count > 0
        for dims in orders(PROXY_DIMENSIONS):
            rows = svc.proxy_operations(
                ADMIN, first, last, [ProxyDimension(d) for d in dims], province
            )
            assert sum(r.count for r in rows) == total_proxy.count, dims
            assert [r.keys for r in rows] == sorted(r.keys for r in rows)
            assert as_pairs(rows) == grouped(
                expected.proxy, PROXY_DIMENSIONS, dims, first, last, province
            )
        for dims in orders(TICKET_DIMENSIONS):
            rows = svc.complaint_tickets(
                ADMIN, first, last, [TicketDimension(d) for d in dims], province, every
            )
            assert sum(r.count for r in rows) == total_tickets.count, dims
            assert as_pairs(rows) == grouped(
                expected.tickets, TICKET_DIMENSIONS, dims, first, last, province
            )


def test_a_range_outside_the_history_is_empty(played: tuple[Container, World]) -> None:
    container, _ = played
    svc = service_at(container, START)
    before = date(2000, 1, 1)
    assert svc.proxy_operations(ADMIN, before, before, [ProxyDimension.DAY]) == []
    assert svc.proxy_operations(ADMIN, before, before, []) == [StatRow([], 0)]
    t = svc.ticket_times(ADMIN, before, before)
    assert (t.median_minutes_to_answer, t.p90_minutes_to_answer, t.answered) == (None, None, 0)


def test_the_read_model_returns_at_most_the_rows_asked_for(
    played: tuple[Container, World],
) -> None:
    """The service asks for one row over its limit, so a grouping too large to answer is
    never read whole."""
    container, world = played
    first, last = START.date(), world.now.date()
    queries = StatisticsQueries(container.read_pool.connection)
    for dims in (["OPERATOR", "DAY"], ["CATEGORY", "DAY"]):
        read = queries.proxy_operations if "OPERATOR" in dims else queries.complaint_tickets
        every = read(first, last, None, dims)
        assert len(every) > 3
        some = read(first, last, None, dims, 3)
        assert len(some) == 3 and set(some) <= set(every)
        assert sorted(read(first, last, None, dims, len(every))) == sorted(every)


def snapshot(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the live generation, the internal ones included."""
    out = {}
    with container.read_pool.connection() as conn, conn.cursor() as cur:
        for table in TABLES:
            cur.execute(f"SELECT * FROM rm.{table} ORDER BY 1, 2, 3, 4")
            out[table] = cur.fetchall()
        cur.execute("SELECT active_generation FROM projection_registry WHERE name = 'statistics'")
        (generation,) = cur.fetchone() or (0,)
        cur.execute(f"SELECT * FROM proj_statistics_g{generation}.stat_subscriber_provinces")
        out["stat_subscriber_provinces"] = sorted(cur.fetchall())
    return out


def test_rebuilt_tables_equal_the_incrementally_built_ones(
    played: tuple[Container, World],
) -> None:
    container, world = played
    incremental = snapshot(container)
    assert all(incremental.values())
    generation = container.rebuilds.rebuild("statistics", page_size=37)
    assert generation == 2
    assert snapshot(container) == incremental
    # and live updates keep applying to the rebuilt generation
    play(container, world, seeded_history(8, 60))
    container.engine.catch_up("statistics")
    live = snapshot(container)
    container.rebuilds.rebuild("statistics", page_size=1000)
    assert snapshot(container) == live


class RebuildInterruptedError(Exception):
    pass


def test_an_interrupted_rebuild_resumes_while_the_old_tables_serve(
    played: tuple[Container, World],
) -> None:
    container, world = played
    incremental = snapshot(container)
    seen: list[tuple[int, int]] = []

    def stop_after_two_pages(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 3:
            raise RebuildInterruptedError

    with pytest.raises(RebuildInterruptedError):
        container.rebuilds.rebuild("statistics", page_size=50, progress=stop_after_two_pages)
    (state,) = [s for s in container.projection_status.status() if s.name == "statistics"]
    assert state.generation == 1 and state.building_generation == 2
    assert state.building_position == seen[-1][0] > 0
    # the old generation still serves, and still follows new events
    assert snapshot(container) == incremental
    play(container, world, seeded_history(9, 40))
    container.engine.catch_up("statistics")
    live = snapshot(container)
    # resuming finishes generation 2 from where it stopped (no page applied twice)
    resumed: list[tuple[int, int]] = []
    generation = container.rebuilds.rebuild(
        "statistics", page_size=50, progress=lambda d, t: resumed.append((d, t))
    )
    assert generation == 2
    assert resumed[0][0] == seen[-1][0]
    assert snapshot(container) == live


def test_a_restarted_rebuild_drops_the_interrupted_one(played: tuple[Container, World]) -> None:
    container, _ = played
    incremental = snapshot(container)

    def interrupt(done: int, total: int) -> None:
        if done:
            raise RebuildInterruptedError

    with pytest.raises(RebuildInterruptedError):
        container.rebuilds.rebuild("statistics", page_size=50, progress=interrupt)
    assert container.rebuilds.rebuild("statistics", restart=True) == 3
    assert snapshot(container) == incremental
    (state,) = [s for s in container.projection_status.status() if s.name == "statistics"]
    assert state.building_generation is None


def test_operations_before_a_reregistration_in_the_same_page_keep_the_old_province(
    container: Container,
) -> None:
    """Regression: a page that re-registers a subscriber registered in an earlier page used
    to lose the page's operations made before the re-registration."""
    world = new_world()
    agent = 0  # gd.agent
    play(container, world, [("sub", 0, "register", agent, 0, 0)])  # GD
    # another subscriber fills the first page, so the next four events make the second one
    play(container, world, [("sub", 1, "register", agent, 0, 0), ("sub", 1, "plan", agent, 0, 1)])
    first_page = container.core_log.head()
    assert first_page == 3
    play(
        container,
        world,
        [
            ("sub", 0, "companion", agent, 1, 0),
            ("sub", 0, "deregister", agent, 1, 0),
            ("sub", 0, "register", agent, 1, 1),  # re-registered in BJ
            ("sub", 0, "companion", agent, 1, 0),
        ],
    )
    container.rebuilds.rebuild("statistics", page_size=first_page)
    svc = service_at(container, world.now)
    rows = svc.proxy_operations(
        ADMIN,
        START.date(),
        world.now.date(),
        [ProxyDimension.PROVINCE, ProxyDimension.OPERATION],
    )
    assert as_pairs(rows) == [
        (["BJ", "registerMailbox"], 1),
        (["BJ", "setCompanion"], 1),
        (["GD", "changePlan"], 1),
        (["GD", "deregisterMailbox"], 1),
        (["GD", "registerMailbox"], 2),
        (["GD", "setCompanion"], 1),
    ]


def test_the_cli_rebuilds_the_statistics_with_a_progress_bar(
    played: tuple[Container, World], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app

    container, _ = played
    incremental = snapshot(container)
    monkeypatch.setenv("SPOA_DATABASE_URL", database_url)
    monkeypatch.setenv("SPOA_SECRET_KEY", "cli-test-secret-0123456789abcdef")
    monkeypatch.setenv("SPOA_LOG_JSON", "false")
    result = CliRunner().invoke(app, ["projections", "rebuild", "statistics"])
    assert result.exit_code == 0, result.output
    assert "rebuilding statistics" in result.output and "events/s" in result.output
    assert "statistics: generation 2 is live" in result.output
    assert snapshot(container) == incremental
