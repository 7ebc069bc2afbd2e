"""Blocking application code (database reads and writes) off the event loop, cheaply.

A GraphQL request makes two such calls (the account re-check, then the resolver's command or
query). anyio.to_thread.run_sync costs markedly more CPU per call than a plain executor (its
capacity limiter, cancel scope and Condition-based worker queue), a visible share of a proxy
setting's server CPU (bench/subscribers_mutations.py). Like anyio, the call runs with
the caller's context variables (the correlation id of the logs), up to SPOA_WORKER_THREADS at
a time.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

_workers = ThreadPoolExecutor(max_workers=40, thread_name_prefix="spoa-blocking")
_size = 40


def configure(max_workers: int) -> None:
    """Size the worker pool (SPOA_WORKER_THREADS) before the app serves."""
    global _workers, _size
    if max_workers != _size:
        previous = _workers
        _workers = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="spoa-blocking")
        _size = max_workers
        previous.shutdown(wait=False)


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """fn(*args, **kwargs) in a worker thread; the awaiting task gets its result or error."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_workers, call)
