"""consistentWith over HTTP: many pending waits hold no worker thread (an admin's `{ me }`
answers while they wait), a wait past the bound is CONSISTENCY_TIMEOUT with where the read
model got to (never stale data), a position past the store's head is refused at once, and a
client reads its own writes, also when another process runs the projections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.blocking
from api.app import create_app
from infra.bootstrap import Container
from tests.conftest import make_settings
from tests.helpers import GraphQL, error_codes, seed_accounts

ALIASES = 30
LIST = "tickets(first: 1, consistentWith: $p) { totalCount nodes { title } }"
MANY = "query($p: Int) { " + " ".join(f"t{i}: {LIST}" for i in range(ALIASES)) + " }"
ONE = "query($p: Int) { " + LIST + " }"
ME = "{ me { username } }"
DRAFT = (
    'mutation($title: String!) { saveTicketDraft(input: {title: $title, body: "",'
    ' category: FAULT, priority: HIGH, msisdn: "13800138000"}) { position userErrors { code } } }'
)


@pytest.fixture
def few_workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A worker pool far smaller than the waits: a wait holding a thread would starve it."""
    workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="spoa-blocking-test")
    monkeypatch.setattr(api.blocking, "_workers", workers)
    yield 2
    workers.shutdown(wait=False)


@contextmanager
def serving(
    database_url: str, run_projections: bool, **settings: Any
) -> Iterator[tuple[GraphQL, Container]]:
    container = Container(make_settings(database_url, **settings), database_url)
    try:
        seed_accounts(container)
        with TestClient(create_app(container, run_projections=run_projections)) as client:
            deadline = time.monotonic() + 10
            while not container.waiter.listening:  # the lifespan started its listener
                assert time.monotonic() < deadline, "the waiter never listened"
                time.sleep(0.02)
            yield GraphQL(client), container
    finally:
        container.close()


def draft(gql: GraphQL, title: str) -> int:
    payload = gql(DRAFT, {"title": title}, as_user="gd.agent")["data"]["saveTicketDraft"]
    assert payload["userErrors"] == [], payload
    position: int = payload["position"]
    return position


def test_pending_waits_hold_no_worker_thread(database_url: str, few_workers: int) -> None:
    # The projections do not run: a new ticket's position is valid but not applied until the
    # test applies it.
    with serving(database_url, False, consistency_timeout_seconds=60) as (gql, container):
        gql.login("viewer")
        gql.login("admin")
        position = draft(gql, "等待不占线程")
        answers: list[dict[str, Any]] = []

        def ask() -> None:
            answers.append(gql(MANY, {"p": position}, as_user="viewer"))

        askers = [threading.Thread(target=ask) for _ in range(3)]
        for asker in askers:
            asker.start()
        deadline = time.monotonic() + 30
        while container.waiter.waiting < 3 * ALIASES:
            assert time.monotonic() < deadline, f"{container.waiter.waiting} waits pending"
            time.sleep(0.02)

        # 90 waits pending, a pool of 2 workers: the admin is served all the same.
        assert gql(ME, as_user="admin") == {"data": {"me": {"username": "admin"}}}
        assert container.waiter.waiting == 3 * ALIASES and not answers
        assert all(asker.is_alive() for asker in askers)

        container.engine.catch_up("tickets")  # its notification ends every wait
        for asker in askers:
            asker.join(30)
        assert len(answers) == 3
        for answer in answers:
            assert "errors" not in answer, answer
            assert [answer["data"][f"t{i}"]["totalCount"] for i in range(ALIASES)] == [
                answer["data"]["t0"]["totalCount"]
            ] * ALIASES
        assert container.waiter.waiting == 0


def test_a_wait_past_the_bound_is_an_error_not_stale_data(database_url: str) -> None:
    with serving(database_url, False, consistency_timeout_seconds=0.5) as (gql, container):
        container.engine.catch_up("tickets")
        reached = container.projection_status.positions(["tickets"])["tickets"]
        position = draft(gql, "迟到的读模型")
        result = gql(ONE, {"p": position}, as_user="viewer")
        assert result["data"] is None  # no list presented as fresh
        [error] = result["errors"]
        extensions = error["extensions"]
        assert extensions["code"] == "CONSISTENCY_TIMEOUT"
        assert (extensions["projection"], extensions["position"]) == ("tickets", reached)
        assert reached < position and str(position) in error["message"]

        # The statistics CSV export waits the same way, and says so with a 503.
        exported = gql.client.get(
            "/exports/statistics/proxy-operations.csv",
            params={"from": "2026-01-01", "to": "2026-01-31", "consistentWith": position},
            headers={"Authorization": f"Bearer {gql.login('admin')}"},
        )
        assert exported.status_code == 503, exported.text
        assert exported.json()["errors"][0]["extensions"]["code"] == "CONSISTENCY_TIMEOUT"


def test_a_position_past_the_head_is_refused_at_once(database_url: str) -> None:
    # A bound far longer than the test: were it waited for, the answer would not be this one.
    with serving(database_url, True, consistency_timeout_seconds=600) as (gql, container):
        head = draft(gql, "最新的事件")
        assert head == container.core_log.head()
        started = time.monotonic()
        result = gql(MANY, {"p": head + 1000}, as_user="viewer")
        assert time.monotonic() - started < 600
        assert set(error_codes(result)) == {"BAD_USER_INPUT"}
        assert f"{head + 1000}" in result["errors"][0]["message"]
        assert f"{head}" in result["errors"][0]["message"]
        assert container.waiter.waiting == 0


def test_a_client_reads_its_own_writes(gql: GraphQL) -> None:
    position = draft(gql, "读自己写的")
    found = gql(ONE, {"p": position}, as_user="admin")
    assert found == {"data": {"tickets": {"totalCount": 1, "nodes": [{"title": "读自己写的"}]}}}, (
        found
    )


def test_the_notification_crosses_from_the_process_running_the_projections(
    database_url: str,
) -> None:
    # This app runs no projection and re-reads positions only every minute: within the bound
    # (30 s), only the other process's notification can end the wait.
    with serving(
        database_url, False, consistency_timeout_seconds=30, projection_poll_seconds=60
    ) as (gql, _):
        other = Container(make_settings(database_url), database_url)
        try:
            other.start_projections()
            position = draft(gql, "跨进程通知")
            found = gql(ONE, {"p": position}, as_user="admin")
            assert found["data"]["tickets"]["nodes"] == [{"title": "跨进程通知"}], found
        finally:
            other.close()
