"""A failing projection's retries back off, its errors are logged once each, and the error text
it records is bounded and storable."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.runtime.failures import (
    MAX_ERROR_CHARS,
    FailureTracker,
    error_text,
    retry_delay,
)


def test_the_delay_doubles_from_the_poll_interval_up_to_the_cap() -> None:
    assert [retry_delay(n, 1.0, 60.0) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert retry_delay(0, 1.0, 60.0) == 1.0  # not failing: the poll interval
    assert retry_delay(10_000, 0.5, 60.0) == 60.0  # a long outage does not overflow


def test_a_cap_below_the_poll_interval_never_makes_retries_faster_than_polling() -> None:
    assert retry_delay(5, 2.0, 1.0) == 2.0


@given(st.integers(1, 200), st.floats(0.001, 10), st.floats(0.001, 120))
def test_the_delay_never_shrinks_while_failing_and_stays_within_bounds(
    failures: int, base: float, cap: float
) -> None:
    delay = retry_delay(failures, base, cap)
    assert base <= delay <= max(base, cap)
    assert retry_delay(failures + 1, base, cap) >= delay


def test_the_tracker_counts_failures_in_a_row_and_resets_on_success() -> None:
    tracker = FailureTracker(base_seconds=0.5, max_seconds=4.0)
    assert tracker.delay("accounts") == 0.5
    delays = []
    for second in range(6):
        tracker.failed("accounts", "DataError: NUL", now=100.0 + second)
        delays.append(tracker.delay("accounts"))
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    failure = tracker.failures["accounts"]
    assert (failure.count, failure.since, failure.error) == (6, 100.0, "DataError: NUL")
    assert tracker.delay("tickets") == 0.5  # others are not slowed down

    recovered = tracker.succeeded("accounts")
    assert recovered is failure
    assert tracker.succeeded("accounts") is None
    assert tracker.delay("accounts") == 0.5
    assert tracker.failed("accounts", "DataError: NUL", now=200.0)[0].count == 1


def test_an_error_is_new_only_when_its_text_changes() -> None:
    tracker = FailureTracker(base_seconds=1.0)
    news = [
        tracker.failed("subscribers", error, now=0.0)[1]
        for error in ["A: one", "A: one", "A: one", "B: two", "B: two", "A: one"]
    ]
    assert news == [True, False, False, True, False, True]


def test_error_text_names_the_error_and_escapes_what_postgresql_text_cannot_hold() -> None:
    text = error_text(ValueError("bad\x00value\nsecond line\ttab"))
    assert text == "ValueError: bad\\x00value second line\ttab"
    assert error_text(RuntimeError()) == "RuntimeError"
    assert error_text(RuntimeError("lone \udc80 surrogate")).encode("utf-8")


@given(st.text())
def test_error_text_is_bounded_and_storable(message: str) -> None:
    text = error_text(RuntimeError(message))
    assert len(text) <= MAX_ERROR_CHARS
    assert "\x00" not in text
    text.encode("utf-8")  # no lone surrogates
