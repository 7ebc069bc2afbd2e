"""Subscribers on PostgreSQL: atomic saves, concurrency, snapshots, the summary projection,
changes and as-of queries, province scoping of reads, demo data."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.authz import Principal
from application.subscribers.commands import ChangeContext
from demo.loader import load_demo_accounts, load_demo_subscribers
from domain.shared import DomainError, PermissionDeniedError
from domain.subscribers.alias_claim import alias_claim_id_for
from domain.subscribers.periods import EVERYTHING
from domain.subscribers.rules import NotificationMode
from domain.subscribers.subscriber import Subscriber, subscriber_id_for
from infra.bootstrap import Container
from tests.helpers import seed_accounts
from tests.integration.support_helpers import submitted

GD = "13800138000"
BJ = "13900139000"


@pytest.fixture
def staff(container: Container) -> dict[str, Principal]:
    return seed_accounts(container)


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once (released together by a barrier); results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def events_of(container: Container, msisdn: str) -> list[str]:
    return [type(e).__name__ for e in container.core.events.get(subscriber_id_for(msisdn))]


# ---------------------------------------------------------------------- concurrency
def test_two_writers_with_the_same_expected_version_exactly_one_succeeds(
    container: Container, staff: dict[str, Principal]
) -> None:
    commands, admin = container.subscribers, staff["admin"]
    commands.register(admin, GD, "GD", "FREE")
    for _ in range(5):
        version = container.subscriber_queries.subscriber(admin, GD).version  # type: ignore[union-attr]
        stamp = ChangeContext(expected_version=version)
        # password changes always make an event, so only the version can refuse one
        results = concurrently(
            lambda s=stamp: commands.change_password(admin, GD, "first1pass", s),
            lambda s=stamp: commands.change_password(staff["second"], GD, "second2pass", s),
        )
        ok = [r for r in results if not isinstance(r, Exception)]
        failed = [r for r in results if isinstance(r, Exception)]
        assert len(ok) == 1, results
        assert [getattr(f, "code", None) for f in failed] == ["VERSION_CONFLICT"], failed
        assert ok[0].subscriber.version == version + 1
    assert len(events_of(container, GD)) == 6


def test_writers_without_expected_version_are_retried_and_none_is_lost(
    container: Container, staff: dict[str, Principal]
) -> None:
    commands, admin = container.subscribers, staff["admin"]
    commands.register(admin, GD, "GD", "FREE")
    results = concurrently(
        lambda: commands.set_companion(admin, GD, True),
        lambda: commands.set_login_reminder(staff["second"], GD, True),
    )
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(events_of(container, GD)[1:]) == ["CompanionChanged", "LoginReminderChanged"]
    subscriber = container.subscriber_queries.subscriber(admin, GD)
    assert subscriber is not None
    assert subscriber.version == 3
    assert subscriber.companion_enabled and subscriber.login_reminder

    # many writers at once: every change is stored exactly once
    passwords = [f"pass{i}word" for i in range(8)]
    results = concurrently(
        *[lambda p=p: commands.change_password(staff["platform"], GD, p) for p in passwords]
    )
    assert all(not isinstance(r, Exception) for r in results), results
    assert events_of(container, GD).count("PasswordChanged") == 8
    assert len({r.position for r in results}) == 8


def test_two_mailboxes_claiming_one_alias_at_once(
    container: Container, staff: dict[str, Principal]
) -> None:
    commands, admin = container.subscribers, staff["admin"]
    commands.register(admin, GD, "GD", "FREE")
    commands.register(admin, BJ, "BJ", "FREE")
    results = concurrently(
        lambda: commands.set_alias(admin, GD, "lily.chen"),
        lambda: commands.set_alias(staff["bj.agent"], BJ, "lily.chen"),
    )
    codes = sorted(getattr(r, "code", "OK") for r in results)
    assert codes == ["ALIAS_TAKEN", "OK"], results
    holders = [
        s.alias
        for s in (
            container.subscriber_queries.subscriber(admin, GD),
            container.subscriber_queries.subscriber(admin, BJ),
        )
        if s is not None
    ]
    assert holders.count("lily.chen") == 1
    claim = container.core.repository.get(alias_claim_id_for("lily.chen"))
    assert claim.holder_msisdn in (GD, BJ)


def test_concurrent_first_registrations_one_wins(
    container: Container, staff: dict[str, Principal]
) -> None:
    results = concurrently(
        lambda: container.subscribers.register(staff["admin"], GD, "GD", "FREE"),
        lambda: container.subscribers.register(staff["gd.agent"], GD, "GD", "VIP_20"),
    )
    assert sorted(getattr(r, "code", "OK") for r in results) == ["ALREADY_REGISTERED", "OK"]
    assert events_of(container, GD) == ["MailboxRegistered"]


# ---------------------------------------------------------------------- storage
def test_a_refused_command_stores_nothing_and_positions_grow(
    container: Container, staff: dict[str, Principal]
) -> None:
    commands, admin = container.subscribers, staff["admin"]
    first = commands.register(admin, GD, "GD", "FREE")
    second = commands.set_alias(admin, GD, "lily.chen")
    assert second.position > first.position
    head = container.core_log.head()
    assert second.position == head  # the alias claim and the subscriber in one transaction
    with pytest.raises(DomainError):
        commands.set_alias(admin, GD, "root")
    with pytest.raises(DomainError):
        commands.unfreeze(admin, GD)
    assert container.core_log.head() == head


def test_snapshots_keep_loads_short_and_equal_to_a_full_replay(
    container: Container, staff: dict[str, Principal]
) -> None:
    commands, admin = container.subscribers, staff["admin"]
    commands.register(admin, GD, "GD", "FREE")
    for i in range(44):
        commands.set_companion(admin, GD, i % 2 == 0)
    snapshots = list(container.core.snapshots.get(subscriber_id_for(GD)))  # type: ignore[union-attr]
    assert [s.originator_version for s in snapshots] == [20, 40]
    loaded = container.core.repository.get(subscriber_id_for(GD))
    replayed: Any = None
    for event in container.core.events.get(subscriber_id_for(GD)):
        replayed = event.mutate(replayed)
    assert {k: v for k, v in vars(loaded).items() if k != "_pending_events"} == {
        k: v for k, v in vars(replayed).items() if k != "_pending_events"
    }
    assert loaded.version == 45


# ---------------------------------------------------------------------- queries
def test_changes_newest_first_with_actor_reason_and_before_after(
    container: Container, staff: dict[str, Principal]
) -> None:
    commands, queries = container.subscribers, container.subscriber_queries
    commands.register(staff["gd.agent"], GD, "GD", "FREE", ChangeContext(reason="new customer"))
    asked = submitted(container, staff["gd.agent"], title="升级套餐", msisdn=GD)
    commands.change_plan(
        staff["second"], GD, "VIP_20", ChangeContext(reason="upgrade", ticket_id=str(asked))
    )
    commands.change_password(staff["platform"], GD, "Secret2026")
    subscriber = queries.subscriber(staff["auditor"], GD)
    assert subscriber is not None
    changes = queries.changes(staff["auditor"], subscriber, EVERYTHING, None, 10)
    assert [c.type for c in changes] == ["PasswordChanged", "PlanChanged", "MailboxRegistered"]
    assert [c.version for c in changes] == [3, 2, 1]
    assert changes[0].data["password_hash"] == "[REDACTED]"
    assert "Secret2026" not in repr(changes)
    plan = changes[1]
    assert (plan.actor_username, plan.reason, plan.ticket_id) == (
        "second",
        "upgrade",
        str(asked),
    )
    assert plan.data == {"previous_plan_code": "FREE", "plan_code": "VIP_20"}
    assert plan.stream_type == "Subscriber" and plan.stream_id == GD
    # paging: after version 2, only the registration remains
    assert [c.type for c in queries.changes(staff["auditor"], subscriber, EVERYTHING, 2, 10)] == [
        "MailboxRegistered"
    ]
    # the audit trail finds the stream by its msisdn too
    trail = container.audit.trail(staff["auditor"], "Subscriber", GD, 0, 10)
    assert [t.type for t in trail] == ["MailboxRegistered", "PlanChanged", "PasswordChanged"]


def test_subscriber_as_of_rebuilds_past_states(
    container: Container, staff: dict[str, Principal]
) -> None:
    commands, queries, admin = container.subscribers, container.subscriber_queries, staff["admin"]
    before = datetime.now(UTC)
    time.sleep(0.01)
    commands.register(admin, GD, "GD", "FREE")
    moments = []
    for plan in ["PLUS_5", "VIP_20", "FREE", "PLUS_5"]:
        time.sleep(0.01)
        moments.append(datetime.now(UTC))
        commands.change_plan(admin, GD, plan)
    assert queries.subscriber_as_of(admin, GD, before) is None
    plans = [queries.subscriber_as_of(admin, GD, m) for m in moments]
    assert [p.plan_code for p in plans if p] == ["FREE", "PLUS_5", "VIP_20", "FREE"]
    assert [p.version for p in plans if p] == [1, 2, 3, 4]
    now = queries.subscriber_as_of(admin, GD, datetime.now(UTC) + timedelta(days=1))
    assert now is not None and now.version == 5
    assert queries.subscriber_as_of(admin, "13700137000", datetime.now(UTC)) is None


def test_reads_are_scoped_to_the_province(
    container: Container, staff: dict[str, Principal]
) -> None:
    container.subscribers.register(staff["admin"], GD, "GD", "FREE")
    queries = container.subscriber_queries
    for who in ["admin", "second", "gd.agent", "viewer", "gd.viewer", "auditor"]:
        assert queries.subscriber(staff[who], GD) is not None, who
        assert queries.plans(staff[who])
    for who in ["bj.agent", "platform"]:
        with pytest.raises(PermissionDeniedError):
            queries.subscriber(staff[who], GD)
        with pytest.raises(PermissionDeniedError):
            queries.subscriber_as_of(staff[who], GD, datetime.now(UTC))
    with pytest.raises(PermissionDeniedError):
        queries.plans(staff["platform"])
    subscriber = queries.subscriber(staff["admin"], GD)
    with pytest.raises(PermissionDeniedError):
        queries.changes(staff["bj.agent"], subscriber, EVERYTHING, None, 10)  # type: ignore[arg-type]
    with pytest.raises(DomainError) as caught:
        queries.subscriber(staff["admin"], "12345")
    assert caught.value.code == "INVALID_MSISDN"


# ---------------------------------------------------------------------- projection
def _summary_rows(container: Container) -> list[tuple[Any, ...]]:
    with container.read_pool.connection() as conn:
        return conn.execute(
            "SELECT msisdn, province, status, plan_code, alias, companion_enabled,"
            " bill_delivery, arrival_enabled, arrival_mode, arrival_window_start,"
            " arrival_window_end, login_reminder, sms_blacklist_level, registered_at,"
            " deregistered_at, frozen_at, frozen_reason, password_changed_at, version"
            " FROM rm.subscribers ORDER BY msisdn"
        ).fetchall()


def _aggregate_rows(container: Container, numbers: list[str]) -> list[tuple[Any, ...]]:
    rows = []
    for msisdn in sorted(numbers):
        s: Subscriber = container.core.repository.get(subscriber_id_for(msisdn))
        rows.append(
            (
                s.msisdn,
                s.province,
                s.status,
                s.plan_code,
                s.alias,
                s.companion_enabled,
                s.bill_delivery,
                s.arrival_enabled,
                s.arrival_mode,
                s.arrival_window_start,
                s.arrival_window_end,
                s.login_reminder,
                s.sms_blacklist_level,
                s.registered_at,
                s.deregistered_at,
                s.frozen_at,
                s.frozen_reason,
                s.password_changed_at,
                s.version,
            )
        )
    return rows


def test_demo_data_and_the_summary_projection_agree_with_the_aggregates(
    container: Container,
) -> None:
    load_demo_accounts(container.access)
    numbers = load_demo_subscribers(container.access, container.subscribers, container.audit)
    assert len(numbers) == 300
    again = load_demo_subscribers(container.access, container.subscribers, container.audit)
    assert again == []  # idempotent
    counts = container.subscriber_summaries  # before catch-up the table is empty
    container.engine.catch_up("subscribers")
    by_status: dict[str, int] = {}
    provinces = set()
    for (province, status), n in counts.counts().items():
        by_status[status] = by_status.get(status, 0) + n
        provinces.add(province)
    assert set(by_status) == {"ACTIVE", "FROZEN", "DEREGISTERED"}
    assert len(provinces) >= 10
    incremental = _summary_rows(container)
    assert incremental == _aggregate_rows(container, numbers)
    showcase = {
        m: container.core.repository.get(subscriber_id_for(m)).status
        for m in ("13800138000", "13700137000", "13600136000")
    }
    assert showcase == {
        "13800138000": "ACTIVE",
        "13700137000": "FROZEN",
        "13600136000": "DEREGISTERED",
    }
    # histories: every subscriber has changes, some were re-registered, aliases are unique
    versions = [row[-1] for row in incremental]
    assert sum(versions) / len(versions) > 4
    aliases = [row[4] for row in incremental if row[4]]
    assert len(aliases) == len(set(aliases)) and len(aliases) > 20
    # a blue/green rebuild from position 0 gives the same table
    container.rebuilds.rebuild("subscribers")
    assert _summary_rows(container) == incremental


def test_summary_projection_follows_alias_moves_within_one_page(
    container: Container, staff: dict[str, Principal]
) -> None:
    commands, admin = container.subscribers, staff["admin"]
    commands.register(admin, GD, "GD", "FREE")
    commands.register(admin, BJ, "BJ", "FREE")
    container.engine.catch_up("subscribers")
    commands.set_alias(admin, GD, "lily.chen")
    commands.set_alias(admin, GD, None)
    commands.set_alias(admin, BJ, "lily.chen")
    commands.set_arrival_notification(admin, BJ, True, NotificationMode.SMS, "22:00", "07:00")
    commands.freeze(admin, GD, "phishing")
    commands.deregister(admin, GD)
    commands.register(admin, GD, "GD", "VIP_20")
    container.engine.catch_up("subscribers")
    assert _summary_rows(container) == _aggregate_rows(container, [GD, BJ])
    summary = container.subscriber_summaries.get(BJ)
    assert summary is not None and summary.alias == "lily.chen"


def test_an_alias_race_with_expected_versions_is_alias_taken_not_a_version_conflict(
    container: Container, staff: dict[str, Principal]
) -> None:
    commands, admin = container.subscribers, staff["admin"]
    commands.register(admin, GD, "GD", "FREE")
    commands.register(admin, BJ, "BJ", "FREE")
    for round_ in range(3):
        alias = f"race.{round_}"
        versions = [
            container.subscriber_queries.subscriber(admin, m).version  # type: ignore[union-attr]
            for m in (GD, BJ)
        ]
        results = concurrently(
            lambda a=alias, v=versions[0]: commands.set_alias(
                admin, GD, a, ChangeContext(expected_version=v)
            ),
            lambda a=alias, v=versions[1]: commands.set_alias(
                admin, BJ, a, ChangeContext(expected_version=v)
            ),
        )
        assert sorted(getattr(r, "code", "OK") for r in results) == ["ALIAS_TAKEN", "OK"]
