"""argon2id password hashing (design.md §2.8), bounded in concurrency (decision 10)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from application.ports import PasswordHasher, RateLimitedError


class Argon2Hasher:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._hasher = _Argon2(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


class BoundedHasher:
    """At most `concurrency` hashes at once, at most `queue` more waiting; beyond, refused.

    Each argon2id hash holds its memory cost (64 MiB by default) and a core while it runs:
    forty logins at once took 2.3 GB and held every other request up for seconds. Waiting
    here is in a worker thread, so the queue is short and the rest are told to come back.
    """

    def __init__(self, inner: PasswordHasher, concurrency: int, queue: int) -> None:
        self._inner = inner
        self._slots = threading.Semaphore(concurrency)
        self._limit = concurrency + queue
        self._admitted = 0  # running or waiting
        self._lock = threading.Lock()

    @contextmanager
    def _slot(self) -> Iterator[None]:
        with self._lock:
            if self._admitted >= self._limit:
                raise RateLimitedError("too many password checks at once; try again in 1 s", 1)
            self._admitted += 1
        try:
            with self._slots:
                yield
        finally:
            with self._lock:
                self._admitted -= 1

    def hash(self, password: str) -> str:
        with self._slot():
            return self._inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self._slot():
            return self._inner.verify(password_hash, password)
