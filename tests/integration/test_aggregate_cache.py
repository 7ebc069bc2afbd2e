"""The core store's aggregate cache: always as fresh as the stored events, never shared state.

And the recorder's single-statement save: positions in order, the table lock, NOTIFY, and a
conflicting save that stores nothing.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from application.access.service import UnauthenticatedError
from application.unit_of_work import save
from domain.access.account import Account, account_id_for
from domain.access.permissions import Role
from domain.shared import Actor, ChangeMeta
from infra.aggregate_cache import CachingRepository, copy_aggregate
from infra.bootstrap import Container
from infra.stores import CORE_EVENTS_TABLE
from tests.conftest import make_settings

META = ChangeMeta(Actor(account_id="", username="test", role="", province=None))


def account(username: str, role: Role = Role.VIEWER) -> Account:
    return Account.register(
        username=username,
        display_name=username,
        role=role,
        province=None,
        password_hash="hash",
        meta=META,
    )


@pytest.fixture
def other(database_url: str) -> Any:
    """A second process's container on the same database (its own cache)."""
    c = Container(make_settings(database_url), database_url)
    yield c
    c.close()


def test_the_core_store_caches_aggregates(container: Container) -> None:
    assert isinstance(container.core.repository, CachingRepository)
    assert container.core.repository.maxsize > 0


def test_a_cached_aggregate_sees_events_stored_elsewhere(
    container: Container, other: Container
) -> None:
    save(container.core, account("alice"))
    assert container.core.repository.get(account_id_for("alice")).enabled  # now cached

    elsewhere = other.core.repository.get(account_id_for("alice"))
    elsewhere.disable("gone", META)
    save(other.core, elsewhere)

    again = container.core.repository.get(account_id_for("alice"))
    assert not again.enabled and again.version == 2
    read_only = container.core.repository.get(account_id_for("alice"), deepcopy_from_cache=False)
    assert not read_only.enabled


def test_a_disabled_account_is_refused_on_the_next_request(
    container: Container, other: Container
) -> None:
    container.access.create_account(
        None,
        username="bob.agent",
        display_name="Bob",
        role=Role.SECOND_LINE_AGENT,
        province=None,
        initial_password="Secret-pass-123",
    )
    token = container.access.login("bob.agent", "Secret-pass-123").token
    first = container.access.authenticate(token)  # the account is now cached
    assert first.role is Role.SECOND_LINE_AGENT
    # Another process changes the role: the session is revoked at once.
    changed = other.core.repository.get(account_id_for("bob.agent"))
    changed.change_role(Role.VIEWER, None, META)
    save(other.core, changed)
    with pytest.raises(UnauthenticatedError):
        container.access.authenticate(token)
    token = container.access.login("bob.agent", "Secret-pass-123").token
    assert container.access.authenticate(token).role is Role.VIEWER
    # ... then disables the account: refused on the next request.
    changed = other.core.repository.get(account_id_for("bob.agent"))
    changed.disable("left", META)
    save(other.core, changed)
    with pytest.raises(UnauthenticatedError):
        container.access.authenticate(token)
    assert first.role is Role.SECOND_LINE_AGENT  # what was handed out is not touched


def test_what_a_get_returns_is_a_copy(container: Container) -> None:
    save(container.core, account("carol"))
    first = container.core.repository.get(account_id_for("carol"))
    first.disable("not saved", META)  # a command that then fails to save
    assert container.core.repository.get(account_id_for("carol")).enabled
    cached = container.core.repository.get(account_id_for("carol"), deepcopy_from_cache=False)
    assert cached is not first and cached.enabled


def test_a_stale_decision_still_conflicts(container: Container, other: Container) -> None:
    save(container.core, account("dave"))
    mine = container.core.repository.get(account_id_for("dave"))
    theirs = other.core.repository.get(account_id_for("dave"))
    theirs.disable("first", META)
    save(other.core, theirs)
    mine.change_role(Role.SUPER_ADMIN, None, META)
    with pytest.raises(IntegrityError):
        save(container.core, mine)
    fresh = container.core.repository.get(account_id_for("dave"))
    assert fresh.version == 2 and not fresh.enabled and fresh.role is Role.VIEWER


def test_an_older_version_is_rebuilt_exactly(container: Container) -> None:
    alice = account("erin")
    save(container.core, alice)
    alice.disable("one", META)
    save(container.core, alice)
    container.core.repository.get(account_id_for("erin"))  # cache version 2
    alice.enable(META)
    save(container.core, alice)
    assert container.core.repository.get(account_id_for("erin"), version=1).enabled
    assert not container.core.repository.get(account_id_for("erin"), version=2).enabled
    assert container.core.repository.get(account_id_for("erin"), version=3).enabled


def test_copy_aggregate_copies_mutable_state_and_shares_the_rest() -> None:
    original = account("frank")
    original.extra = [{"a": 1}]  # type: ignore[attr-defined]
    original.alias_of_extra = original.extra  # type: ignore[attr-defined]
    clone = copy_aggregate(original)
    assert vars(clone) == vars(original)
    assert clone.extra is not original.extra  # type: ignore[attr-defined]
    assert clone.extra[0] is not original.extra[0]  # type: ignore[attr-defined]
    assert clone.alias_of_extra is clone.extra  # type: ignore[attr-defined]
    assert clone._pending_events is not original._pending_events
    assert clone.username is original.username


def test_a_save_takes_the_table_lock_and_notifies(container: Container) -> None:
    save(container.core, account("gina"))
    with psycopg.connect(container.conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {CORE_EVENTS_TABLE}")
        with psycopg.connect(container.conninfo) as blocker:
            blocker.execute(f"LOCK TABLE {CORE_EVENTS_TABLE} IN EXCLUSIVE MODE")
            done = threading.Event()

            def write() -> None:
                save(container.core, account("hank"))
                done.set()

            writer = threading.Thread(target=write)
            writer.start()
            assert not done.wait(0.5)  # the save waits for the table lock
            blocker.rollback()
            writer.join(10)
        assert done.is_set()
        assert list(listener.notifies(timeout=2, stop_after=1))
    assert container.core_log.head() == 2


def test_positions_follow_the_order_of_the_events_saved(container: Container) -> None:
    people = [account(f"user{i}") for i in range(5)]
    position = save(container.core, *people)
    assert position == 5
    records = container.core_log.feed(0, 10)
    assert [r.position for r in records] == [1, 2, 3, 4, 5]
    assert [r.event.originator_id for r in records] == [p.id for p in people]


def test_a_save_of_many_small_events_keeps_their_order(container: Container) -> None:
    people = [account(f"many{i}") for i in range(40)]  # over the scalar-parameter form
    assert save(container.core, *people) == 40
    records = container.core_log.feed(0, 50)
    assert [r.event.originator_id for r in records] == [p.id for p in people]
