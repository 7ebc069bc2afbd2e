"""Read your writes: the `consistentWith` wait every query that reads a projection shares.

A query service names the read models a query reads in an async step the API awaits before it
runs the query itself in a worker thread, so the wait holds no thread (design decision 10).
"""

from __future__ import annotations

from collections.abc import Sequence

from application.ports import ReadModelWaiter
from domain.shared import ValidationError


class PositionBeyondHeadError(ValidationError):
    """`consistentWith` names a position no event holds yet: waiting could never end well."""

    def __init__(self, position: int, head: int, store: str) -> None:
        super().__init__(
            f"consistentWith {position} is beyond the {store} store's head {head}:"
            " no event is stored at that position",
            field=["consistentWith"],
        )
        self.position = position
        self.head = head


class ConsistencyTimeoutError(Exception):
    """A read model did not apply the position within the bound; its answer would be stale."""

    def __init__(self, projection: str, reached: int, wanted: int, timeout: float) -> None:
        super().__init__(
            f"after {timeout:g} s the {projection} read model has applied up to position"
            f" {reached}, not yet {wanted}; try again"
        )
        self.projection = projection
        self.position = reached
        self.wanted = wanted


async def wait_until_applied(
    waiter: ReadModelWaiter, projections: Sequence[str], position: int | None
) -> None:
    """Without a position (or with one before the first event) there is nothing to wait for."""
    if position is not None and position > 0:
        await waiter.wait(projections, position)
