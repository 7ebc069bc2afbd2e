"""`subscriber(msisdn)`: the aggregate with snapshots vs a full replay vs the summary projection.

    .venv/bin/python bench/subscribers_reads.py [--reads 2000] [--history 10 50 200]

For subscribers with histories of the given lengths (in a fresh database on the machine's
PostgreSQL), times reading one subscriber: (a) the Subscriber aggregate through the store's
repository, which starts from the latest snapshot (every 20 events, infra/stores.py) and
replays at most 19 events; (b) a full replay of every event, as without snapshots; (c) one row
of the rm.subscribers summary projection. Prints p50/p99 in ms. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subscribers_generate import (
    bench_container,
    drop_database,
    ensure_accounts,
    fresh_database,
)

from domain.subscribers.rules import SmsBlacklistLevel
from domain.subscribers.subscriber import subscriber_id_for

LEVELS = list(SmsBlacklistLevel)


def timed(call: Callable[[], Any], reads: int) -> tuple[float, float]:
    samples = []
    for _ in range(reads):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(0.99 * (len(samples) - 1))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--history", type=int, nargs="+", default=[10, 50, 200])
    args = parser.parse_args()
    url = fresh_database()
    container = bench_container(url)
    try:
        admin = ensure_accounts(container)["bench.admin"]
        commands = container.subscribers
        numbers = {}
        for index, length in enumerate(args.history):
            msisdn = f"1380000{index:04d}"
            commands.register(admin, msisdn, "GD", "FREE")
            for step in range(length - 1):
                commands.set_sms_blacklist(admin, msisdn, LEVELS[(step + 1) % len(LEVELS)])
            numbers[length] = msisdn
        container.engine.catch_up("subscribers")
        store = container.core
        print(
            f"{'events':>7}  {'aggregate+snapshots':>22}  {'full replay':>16}  {'summary row':>16}"
        )
        print(f"{'':>7}  {'p50 / p99 ms':>22}  {'p50 / p99 ms':>16}  {'p50 / p99 ms':>16}")
        for length, msisdn in numbers.items():
            sid = subscriber_id_for(msisdn)

            def replay(sid: Any = sid) -> Any:
                aggregate = None
                for event in store.events.get(sid):
                    aggregate = event.mutate(aggregate)
                return aggregate

            def summary(msisdn: str = msisdn) -> Any:
                return container.subscriber_summaries.get(msisdn)

            snap = timed(lambda sid=sid: store.repository.get(sid), args.reads)
            full = timed(replay, max(50, args.reads // 4))
            row = timed(summary, args.reads)
            print(
                f"{length:>7}  {snap[0]:>10.2f} / {snap[1]:>7.2f}"
                f"  {full[0]:>7.2f} / {full[1]:>6.2f}  {row[0]:>7.2f} / {row[1]:>6.2f}"
            )
        query = timed(lambda: container.subscriber_queries.subscriber(admin, numbers[max(numbers)]),
                      args.reads)  # fmt: skip
        print(f"subscriber query (authz + aggregate), {max(numbers)} events: p50 {query[0]:.2f} ms")
    finally:
        container.close()
        drop_database(url)


if __name__ == "__main__":
    main()
