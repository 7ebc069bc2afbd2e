"""The login throttle's arithmetic, and how a client address is read (no I/O)."""

from __future__ import annotations

import pytest

from api.client_address import ClientAddresses
from application.access.throttle import LoginThrottle, address_key
from application.ports import RateLimitedError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def wait_of(throttle: LoginThrottle, username: str, address: str) -> int:
    """0 when an attempt would be admitted now (it is then undone), else its retry_after."""
    try:
        throttle.admit(username, address)
    except RateLimitedError as exc:
        return exc.retry_after
    throttle.succeeded(username, address)
    return 0


def fail(throttle: LoginThrottle, username: str, address: str) -> None:
    throttle.admit(username, address)
    throttle.failed(address)


def test_delays_double_from_one_second_up_to_the_cap_and_a_success_clears_them() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_delay_seconds=30, address_free_failures=100, clock=clock)
    waits = []
    for _ in range(8):
        fail(throttle, "ann", "192.0.2.1")
        waits.append(wait_of(throttle, "ann", "192.0.2.1"))
        clock.now += waits[-1]
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    assert wait_of(throttle, "ann", "192.0.2.2") == 0  # another address: not held back
    assert wait_of(throttle, "bob", "192.0.2.1") == 0  # another name: not held back
    throttle.admit("ann", "192.0.2.1")
    throttle.succeeded("ann", "192.0.2.1")
    assert wait_of(throttle, "ann", "192.0.2.1") == 0


def test_failures_are_forgiven_one_per_two_cap_lengths() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_delay_seconds=10, address_free_failures=100, clock=clock)
    waits = []
    for _ in range(4):
        fail(throttle, "ann", "a")
        waits.append(wait_of(throttle, "ann", "a"))
        clock.now += waits[-1]
    assert waits == [1, 2, 4, 8]
    clock.now += 40  # two failures forgiven: the next waits 4 s, not 16
    fail(throttle, "ann", "a")
    assert wait_of(throttle, "ann", "a") == 4
    clock.now += 1000  # all forgiven
    fail(throttle, "ann", "a")
    assert wait_of(throttle, "ann", "a") == 1


def test_an_address_is_free_for_some_failures_then_held_back_whatever_name() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_delay_seconds=30, address_free_failures=3, clock=clock)
    for i in range(3):
        fail(throttle, f"name{i}", "198.51.100.1")
    assert wait_of(throttle, "other", "198.51.100.1") == 0
    fail(throttle, "name3", "198.51.100.1")
    assert wait_of(throttle, "other", "198.51.100.1") == 1
    with pytest.raises(RateLimitedError):
        throttle.check_address("198.51.100.1")
    throttle.check_address("198.51.100.2")


def test_an_attempt_counts_at_once_so_parallel_guesses_do_not_all_pass() -> None:
    throttle = LoginThrottle(clock=Clock())
    throttle.admit("ann", "a")
    with pytest.raises(RateLimitedError) as caught:
        throttle.admit("ann", "a")  # the first is still being checked
    assert caught.value.retry_after == 1


def test_the_keys_are_bounded() -> None:
    throttle = LoginThrottle(clock=Clock(), max_keys=10)
    for i in range(100):
        fail(throttle, f"name{i}", f"10.0.0.{i}")
    assert len(throttle._entries) <= 10


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),  # one host may use its whole /64
        ("2001:db8:1:2::99", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        (None, "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_address_keys(address: str | None, key: str) -> None:
    assert address_key(address) == key


def scope(peer: str | None, *forwarded: str) -> dict[str, object]:
    return {
        "client": (peer, 1234) if peer else None,
        "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded],
    }


@pytest.mark.parametrize(
    ("trusted", "request_scope", "client"),
    [
        ([], scope("203.0.113.1", "198.51.100.9"), "203.0.113.1"),  # nobody trusted
        (["10.0.0.0/8"], scope("203.0.113.1", "198.51.100.9"), "203.0.113.1"),  # not a proxy
        (["10.0.0.0/8"], scope("10.0.0.5", "198.51.100.9"), "198.51.100.9"),
        (["10.0.0.0/8"], scope("10.0.0.5", "6.6.6.6, 198.51.100.9"), "198.51.100.9"),
        (["10.0.0.0/8"], scope("10.0.0.5", "198.51.100.9, 10.0.0.7"), "198.51.100.9"),
        (["10.0.0.0/8"], scope("10.0.0.5", "198.51.100.9", "10.0.0.7"), "198.51.100.9"),
        (["10.0.0.0/8"], scope("10.0.0.5", "198.51.100.9:4711"), "198.51.100.9"),
        (["10.0.0.0/8"], scope("10.0.0.5", "[2001:db8::1]:4711"), "2001:db8::1"),
        (["10.0.0.0/8"], scope("10.0.0.5", "10.0.0.9"), "10.0.0.9"),  # all proxies: leftmost
        (["10.0.0.0/8"], scope("10.0.0.5"), "10.0.0.5"),  # no header
        (["10.0.0.0/8"], scope(None, "198.51.100.9"), None),
    ],
)
def test_client_addresses(
    trusted: list[str], request_scope: dict[str, object], client: str | None
) -> None:
    assert ClientAddresses(trusted).of(request_scope) == client
