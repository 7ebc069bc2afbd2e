"""Failed logins slow down where they come from: per (username, client address) and per address.

This replaces the account lock-out, which let anyone who knew a username lock its owner out
(SUPER_ADMIN included) for fifteen minutes. A delay keyed on the failing address only slows
that address down: the owner logging in from elsewhere is not held up at all.

Each failure doubles the key's delay from one second up to a cap; failures are forgiven one per
two cap-lengths, so an attacker who waits out the cap every time stays at the cap. The state is
kept in this process only (a bounded LRU of keys): with several processes each counts its own
attempts, so the limits are per process.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from application.ports import RateLimitedError

BASE_DELAY_SECONDS = 1.0
MAX_KEYS = 50_000  # about 10 MB at most
MAX_USERNAME_KEY = 64  # longer names match no account; keep a flood of them small

Key = tuple[str, ...]


@dataclass(slots=True)
class _Entry:
    score: float  # failures, less those forgiven
    at: float  # when `score` was last brought up to date
    blocked_until: float


def address_key(address: str | None) -> str:
    """The key of a client address: an IPv6 client is its /64 (one host has all of it)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class LoginThrottle:
    def __init__(
        self,
        max_delay_seconds: float = 30,
        address_free_failures: int = 20,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.max_delay = max_delay_seconds
        self.address_free = address_free_failures
        self.forgive_seconds = 2 * max_delay_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the login flow
    def check_address(self, address: str | None) -> None:
        """Refuse while the address waits out a delay (before anything names a username)."""
        with self._lock:
            self._refuse_if_waiting([self._address(address)], self.clock())

    def admit(self, username: str, address: str | None) -> None:
        """Before the password (or SSO ticket) is checked: refused while the address or the
        (username, address) pair waits out a delay. Otherwise the attempt counts against the
        pair at once, so guesses sent in parallel do not all pass before the first fails; a
        success takes it back."""
        pair = self._pair(username, address)
        with self._lock:
            now = self.clock()
            self._refuse_if_waiting([self._address(address), pair], now)
            self._bump(pair, 0, now)

    def failed(self, address: str | None) -> None:
        """The attempt failed: it counts against the address too (the pair already holds it)."""
        with self._lock:
            self._bump(self._address(address), self.address_free, self.clock())

    def succeeded(self, username: str, address: str | None) -> None:
        with self._lock:
            self._entries.pop(self._pair(username, address), None)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _address(address: str | None) -> Key:
        return ("address", address_key(address))

    @staticmethod
    def _pair(username: str, address: str | None) -> Key:
        return ("pair", username[:MAX_USERNAME_KEY], address_key(address))

    def _refuse_if_waiting(self, keys: list[Key], now: float) -> None:
        waits = [e.blocked_until - now for k in keys if (e := self._entries.get(k)) is not None]
        wait = max(waits, default=0.0)
        if wait > 0:
            seconds = math.ceil(wait)
            raise RateLimitedError(f"too many failed logins; try again in {seconds} s", wait)

    def _bump(self, key: Key, free: int, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(0.0, now, now)
        forgiven = (now - entry.at) / self.forgive_seconds
        entry.score = max(0.0, entry.score - forgiven) + 1
        entry.at = now
        entry.blocked_until = max(entry.blocked_until, now + self._delay(entry.score, free))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)

    def _delay(self, score: float, free: int) -> float:
        over = math.ceil(score - free - 1e-9)
        if over <= 0:
            return 0.0
        doubling: float = BASE_DELAY_SECONDS * 2.0 ** min(over - 1, 32)
        return min(doubling, self.max_delay)
