"""Read your writes: the `consistentWith` wait every query that reads a projection shares.

A query service names the read models a query reads in an async step the API awaits before it
runs the query itself in a worker thread, so the wait holds no thread (design decision 10).
"""

from __future__ import annotations

from collections.abc import Sequence

from application.ports import ReadModelWaiter


async def wait_until_applied(
    waiter: ReadModelWaiter, projections: Sequence[str], position: int | None
) -> None:
    """Without a position (or with one before the first event) there is nothing to wait for."""
    if position is not None and position > 0:
        await waiter.wait(projections, position)
