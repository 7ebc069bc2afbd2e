"""The consistentWith waiter on PostgreSQL: a step's notification wakes a wait, a wait is
bounded and says where the projection got to, a position past the head is refused at once, the
listener reconnects after losing its connection, and without a listener a wait polls."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
import pytest

from application.ports import ConsistencyTimeoutError, PositionBeyondHeadError
from domain.access.permissions import Role
from infra.bootstrap import Container
from infra.consistency import LISTENER_NAME, ProjectionWaiter

NAME = "accounts"


def create(container: Container, username: str) -> int:
    """A new account; returns the core position of its event."""
    result = container.access.create_account(
        None,
        username=username,
        display_name=username,
        role=Role.VIEWER,
        province=None,
        initial_password="a-good-password-1",
    )
    assert result.position == container.core_log.head()
    return result.position


def later(seconds: float, action: Callable[[], Any]) -> threading.Thread:
    thread = threading.Timer(seconds, action)
    thread.start()
    return thread


async def served(waiter: ProjectionWaiter, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `body` with the waiter's listener following the positions, as in the app."""
    await waiter.start()
    try:
        for _ in range(200):
            if waiter.listening:
                break
            await asyncio.sleep(0.05)
        assert waiter.listening
        await body()
    finally:
        await waiter.stop()


def test_a_steps_notification_wakes_the_wait(container: Container) -> None:
    position = create(container, "ann")
    # Re-reads only every minute: within the bound, only the notification can end the wait.
    waiter = ProjectionWaiter(container.engine, timeout=20, resync_seconds=60)

    async def body() -> None:
        assert waiter.waiting == 0
        step = later(0.3, lambda: container.engine.catch_up(NAME))
        await waiter.wait([NAME], position)
        step.join()

    asyncio.run(served(waiter, body))


def test_a_wait_is_bounded_and_says_where_the_projection_got_to(container: Container) -> None:
    container.engine.catch_up(NAME)
    reached = container.core_log.head()
    position = create(container, "bob")
    waiter = ProjectionWaiter(container.engine, timeout=0.3, resync_seconds=0.1)

    async def body() -> None:
        with pytest.raises(ConsistencyTimeoutError) as caught:
            await waiter.wait([NAME], position)
        assert (caught.value.projection, caught.value.position) == (NAME, reached)
        assert caught.value.wanted == position and str(position) in str(caught.value)

    asyncio.run(served(waiter, body))


def test_a_position_past_the_head_is_refused_at_once(container: Container) -> None:
    head = create(container, "cat")
    waiter = ProjectionWaiter(container.engine, timeout=600, resync_seconds=600)

    async def body() -> None:
        with pytest.raises(PositionBeyondHeadError) as caught:
            await asyncio.wait_for(waiter.wait([NAME], head + 5), 30)
        assert (caught.value.position, caught.value.head) == (head + 5, head)
        assert f"{head + 5}" in caught.value.message and f"{head}" in caught.value.message

    asyncio.run(served(waiter, body))


def test_the_listener_reconnects_after_losing_its_connection(container: Container) -> None:
    position = create(container, "dan")
    waiter = ProjectionWaiter(container.engine, timeout=20, resync_seconds=0.1)

    async def body() -> None:
        with psycopg.connect(container.conninfo, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                (LISTENER_NAME,),
            ).fetchall()
        assert killed == [(True,)]
        for _ in range(200):  # it notices, and is back
            if not waiter.listening:
                break
            await asyncio.sleep(0.01)
        assert not waiter.listening
        step = later(0.3, lambda: container.engine.catch_up(NAME))
        await waiter.wait([NAME], position)
        step.join()
        assert waiter.listening

    asyncio.run(served(waiter, body))


def test_without_its_listener_a_wait_polls(container: Container) -> None:
    position = create(container, "eve")
    waiter = ProjectionWaiter(container.engine, timeout=20, resync_seconds=0.1)
    step = later(0.3, lambda: container.engine.catch_up(NAME))
    asyncio.run(waiter.wait([NAME], position))
    step.join()
    assert not waiter.listening


def test_a_listener_on_another_loop_wakes_the_wait(container: Container) -> None:
    # Two apps on one container (as tests do): each loop's waits are woken thread-safely.
    position = create(container, "fay")
    waiter = ProjectionWaiter(container.engine, timeout=20, resync_seconds=60)
    other = asyncio.new_event_loop()
    serving = threading.Thread(target=other.run_forever)
    serving.start()
    try:
        asyncio.run_coroutine_threadsafe(waiter.start(), other).result(10)
        for _ in range(200):
            if waiter.listening:
                break
            time.sleep(0.05)
        step = later(0.3, lambda: container.engine.catch_up(NAME))
        asyncio.run(waiter.wait([NAME], position))
        step.join()
    finally:
        asyncio.run_coroutine_threadsafe(waiter.stop(), other).result(10)
        other.call_soon_threadsafe(other.stop)
        serving.join()
        other.close()
