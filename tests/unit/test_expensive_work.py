"""ExpensiveWork: at most N expensive operations per account at once, refused beyond."""

from __future__ import annotations

import threading

import pytest

from application.limits import ExpensiveWork, TooMuchAtOnceError
from application.ports import RateLimitedError
from domain.access.permissions import Role
from tests.subscriber_helpers import principal

ANALYST = principal("analyst", Role.VIEWER)
OTHER = principal("other", Role.VIEWER)


def test_a_further_operation_is_refused_and_others_are_not_affected() -> None:
    gate = ExpensiveWork(2)
    gate.begin(ANALYST)
    gate.begin(ANALYST)
    with pytest.raises(TooMuchAtOnceError) as caught:
        gate.begin(ANALYST)
    assert caught.value.limit == 2 and "SPOA_EXPENSIVE_PER_ACCOUNT" in caught.value.message
    assert isinstance(caught.value, RateLimitedError) and caught.value.retry_after == 1
    gate.begin(OTHER)
    gate.end(ANALYST)
    gate.begin(ANALYST)
    assert (gate.running(ANALYST), gate.running(OTHER)) == (2, 1)


def test_hold_gives_the_slot_back_also_when_the_work_fails() -> None:
    gate = ExpensiveWork(1)
    with pytest.raises(ZeroDivisionError), gate.hold(ANALYST):
        raise ZeroDivisionError
    with gate.hold(ANALYST):
        assert gate.running(ANALYST) == 1
        with pytest.raises(RateLimitedError), gate.hold(ANALYST):
            pass
        assert gate.running(ANALYST) == 1  # the refused one took nothing
    assert gate.running(ANALYST) == 0


def test_concurrent_callers_never_exceed_the_limit() -> None:
    gate = ExpensiveWork(3)
    most = 0
    lock = threading.Lock()
    start = threading.Barrier(16)

    def worker() -> None:
        nonlocal most
        start.wait()
        for _ in range(200):
            try:
                with gate.hold(ANALYST), lock:
                    most = max(most, gate.running(ANALYST))
            except RateLimitedError:
                pass

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most <= 3 and gate.running(ANALYST) == 0


def test_the_limit_is_at_least_one() -> None:
    with pytest.raises(ValueError):
        ExpensiveWork(0)
