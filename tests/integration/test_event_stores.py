"""Both event stores on PostgreSQL: saving, reading, atomicity, and the append-only trigger."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, Mapper

from application.unit_of_work import save
from domain.access.account import ROSTER_ID, Account, SuperAdminRoster, account_id_for
from domain.access.permissions import Role
from domain.shared import Actor, ChangeMeta
from infra.bootstrap import Container
from infra.stores import CORE_EVENTS_TABLE, FEED_EVENTS_TABLE
from tests.conftest import _with_dbname, make_settings

META = ChangeMeta(Actor(account_id="", username="test", role="", province=None))


class Probe(Aggregate):
    """A stand-in aggregate for the feed store (its real aggregates belong to other issues)."""

    TOPIC = "spoa.tests:Probe"

    class Event(Aggregate.Event):
        TOPIC = "spoa.tests:Probe.Event"

    @event("Started", topic="spoa.tests:Probe.Started")
    def __init__(self, label: str) -> None:
        self.label = label
        self.ticks = 0

    @event("Ticked", topic="spoa.tests:Probe.Ticked")
    def tick(self) -> None:
        self.ticks += 1


def account(username: str, role: Role = Role.VIEWER) -> Account:
    return Account.register(
        username=username,
        display_name=username,
        role=role,
        province=None,
        password_hash="hash",
        meta=META,
    )


def count(container: Container, table: str) -> int:
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def test_core_store_saves_and_reads_an_account(container: Container) -> None:
    alice = account("alice")
    first = save(container.core, alice)
    alice.disable("gone", META)
    second = save(container.core, alice)
    assert (first, second) == (1, 2)

    loaded = container.core.repository.get(account_id_for("alice"))
    assert vars(loaded) == {**vars(alice), "_pending_events": []}
    assert loaded.role is Role.VIEWER and not loaded.enabled

    log = container.core_log
    assert log.head() == 2
    assert [(r.position, type(r.event).__name__) for r in log.feed(0, 10)] == [
        (1, "AccountCreated"),
        (2, "AccountDisabled"),
    ]
    assert [r.event.originator_version for r in log.stream(alice.id, 1, 10)] == [2]
    assert [r.position for r in log.stream(alice.id, 3, 10, descending=True)] == [2, 1]


def test_feed_store_keeps_its_own_log(container: Container) -> None:
    save(container.core, account("alice"))
    probe = Probe(label="batch-1")
    probe.tick()
    probe.tick()
    assert save(container.feed, probe) == 3  # positions count in the feed log alone
    assert container.feed.repository.get(probe.id).ticks == 2
    assert container.feed_log.head() == 3
    assert container.core_log.head() == 1
    assert count(container, FEED_EVENTS_TABLE) == 3
    assert count(container, CORE_EVENTS_TABLE) == 1


def test_feed_log_filters_by_topic(container: Container) -> None:
    probe = Probe(label="x")
    probe.tick()
    save(container.feed, probe)
    ticks = container.feed_log.feed(0, 10, [Probe.Ticked.TOPIC])  # type: ignore[attr-defined]
    assert [r.position for r in ticks] == [2]


def test_several_aggregates_are_saved_in_one_transaction_or_not_at_all(
    container: Container,
) -> None:
    root = account("root", Role.SUPER_ADMIN)
    roster = SuperAdminRoster()
    roster.add(root.id)
    save(container.core, root, roster)

    stale_roster = container.core.repository.get(ROSTER_ID)
    fresh_roster = container.core.repository.get(ROSTER_ID)
    fresh_roster.add(account_id_for("deputy"))
    save(container.core, fresh_roster)

    deputy2 = account("deputy2", Role.SUPER_ADMIN)
    stale_roster.add(deputy2.id)
    with pytest.raises(IntegrityError):
        save(container.core, deputy2, stale_roster)
    # The new account did not slip in without its roster entry.
    assert count(container, CORE_EVENTS_TABLE) == 4
    assert container.core_log.stream(deputy2.id, 0, 10) == []


def test_an_account_restored_from_a_postgres_snapshot_keeps_its_role(
    container: Container,
) -> None:
    root = account("root", Role.SUPER_ADMIN)
    save(container.core, root)
    at = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(55):  # CoreStore snapshots accounts every 50 events
        root.login_succeeded(at=at + timedelta(minutes=i), channel="PASSWORD", meta=META)
        save(container.core, root)
    assert count(container, "core_snapshots") == 1
    restored = container.core.repository.get(root.id)
    assert restored.role is Role.SUPER_ADMIN
    assert restored.version == 56
    assert restored.last_login_at == at + timedelta(minutes=54)


# ---------------------------------------------------------------- append-only
MUTATIONS = {
    "UPDATE": "UPDATE {table} SET topic = 'forged'",
    "UPDATE one row": "UPDATE {table} SET state = state WHERE notification_id = 1",
    "DELETE": "DELETE FROM {table}",
    "DELETE one row": "DELETE FROM {table} WHERE notification_id = 1",
    "TRUNCATE": "TRUNCATE {table}",
    "TRUNCATE CASCADE": "TRUNCATE {table} CASCADE",
}


@pytest.fixture(scope="module")
def written(pg_server_url: str, template_db: str) -> Iterator[Container]:
    """One event in each store, shared by the tests that must fail to change them."""
    name = f"spoa_ao_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = _with_dbname(pg_server_url, name)
    container = Container(make_settings(url), url)
    try:
        save(container.core, account("alice"))
        save(container.feed, Probe(label="x"))
        yield container
    finally:
        container.close()
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("table", [CORE_EVENTS_TABLE, FEED_EVENTS_TABLE])
@pytest.mark.parametrize("statement", list(MUTATIONS), ids=list(MUTATIONS))
def test_events_tables_are_append_only(written: Container, table: str, statement: str) -> None:
    with psycopg.connect(written.conninfo) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(MUTATIONS[statement].format(table=table))
        conn.rollback()
        row = conn.execute(f"SELECT count(*), min(topic) FROM {table}").fetchone()
    assert row is not None and row[0] == 1 and row[1] != "forged"


@pytest.mark.parametrize("table", [CORE_EVENTS_TABLE, FEED_EVENTS_TABLE])
def test_events_tables_still_accept_inserts(container: Container, table: str) -> None:
    store = container.core if table == CORE_EVENTS_TABLE else container.feed
    for i in range(3):
        save(store, Probe(label=str(i)))
    assert count(container, table) == 3


def test_feed_states_are_stored_compressed_and_as_given(container: Container) -> None:
    probe = Probe(label="x" * 5000)
    save(container.feed, probe)
    with psycopg.connect(container.conninfo) as conn:
        state = conn.execute(f"SELECT state FROM {FEED_EVENTS_TABLE}").fetchone()
        storage = conn.execute(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = %s::regclass"
            " AND attname = 'state'",
            (FEED_EVENTS_TABLE,),
        ).fetchone()
    assert state is not None and bytes(state[0])[:1] == b"\x78"  # zlib, not JSON
    assert len(state[0]) < 500
    assert storage == ("e",)  # PostgreSQL does not try to compress it again
    assert container.feed.repository.get(probe.id).label == "x" * 5000


def test_feed_states_stored_before_compression_are_still_read(container: Container) -> None:
    plain = Mapper(transcoder=container.feed.mapper.transcoder)  # no compressor
    probe = Probe(label="legacy")
    probe.tick()
    container.feed.recorder.insert_events(
        [plain.to_stored_event(e) for e in probe.collect_events()]
    )
    assert container.feed.repository.get(probe.id).ticks == 1
    assert container.feed_log.head() == 2


def test_a_large_save_goes_in_one_statement_with_its_positions(container: Container) -> None:
    probe = Probe(label="many")
    for _ in range(40):  # above the scalar-parameter form: four binary arrays
        probe.tick()
    assert save(container.feed, probe) == 41
    assert container.feed.repository.get(probe.id).ticks == 40
    with psycopg.connect(container.conninfo) as conn:
        rows = conn.execute(
            f"SELECT notification_id, originator_version FROM {FEED_EVENTS_TABLE}"
            " ORDER BY notification_id"
        ).fetchall()
    assert rows == [(n, n) for n in range(1, 42)]
