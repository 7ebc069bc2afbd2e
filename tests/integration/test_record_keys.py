"""A record is stored once across batches: (source, kind, sourceRecordId) identifies it.

Against real PostgreSQL: records resent under a new batch id, batches mixing new and known
records, batch ids reused for other content, concurrent batches sharing records, and feed
events stored before the keys existed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from application.authz import Principal
from application.history.service import IngestResult
from domain.history.batch import PlatformBatch
from domain.history.records import RecordKind, columns_of
from domain.shared import DomainError
from domain.subscribers.periods import EVERYTHING
from infra.bootstrap import Container
from infra.feed_keys import KEYS_TABLE
from tests.helpers import seed_accounts
from tests.history_helpers import GD_NUMBER, record

SMS = RecordKind.SMS
DAY = date(2026, 11, 20)  # the day history_helpers.record's records are on, in Shanghai


@pytest.fixture
def platform(container: Container) -> Principal:
    return seed_accounts(container)["platform"]


def send(
    container: Container,
    who: Principal,
    numbers: range | list[int],
    batch: str,
    *,
    kind: RecordKind = SMS,
    source: str = "gw",
    **fields: Any,
) -> IngestResult:
    return container.history.ingest_records(
        who,
        source=source,
        batch_id=batch,
        kind=kind,
        records=[record(kind, n, **fields) for n in numbers],
    )


def stored_ids(container: Container, kind: RecordKind = SMS) -> list[str]:
    container.engine.catch_up("history")
    rows = container.history.records(kind, GD_NUMBER, None, None, None, 10_000, window=EVERYTHING)
    return sorted(r["source_record_id"] for r in rows)


def sent_sms(container: Container) -> int:
    container.engine.catch_up("history_usage")
    counts = container.history.usage_counts(GD_NUMBER, DAY, DAY, window=EVERYTHING)
    return counts["self_written_sms"]


def test_records_resent_under_a_new_batch_id_are_not_stored_or_counted_again(
    container: Container, platform: Principal
) -> None:
    first = send(container, platform, range(2000), "b1")
    assert (first.accepted, first.duplicate, first.duplicate_records) == (2000, False, 0)
    head = container.feed_log.head()
    again = send(container, platform, range(2000), "b2")
    assert (again.accepted, again.duplicate, again.position) == (0, False, None)
    assert again.duplicate_records == 2000
    assert container.feed_log.head() == head  # stored nothing
    assert sent_sms(container) == 2000  # not 4,000


def test_a_batch_mixing_new_and_known_records_stores_the_new_ones_once(
    container: Container, platform: Principal
) -> None:
    send(container, platform, range(3), "b1")
    mixed = send(container, platform, range(1, 6), "b2")
    assert (mixed.accepted, mixed.duplicate, mixed.duplicate_records) == (3, False, 2)
    assert mixed.position == container.feed_log.head()
    assert stored_ids(container) == [f"r{n}" for n in range(6)]
    assert sent_sms(container) == 6
    # The batch records what it got and what it skipped.
    digested = container.feed_log.stream(PlatformBatch.create_id("gw", "b2"), 0, 2)[1].event
    assert (digested.received, digested.duplicates) == (5, 2)


def test_the_same_ids_from_another_source_or_of_another_kind_are_other_records(
    container: Container, platform: Principal
) -> None:
    send(container, platform, range(3), "b1")
    assert send(container, platform, range(3), "b1", source="other-gw").accepted == 3
    assert send(container, platform, range(3), "b2", kind=RecordKind.MMS).accepted == 3
    assert stored_ids(container, RecordKind.MMS) == ["r0", "r1", "r2"]


def test_an_invalid_record_still_rejects_the_whole_batch(
    container: Container, platform: Principal
) -> None:
    send(container, platform, range(2), "b1")
    records = [record(SMS, n) for n in range(4)]
    records[3]["feeFen"] = -1
    head = container.feed_log.head()
    rejected = container.history.ingest_records(
        platform, source="gw", batch_id="b2", kind=SMS, records=records
    )
    assert (rejected.accepted, rejected.position, rejected.error_count) == (0, None, 1)
    assert container.feed_log.head() == head
    # Its new records were not taken: sent again, valid, they are stored.
    assert send(container, platform, range(4), "b2").accepted == 2


@pytest.mark.parametrize(
    "resent",
    [
        pytest.param({"numbers": range(3), "peer": "13700000000"}, id="other-content"),
        pytest.param({"numbers": range(2)}, id="fewer-records"),
        pytest.param({"numbers": range(3), "kind": RecordKind.MMS}, id="other-kind"),
        pytest.param({"numbers": range(3), "feeFen": -1}, id="invalid-records"),
    ],
)
def test_a_batch_id_reused_for_other_content_is_refused_and_stores_nothing(
    container: Container, platform: Principal, resent: dict[str, Any]
) -> None:
    first = send(container, platform, range(3), "b1")
    head = container.feed_log.head()
    with pytest.raises(DomainError) as refused:
        send(container, platform, resent.pop("numbers"), "b1", **resent)
    assert refused.value.code == "BATCH_ID_REUSED" and refused.value.field == ["batchId"]
    assert container.feed_log.head() == head
    same = send(container, platform, range(3), "b1")
    assert (same.accepted, same.duplicate, same.position) == (0, True, first.position)


def test_concurrent_batches_sharing_records_store_each_record_once(
    container: Container, platform: Principal
) -> None:
    """Rounds of three batches started together, each sharing half its records with the next;
    whoever wins, every record is stored once and accepted plus duplicates add up."""
    expected: set[str] = set()
    for round_ in range(4):
        base = round_ * 1000
        parts = [range(base + 200 * i, base + 200 * i + 400) for i in range(3)]
        results = together(
            [
                lambda p=p, b=f"round{round_}-{i}": send(container, platform, p, b)
                for i, p in enumerate(parts)
            ]
        )
        union = {f"r{n}" for numbers in parts for n in numbers}
        expected |= union
        assert sum(r.accepted for r in results) == len(union)
        assert sum(r.duplicate_records for r in results) == 3 * 400 - len(union)
    assert stored_ids(container) == sorted(expected)
    assert sent_sms(container) == len(expected)


def test_the_same_batch_sent_twice_at_once_is_stored_once_and_answers_duplicate(
    container: Container, platform: Principal
) -> None:
    results = together([lambda: send(container, platform, range(500), "twice")] * 2)
    assert sorted((r.accepted, r.duplicate) for r in results) == [(0, True), (500, False)]
    assert stored_ids(container) == sorted(f"r{n}" for n in range(500))


def together(calls: list[Callable[[], IngestResult]]) -> list[IngestResult]:
    """Run the calls in threads of their own, released at once; their results."""
    start = threading.Barrier(len(calls))
    results: list[IngestResult] = []
    errors: list[BaseException] = []

    def run(call: Callable[[], IngestResult]) -> None:
        try:
            start.wait()
            results.append(call())
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


def legacy_batch(container: Container, platform: Principal, batch_id: str, n: range) -> int:
    """A batch as stored before record keys: its events only, no keys, no digest event."""
    validator = container.history.new_validator(SMS)
    validator.add_all(record(SMS, i) for i in n)
    columns = [c.column for c in columns_of(SMS)]
    batch = PlatformBatch(
        source="gw",
        batch_id=batch_id,
        kind=SMS.value,
        columns=columns,
        record_count=len(validator.rows),
        meta=platform.meta(),
    )
    batch._records_added(kind=SMS.value, columns=columns, offset=0, records=validator.rows)
    recordings = container.feed.save(batch)  # no record keys, as the old code saved
    return int(recordings[-1].notification.id)


def keys(container: Container) -> int:
    with container.read_pool.connection() as conn:
        row = conn.execute(f"SELECT count(*) FROM {KEYS_TABLE}").fetchone()
    return int(row[0]) if row else 0


def test_records_stored_before_the_keys_existed_get_them_at_the_next_upgrade(
    container: Container, platform: Principal
) -> None:
    position = legacy_batch(container, platform, "old", range(3))
    legacy_batch(container, platform, "old-again", range(2))  # a record sent twice back then
    assert keys(container) == 0
    container.upgrade()
    assert keys(container) == 3
    resent = send(container, platform, range(4), "new")
    assert (resent.accepted, resent.duplicate_records) == (1, 3)
    container.upgrade()  # once only: keys exist now
    assert keys(container) == 4
    # A batch stored without a digest still tells a resend from a reused batch id.
    same = send(container, platform, range(3), "old")
    assert (same.duplicate, same.position) == (True, position)
    with pytest.raises(DomainError) as refused:
        send(container, platform, range(4), "old")
    assert refused.value.code == "BATCH_ID_REUSED"
