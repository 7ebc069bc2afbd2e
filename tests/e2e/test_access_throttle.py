"""Logins that survive a flood and cannot be turned against the account's owner.

Password checks run at most SPOA_PASSWORD_HASH_CONCURRENCY at a time, with a short queue;
failed logins hold back the (username, address) pair and, past a number of free failures, the
address, with doubling delays; nobody can lock an account's owner out from elsewhere. The same
throttle guards single sign-on. Each test reaches the app from addresses of its choosing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from application.access.throttle import LoginThrottle
from domain.access.permissions import Role
from tests.e2e.access_world import World, open_world
from tests.e2e.test_sso import ticket
from tests.helpers import PASSWORD, error_codes

LOGIN = (
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) {"
    " session { token } userErrors { code } } }"
)
FREE_FAILURES = 3  # per address, before the address itself is held back


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(
        pg_server_url,
        template_db,
        login_address_free_failures=FREE_FAILURES,
        trusted_proxies="10.0.0.0/8",
    ) as w:
        yield w


class Clock:
    """The throttle's clock, moved by hand: waiting out a delay takes no time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(world: World) -> Clock:
    clock = Clock()
    settings = world.container.settings
    world.container.access.throttle = LoginThrottle(
        settings.login_max_delay_seconds, settings.login_address_free_failures, clock
    )
    return clock


class CountingHasher:
    """Wraps the real hasher: how many checks ran, and the most at once. While `gate` is set
    and closed, every check waits for it to open."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate: threading.Event | None = None
        self.calls = self.running = self.peak = 0
        self.lock = threading.Lock()

    def _run(self, fn: Any, *args: Any) -> Any:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if self.gate is not None:
                assert self.gate.wait(30)
            return fn(*args)
        finally:
            with self.lock:
                self.running -= 1

    def hash(self, password: str) -> str:
        return str(self._run(self.inner.hash, password))

    def verify(self, password_hash: str, password: str) -> bool:
        return bool(self._run(self.inner.verify, password_hash, password))


@pytest.fixture
def hasher(world: World, monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    bounded = world.container.hasher
    counting = CountingHasher(bounded._inner)  # type: ignore[attr-defined]
    monkeypatch.setattr(bounded, "_inner", counting)
    return counting


def at(world: World, address: str) -> TestClient:
    """The app as seen from `address` (the socket peer)."""
    return TestClient(world.client.app, client=(address, 40000))


def login(client: TestClient, username: str, password: str, **headers: str) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": LOGIN, "variables": {"u": username, "p": password}}, **headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def outcome(body: dict[str, Any]) -> str:
    """OK, INVALID_CREDENTIALS or RATE_LIMITED."""
    if error_codes(body):
        (code,) = error_codes(body)
        return code
    payload = body["data"]["login"]
    return "OK" if payload["session"] else payload["userErrors"][0]["code"]


def retry_after(body: dict[str, Any]) -> int:
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    seconds: int = error["extensions"]["retryAfter"]
    assert f"{seconds} s" in error["message"]
    return seconds


# ---------------------------------------------------------------- a flood of logins
def test_a_flood_of_logins_checks_two_passwords_at_a_time_and_turns_the_rest_away(
    world: World, clock: Clock, hasher: CountingHasher
) -> None:
    """Forty wrong passwords at once, each from its own address (so no delay applies): two
    checks run at a time and eight wait; the other thirty are RATE_LIMITED at once, without
    waiting for a check (the checks are held until they have all been answered)."""
    settings = world.container.settings
    admitted = settings.password_hash_concurrency + settings.password_hash_queue
    assert admitted == 10
    username, _ = world.new_account("flooded")
    hasher.gate = threading.Event()

    def attempt(i: int) -> dict[str, Any]:
        return login(at(world, f"198.51.100.{i}"), username, f"wrong-password-{i}")

    with ThreadPoolExecutor(40) as pool:
        futures = [pool.submit(attempt, i) for i in range(40)]
        deadline = time.monotonic() + 60
        while sum(f.done() for f in futures) < 40 - admitted and time.monotonic() < deadline:
            time.sleep(0.05)
        early = [outcome(f.result()) for f in futures if f.done()]
        hasher.gate.set()
        answers = [f.result() for f in futures]
    assert early == ["RATE_LIMITED"] * (40 - admitted)
    outcomes = [outcome(a) for a in answers]
    assert outcomes.count("INVALID_CREDENTIALS") == admitted
    assert outcomes.count("RATE_LIMITED") == 40 - admitted
    assert all(retry_after(a) >= 1 for a in answers if outcome(a) == "RATE_LIMITED")
    assert hasher.peak == settings.password_hash_concurrency == 2
    # Once it has passed, the owner logs in as usual.
    hasher.gate = None
    assert outcome(login(at(world, "198.51.100.200"), username, PASSWORD)) == "OK"


# ---------------------------------------------------------------- delays per address
def test_a_failed_login_holds_the_next_one_back_without_checking_the_password(
    world: World, clock: Clock, hasher: CountingHasher
) -> None:
    username, _ = world.new_account()
    client = at(world, "192.0.2.10")
    assert outcome(login(client, username, "wrong-password-1")) == "INVALID_CREDENTIALS"
    checked = hasher.calls
    held = login(client, username, PASSWORD)  # even the right password, during the delay
    assert retry_after(held) == 1
    assert held["data"] is None
    assert hasher.calls == checked, "the password was checked during the delay"
    clock.now += 1
    assert outcome(login(client, username, PASSWORD)) == "OK"


def test_an_attacker_cannot_lock_the_owner_out_from_another_address(
    world: World, clock: Clock
) -> None:
    """Today's answer to "five wrong passwords lock any account for fifteen minutes": the
    attacker's address waits longer and longer (up to the cap), the owner does not wait."""
    username, _ = world.new_account("chief", Role.SUPER_ADMIN)
    attacker, owner = at(world, "203.0.113.66"), at(world, "192.0.2.20")
    waits = []
    for i in range(8):
        assert outcome(login(attacker, username, f"guess-number-{i}")) == "INVALID_CREDENTIALS"
        held = login(attacker, username, f"guess-number-{i}-again")
        waits.append(retry_after(held))
        clock.now += waits[-1]
    cap = world.container.settings.login_max_delay_seconds
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30] and cap == 30
    # The owner, elsewhere, logs in at once, even while the attacker waits out the cap.
    assert outcome(login(attacker, username, "guess-number-9")) == "INVALID_CREDENTIALS"
    assert outcome(login(owner, username, PASSWORD)) == "OK"
    assert retry_after(login(attacker, username, PASSWORD)) == 30


def test_many_failures_from_one_address_hold_back_that_address_only(
    world: World, clock: Clock
) -> None:
    """Failures for different names from one address: free up to a number (an office's
    staff share an address), then that address waits, whoever it names."""
    spray, office = at(world, "203.0.113.77"), at(world, "192.0.2.30")
    for i in range(FREE_FAILURES):
        assert outcome(login(spray, f"guess.{i}", "whatever-password")) == "INVALID_CREDENTIALS"
    assert outcome(login(spray, "second", PASSWORD)) == "OK"  # still free
    assert outcome(login(spray, "guess.x", "whatever-password")) == "INVALID_CREDENTIALS"
    assert retry_after(login(spray, "second", PASSWORD)) == 1
    assert outcome(login(office, "second", PASSWORD)) == "OK"
    clock.now += 1
    assert outcome(login(spray, "second", PASSWORD)) == "OK"


# ---------------------------------------------------------------- the client's address
def test_x_forwarded_for_counts_only_from_a_trusted_proxy(world: World, clock: Clock) -> None:
    username, _ = world.new_account()
    proxy = at(world, "10.1.2.3")  # in SPOA_TRUSTED_PROXIES
    stranger = at(world, "203.0.113.5")  # not: what it forwards is ignored
    via = {"headers": {"X-Forwarded-For": "198.51.100.7"}}
    assert outcome(login(proxy, username, "wrong-password-1", **via)) == "INVALID_CREDENTIALS"
    assert outcome(login(proxy, username, PASSWORD, **via)) == "RATE_LIMITED"
    # Another client behind the same proxy is another address (a made-up leftmost entry
    # is not believed: the proxy appended the address it saw).
    other = {"headers": {"X-Forwarded-For": "198.51.100.7, 198.51.100.8"}}
    assert outcome(login(proxy, username, PASSWORD, **other)) == "OK"
    clock.now += 1
    first, second = ({"headers": {"X-Forwarded-For": f"192.0.2.{i}"}} for i in (1, 2))
    assert outcome(login(stranger, username, "wrong-password-2", **first)) == (
        "INVALID_CREDENTIALS"
    )
    assert outcome(login(stranger, username, PASSWORD, **second)) == "RATE_LIMITED"


# ---------------------------------------------------------------- single sign-on
def sso(client: TestClient, value: str) -> Any:
    return client.post("/sso/spoa", data={"ticket": value})


def test_refused_tickets_hold_back_their_address_with_429(world: World, clock: Clock) -> None:
    portal_user, elsewhere = at(world, "203.0.113.88"), at(world, "192.0.2.40")
    for _ in range(FREE_FAILURES + 1):
        assert (
            sso(portal_user, ticket(key="forged-key-0123456789abcdef-0123456789")).status_code
            == 401
        )
    before = world.head()
    held = sso(portal_user, ticket("viewer"))
    assert held.status_code == 429
    assert held.json()["error"]["code"] == "RATE_LIMITED"
    assert int(held.headers["Retry-After"]) >= 1
    assert world.head() == before
    assert sso(elsewhere, ticket("viewer")).status_code == 200
    clock.now += world.container.settings.login_max_delay_seconds
    assert sso(portal_user, ticket("viewer")).status_code == 200


def test_a_failed_password_login_holds_back_sso_for_that_name_and_address(
    world: World, clock: Clock
) -> None:
    username, _ = world.new_account()
    client = at(world, "192.0.2.50")
    assert outcome(login(client, username, "wrong-password-1")) == "INVALID_CREDENTIALS"
    assert sso(client, ticket(username)).status_code == 429
    clock.now += 1
    assert sso(client, ticket(username)).status_code == 200
