"""The one retry policy for optimistic-concurrency conflicts, with fake attempts (no database)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import given
from hypothesis import strategies as st

from application.unit_of_work import RetryPolicy, run_command
from domain.shared import ValidationError, VersionConflictError


@dataclass
class Stored:
    version: int


@dataclass
class Store:
    """An aggregate whose saves conflict `conflicts` times; `moves` says whether each conflict
    also moved the aggregate itself (True) or another aggregate of the command (False)."""

    version: int = 3
    conflicts: int = 0
    moves: bool = False
    loads: int = 0
    acts: int = 0
    slept: list[float] = field(default_factory=list)

    def load(self) -> Stored:
        self.loads += 1
        return Stored(self.version)

    def act(self, loaded: Stored) -> str:
        self.acts += 1
        if self.conflicts:
            self.conflicts -= 1
            if self.moves:
                self.version += 1
            raise IntegrityError("duplicate key value violates unique constraint")
        self.version = loaded.version + 1
        return f"saved v{self.version}"

    def policy(self, attempts: int = 40) -> RetryPolicy:
        return RetryPolicy(attempts=attempts, sleep=self.slept.append, seed=7)


def test_without_an_expected_version_conflicts_are_retried_from_a_fresh_load() -> None:
    store = Store(conflicts=5, moves=True)
    assert run_command(store.load, store.act, policy=store.policy()) == "saved v9"
    assert (store.loads, store.acts, len(store.slept)) == (6, 6, 5)


def test_a_conflict_every_time_ends_in_version_conflict_after_the_bounded_attempts() -> None:
    store = Store(conflicts=1000, moves=True)
    with pytest.raises(VersionConflictError) as raised:
        run_command(store.load, store.act, policy=store.policy(attempts=12))
    assert raised.value.code == "VERSION_CONFLICT"
    assert (store.acts, len(store.slept)) == (12, 11)  # no wait after the last attempt


def test_an_expected_version_behind_the_aggregate_is_version_conflict_without_acting() -> None:
    store = Store(version=3)
    with pytest.raises(VersionConflictError) as raised:
        run_command(store.load, store.act, expected_version=2, policy=store.policy())
    assert raised.value.field == ["expectedVersion"]
    assert (store.loads, store.acts, store.slept) == (1, 0, [])


def test_a_conflict_that_moved_the_expected_aggregate_is_reported_not_retried() -> None:
    store = Store(version=3, conflicts=1, moves=True)
    with pytest.raises(VersionConflictError):
        run_command(store.load, store.act, expected_version=3, policy=store.policy())
    assert (store.loads, store.acts, store.version) == (2, 1, 4)


def test_a_conflict_on_another_aggregate_keeps_the_expectation_and_is_retried() -> None:
    # e.g. two mailboxes claiming one alias, or two submissions drawing from one sequence
    store = Store(version=3, conflicts=3, moves=False)
    assert run_command(store.load, store.act, expected_version=3, policy=store.policy()) == (
        "saved v4"
    )
    assert store.acts == 4


def test_nothing_loaded_is_version_zero() -> None:
    def act(_: None) -> str:
        return "created"

    assert run_command(lambda: None, act, expected_version=0) == "created"
    with pytest.raises(VersionConflictError):
        run_command(lambda: None, act, expected_version=1)


def test_other_errors_are_not_retried() -> None:
    store = Store()

    def act(_: Stored) -> str:
        store.acts += 1
        raise ValidationError("no")

    with pytest.raises(ValidationError):
        run_command(store.load, act, policy=store.policy())
    assert (store.acts, store.slept) == (1, [])


def test_the_jitter_leaves_the_process_wide_random_state_alone() -> None:
    random.seed(2024)
    expected = [random.random() for _ in range(3)]
    random.seed(2024)
    store = Store(conflicts=10)
    run_command(store.load, store.act, policy=RetryPolicy(sleep=store.slept.append))
    assert [random.random() for _ in range(3)] == expected
    assert len(store.slept) == 10


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_every_wait_is_between_zero_and_a_ceiling_growing_per_round(failed: int, seed: int) -> None:
    policy = RetryPolicy(step=0.002, ceiling=0.02, seed=seed)
    assert 0.0 <= policy.pause(failed) <= min(0.002 * failed, 0.02)


def test_the_default_policy_allows_many_rounds_with_short_waits() -> None:
    policy = RetryPolicy()
    assert policy.attempts >= 40
    worst = sum(min(policy.step * n, policy.ceiling) for n in range(1, policy.attempts))
    assert worst < 1.0
