"""History ingestion and projections against real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.authz import Principal
from domain.history.records import RecordKind
from domain.shared import DomainError, PermissionDeniedError
from domain.subscribers.periods import EVERYTHING
from infra.bootstrap import Container
from tests.helpers import seed_accounts
from tests.history_helpers import BJ_NUMBER, GD_NUMBER, record

SH = timedelta(hours=8)


@pytest.fixture
def people(container: Container) -> dict[str, Principal]:
    return seed_accounts(container)


def ingest(
    container: Container, who: Principal, kind: RecordKind, records: list[Any], batch: str = "b1"
) -> Any:
    return container.history.ingest_records(
        who, source="gw", batch_id=batch, kind=kind, records=records
    )


def page(container: Container, kind: RecordKind, msisdn: str = GD_NUMBER, **kw: Any) -> list[Any]:
    container.engine.catch_up("history")
    container.engine.catch_up("history_usage")
    args = {"start": None, "end": None, "after": None, "limit": 50, "window": EVERYTHING} | kw
    return container.history.records(kind, msisdn, **args)


def test_a_batch_is_stored_once_and_a_resend_answers_duplicate(
    container: Container, people: dict[str, Principal]
) -> None:
    records = [record(RecordKind.SMS, n) for n in range(3)]
    first = ingest(container, people["platform"], RecordKind.SMS, records)
    again = ingest(container, people["admin"], RecordKind.SMS, records)
    assert (first.accepted, first.duplicate) == (3, False)
    assert (again.accepted, again.duplicate, again.position) == (0, True, first.position)
    assert again.duplicate_records == 3
    assert container.feed_log.head() == first.position == 3  # header, digest, one chunk
    assert len(page(container, RecordKind.SMS)) == 3


def test_an_invalid_batch_stores_nothing(
    container: Container, people: dict[str, Principal]
) -> None:
    result = ingest(
        container,
        people["platform"],
        RecordKind.SMS,
        [record(RecordKind.SMS, 0), record(RecordKind.SMS, 1, feeFen=-5)],
    )
    assert result.accepted == 0 and result.position is None
    assert [(e.index, e.field) for e in result.errors] == [(1, "feeFen")]
    assert container.feed_log.head() == 0


@pytest.mark.parametrize("who", ["second", "gd.agent", "viewer", "auditor"])
def test_only_integration_and_super_admin_may_ingest(
    container: Container, people: dict[str, Principal], who: str
) -> None:
    with pytest.raises(PermissionDeniedError):
        ingest(container, people[who], RecordKind.SMS, [record(RecordKind.SMS)])
    assert container.feed_log.head() == 0


def test_empty_and_oversized_batches_are_refused(
    container: Container, people: dict[str, Principal]
) -> None:
    with pytest.raises(DomainError) as empty:
        ingest(container, people["platform"], RecordKind.SMS, [])
    assert empty.value.code == "EMPTY_BATCH"
    container.history.max_records = 2
    with pytest.raises(DomainError) as big:
        ingest(
            container,
            people["platform"],
            RecordKind.SMS,
            [record(RecordKind.SMS, n) for n in range(3)],
        )
    assert big.value.code == "BATCH_TOO_LARGE"
    assert container.feed_log.head() == 0


def test_records_for_an_unknown_number_are_accepted(
    container: Container, people: dict[str, Principal]
) -> None:
    result = ingest(
        container,
        people["platform"],
        RecordKind.LOGIN,
        [record(RecordKind.LOGIN, msisdn="19912345678")],
    )
    assert result.accepted == 1
    assert len(page(container, RecordKind.LOGIN, "19912345678")) == 1


def test_pages_are_newest_first_and_keyset_pagination_survives_new_arrivals(
    container: Container, people: dict[str, Principal]
) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    ingest(
        container,
        people["platform"],
        RecordKind.CHARGE,
        [record(RecordKind.CHARGE, n, at=base + timedelta(hours=n)) for n in range(5)],
    )
    first = page(container, RecordKind.CHARGE, limit=2)
    assert [r["source_record_id"] for r in first] == ["r4", "r3"]
    # Newer and older records arrive between pages: the next page continues where it was.
    ingest(
        container,
        people["platform"],
        RecordKind.CHARGE,
        [
            record(RecordKind.CHARGE, 10, at=base + timedelta(days=9)),
            record(RecordKind.CHARGE, 11, at=base - timedelta(days=1)),
        ],
        batch="b2",
    )
    last = first[-1]
    keyset = (last["occurred_at"].isoformat(), last["batch_pos"], last["idx"])
    second = page(container, RecordKind.CHARGE, after=keyset, limit=10)
    assert [r["source_record_id"] for r in second] == ["r2", "r1", "r0", "r11"]
    beyond = second[-1]
    past_end = (beyond["occurred_at"].isoformat(), beyond["batch_pos"], beyond["idx"])
    assert page(container, RecordKind.CHARGE, after=past_end) == []


def test_an_empty_history_and_exactly_one_page(
    container: Container, people: dict[str, Principal]
) -> None:
    assert page(container, RecordKind.SYNC) == []
    ingest(
        container,
        people["platform"],
        RecordKind.SYNC,
        [record(RecordKind.SYNC, n) for n in range(3)],
    )
    assert len(page(container, RecordKind.SYNC, limit=3)) == 3


def test_windows_include_from_exclude_to_across_shanghai_midnight(
    container: Container, people: dict[str, Principal]
) -> None:
    # 23:59:59 and 00:00:00 Shanghai time straddle a calendar day.
    before = datetime(2026, 11, 27, 15, 59, 59, tzinfo=UTC)  # 23:59:59 +08:00
    midnight = datetime(2026, 11, 27, 16, 0, 0, tzinfo=UTC)  # 00:00:00 +08:00 on the 28th
    ingest(
        container,
        people["platform"],
        RecordKind.SMS,
        [record(RecordKind.SMS, 0, at=before), record(RecordKind.SMS, 1, at=midnight)],
    )
    inside = page(container, RecordKind.SMS, start=midnight, end=midnight + timedelta(days=1))
    assert [r["source_record_id"] for r in inside] == ["r1"]
    day_before = page(container, RecordKind.SMS, start=midnight - timedelta(days=1), end=midnight)
    assert [r["source_record_id"] for r in day_before] == ["r0"]
    counts_28 = container.history.usage_counts(
        GD_NUMBER, date(2026, 11, 28), date(2026, 11, 28), window=EVERYTHING
    )
    counts_27 = container.history.usage_counts(
        GD_NUMBER, date(2026, 11, 27), date(2026, 11, 27), window=EVERYTHING
    )
    assert counts_28["self_written_sms"] == 1 and counts_27["self_written_sms"] == 1


def test_login_channel_filter(container: Container, people: dict[str, Principal]) -> None:
    ingest(
        container,
        people["platform"],
        RecordKind.LOGIN,
        [record(RecordKind.LOGIN, 0, channel="WEB"), record(RecordKind.LOGIN, 1, channel="POP")],
    )
    rows = page(container, RecordKind.LOGIN, channel="POP")
    assert [r["channel"] for r in rows] == ["POP"]


def test_points_balance_and_level_come_from_the_latest_record(
    container: Container, people: dict[str, Principal]
) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    ingest(
        container,
        people["platform"],
        RecordKind.POINTS,
        [
            record(RecordKind.POINTS, 0, at=base + timedelta(days=2), balance=300, level=3),
            record(RecordKind.POINTS, 1, at=base, balance=100, level=1),
        ],
    )
    # A later batch with an older record does not move the standing back.
    ingest(
        container,
        people["platform"],
        RecordKind.POINTS,
        [record(RecordKind.POINTS, 2, at=base + timedelta(days=1), balance=50, level=0)],
        batch="b2",
    )
    container.engine.catch_up("history")
    assert container.history.points(GD_NUMBER, window=EVERYTHING) == (300, 3)
    assert container.history.points(BJ_NUMBER, window=EVERYTHING) == (0, 0)


def test_usage_range_rules(container: Container) -> None:
    with pytest.raises(DomainError) as backwards:
        container.history.usage_counts(
            GD_NUMBER, date(2026, 11, 2), date(2026, 11, 1), window=EVERYTHING
        )
    assert backwards.value.code == "INVALID_RANGE"


@settings(max_examples=8)
@given(
    data=st.lists(
        st.tuples(
            st.sampled_from([RecordKind.SMS, RecordKind.MMS]),
            st.sampled_from(["SELF_WRITTEN", "MAIL_ARRIVAL_NOTICE", "MARKETING"]),
            st.sampled_from(["SENT", "RECEIVED"]),
            st.sampled_from([0, 1]),  # which of this example's two numbers
            st.integers(min_value=0, max_value=6 * 24 * 60),  # minutes into the window
        ),
        min_size=1,
        max_size=40,
    ),
    first_day=st.integers(min_value=0, max_value=5),
    span=st.integers(min_value=0, max_value=5),
)
def test_usage_counts_equal_a_brute_force_count(
    container: Container,
    people: dict[str, Principal],
    data: list[Any],
    first_day: int,
    span: int,
) -> None:
    origin = datetime(2026, 10, 1, tzinfo=UTC)
    # Hypothesis reuses the database across examples and the store is append-only, so each
    # example gets numbers of its own.
    head = container.feed_log.head()
    numbers = (f"137{head:08d}", f"136{head:08d}")
    batch = f"h{head}"
    by_kind: dict[RecordKind, list[Any]] = {RecordKind.SMS: [], RecordKind.MMS: []}
    expected: list[tuple[str, RecordKind, str, str, date]] = []
    for n, (kind, category, direction, which, minute) in enumerate(data):
        msisdn = numbers[which]
        at = origin + timedelta(minutes=minute)
        by_kind[kind].append(
            record(kind, n, msisdn=msisdn, at=at, category=category, direction=direction)
            | {"sourceRecordId": f"{batch}-{n}"}  # a record is stored once across batches
        )
        expected.append((msisdn, kind, category, direction, (at + SH).date()))
    for kind, records in by_kind.items():
        if records:
            ingest(container, people["platform"], kind, records, batch=f"{batch}-{kind}")
    container.engine.catch_up("history_usage")
    start = (origin + SH).date() + timedelta(days=first_day)
    end = start + timedelta(days=span)
    for msisdn in numbers:
        counts = container.history.usage_counts(msisdn, start, end, window=EVERYTHING)
        mine = [e for e in expected if e[0] == msisdn and start <= e[4] <= end]
        assert counts == {
            "self_written_sms": sum(
                1
                for e in mine
                if e[1] is RecordKind.SMS and e[2] == "SELF_WRITTEN" and e[3] == "SENT"
            ),
            "self_written_mms": sum(
                1
                for e in mine
                if e[1] is RecordKind.MMS and e[2] == "SELF_WRITTEN" and e[3] == "SENT"
            ),
            "arrival_notifications": sum(1 for e in mine if e[2] == "MAIL_ARRIVAL_NOTICE"),
        }


def test_rebuilding_the_history_projection_equals_the_incremental_tables(
    container: Container, people: dict[str, Principal]
) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for kind in RecordKind:
        ingest(
            container,
            people["platform"],
            kind,
            [record(kind, n, at=base + timedelta(hours=n * 7)) for n in range(30)],
            batch=f"b-{kind}",
        )
    container.engine.catch_up_all()
    before = _snapshot(container)
    assert before["usage_daily"] and before["points_latest"] and before["sms_records"]
    container.rebuilds.rebuild("history")
    container.rebuilds.rebuild("history_usage")
    assert _snapshot(container) == before


def _snapshot(container: Container) -> dict[str, list[Any]]:
    projections = container.engine.projections
    tables = projections["history"].tables + projections["history_usage"].tables
    result = {}
    with container.read_pool.connection() as conn:
        for table in tables:
            rows = conn.execute(f"SELECT * FROM rm.{table}").fetchall()
            result[table] = sorted(map(repr, rows))
    return result


def test_a_batch_of_many_chunks_lands_whole_with_its_usage(
    container: Container, people: dict[str, Principal]
) -> None:
    """4,500 records are three stored chunks: every row lands once, in batch order, and the
    usage counters equal a count over the records (across Shanghai midnight)."""
    base = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    numbers = (GD_NUMBER, BJ_NUMBER, "13700137000")
    records = [
        record(
            RecordKind.SMS,
            n,
            msisdn=numbers[n % 3],
            at=base + timedelta(seconds=2 * n),
            category="SELF_WRITTEN" if n % 4 else "MAIL_ARRIVAL_NOTICE",
            direction="SENT" if n % 5 else "RECEIVED",
        )
        for n in range(4500)
    ]
    result = ingest(container, people["platform"], RecordKind.SMS, records)
    assert result.accepted == 4500
    container.engine.catch_up_all()
    with container.read_pool.connection() as conn:
        idx = [r[0] for r in conn.execute("SELECT idx FROM rm.sms_records ORDER BY idx")]
    assert idx == list(range(4500))
    for which, msisdn in enumerate(numbers):
        for day in (date(2026, 11, 1), date(2026, 11, 2)):
            mine = [
                (n, base + timedelta(seconds=2 * n))
                for n in range(which, 4500, 3)
                if (base + timedelta(seconds=2 * n) + timedelta(hours=8)).date() == day
            ]
            assert container.history.usage_counts(msisdn, day, day, window=EVERYTHING) == {
                "self_written_sms": sum(1 for n, _ in mine if n % 4 and n % 5),
                "self_written_mms": 0,
                "arrival_notifications": sum(1 for n, _ in mine if not n % 4),
            }


@pytest.mark.parametrize(
    "details",
    [
        # no empty string: the CSV path
        [None, 'a,b "quoted"\nsecond line\r\n', "\\N", "\\.", "日本語 ,", " padded "],
        # an empty string: written row by row, "" stays "" and None stays NULL
        ["", None, 'x""y', '"'],
    ],
)
def test_text_values_reach_the_tables_exactly(
    container: Container, people: dict[str, Principal], details: list[str | None]
) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    records = [
        record(RecordKind.USAGE, n, at=base + timedelta(minutes=n), detail=detail)
        for n, detail in enumerate(details)
    ]
    ingest(container, people["platform"], RecordKind.USAGE, records)
    rows = page(container, RecordKind.USAGE)
    assert [r["detail"] for r in reversed(rows)] == details
