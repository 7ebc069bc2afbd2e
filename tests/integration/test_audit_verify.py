"""Tamper evidence: `verify` finds a modified payload, a deleted event, a reordering and an
inserted event, each at the right position (tampering made directly in the database with the
append-only trigger disabled), and rewritten chain links through checkpoints and anchors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from application.authz import Principal
from infra.bootstrap import Container
from tests.audit_world import History
from tests.helpers import seed_accounts

SEAL_EVERY = 4


@pytest.fixture
def chained(container: Container) -> Iterator[tuple[Container, Principal]]:
    """A core store of a few dozen events of every kind, fully chained, sealed every 4."""
    container.engine.projections["audit"].seal_every = SEAL_EVERY  # type: ignore[attr-defined]
    admin = seed_accounts(container)["admin"]
    History(container, admin).play(
        [
            ("account.create", 0, 0),
            ("subscriber.register", 0, 0),
            ("subscriber.password", 0, 1),
            ("ticket.draft", 0, 1),
            ("ticket.submit", 0, 0),
            ("faq.create", 0, 0),
            ("announcement.publish", 0, 1),
            ("subscriber.alias", 0, 1),
            ("account.role", 0, 1),
            ("contact.add", 0, 0),
        ]
    )
    container.engine.catch_up("audit")
    yield container, admin


def tamper(container: Container, *statements: str, params: Any = None) -> None:
    with psycopg.connect(container.conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute("ALTER TABLE core_events DISABLE TRIGGER core_events_append_only")
        for statement in statements:
            conn.execute(statement, params)
        conn.execute("ALTER TABLE core_events ENABLE TRIGGER core_events_append_only")


def head(container: Container) -> int:
    return container.core_log.head()


def with_meta(container: Container, near: int) -> int:
    """The first position from `near` on whose event records who did it (has a "meta")."""
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute(
            "SELECT min(notification_id) FROM core_events WHERE notification_id >= %s"
            " AND position('\"meta\"' in convert_from(state, 'UTF8')) > 0",
            (near,),
        ).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


def test_an_untouched_store_is_intact(chained: tuple[Container, Principal]) -> None:
    container, _ = chained
    report = container.audit_verifier.verify()
    assert report.intact, report
    assert report.events_checked == head(container) == report.chained_through
    assert report.checkpoints_checked == head(container) // SEAL_EVERY
    assert report.unchained == 0


def test_events_after_the_chain_head_are_reported_as_not_chained_yet(
    chained: tuple[Container, Principal],
) -> None:
    container, admin = chained
    History(container, admin).play([("faq.create", 0, 1), ("contact.add", 0, 1)])
    report = container.audit_verifier.verify()
    assert report.intact and report.unchained == 2


def test_a_modified_payload_is_found_at_its_position(chained: tuple[Container, Principal]) -> None:
    container, _ = chained
    victim = with_meta(container, head(container) // 2)
    tamper(
        container,
        "UPDATE core_events SET state = convert_to("
        "replace(convert_from(state, 'UTF8'), '\"meta\"', '\"meta\",\"x\":1,\"m\"'), 'UTF8')"
        " WHERE notification_id = %(p)s",
        params={"p": victim},
    )
    report = container.audit_verifier.verify()
    assert not report.intact
    assert report.first_bad_position == victim
    assert "does not match" in (report.problem or "")


def test_a_deleted_event_is_found_at_its_position(chained: tuple[Container, Principal]) -> None:
    container, _ = chained
    victim = head(container) - 5
    tamper(container, "DELETE FROM core_events WHERE notification_id = %(p)s", params={"p": victim})
    report = container.audit_verifier.verify()
    assert not report.intact
    assert report.first_bad_position == victim
    assert "deleted" in (report.problem or "")


def test_deleting_the_newest_chained_events_is_found_too(
    chained: tuple[Container, Principal],
) -> None:
    container, _ = chained
    last = head(container)
    tamper(
        container, "DELETE FROM core_events WHERE notification_id >= %(p)s", params={"p": last - 1}
    )
    report = container.audit_verifier.verify()
    assert (report.intact, report.first_bad_position) == (False, last - 1)


def test_a_reordering_is_found_at_the_first_moved_position(
    chained: tuple[Container, Principal],
) -> None:
    container, _ = chained
    first, second = 6, head(container) - 3
    tamper(
        container,
        "UPDATE core_events SET notification_id = -1 WHERE notification_id = %(a)s",
        "UPDATE core_events SET notification_id = %(a)s WHERE notification_id = %(b)s",
        "UPDATE core_events SET notification_id = %(b)s WHERE notification_id = -1",
        params={"a": first, "b": second},
    )
    report = container.audit_verifier.verify()
    assert (report.intact, report.first_bad_position) == (False, first)


def test_an_event_slipped_into_a_gap_of_the_sequence_is_found(
    chained: tuple[Container, Principal],
) -> None:
    container, admin = chained
    with psycopg.connect(container.conninfo, autocommit=True) as conn:
        # A failed transaction leaves a gap in the positions (here: one burnt on purpose).
        row = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('core_events', 'notification_id'))"
        ).fetchone()
        gap = int(row[0])  # type: ignore[index]
    History(container, admin).play([("contact.add", 0, 2)])
    container.engine.catch_up("audit")
    assert container.audit_verifier.verify().intact  # a gap alone is no tampering
    tamper(
        container,
        "INSERT INTO core_events (notification_id, originator_id, originator_version, topic,"
        " state) SELECT %(gap)s, gen_random_uuid(), 1, topic, state FROM core_events"
        " WHERE notification_id = 1",
        params={"gap": gap},
    )
    report = container.audit_verifier.verify()
    assert (report.intact, report.first_bad_position) == (False, gap)
    assert "not in the chain" in (report.problem or "")


def test_rewriting_the_kept_links_too_is_caught_by_the_checkpoints_and_anchors(
    chained: tuple[Container, Principal],
) -> None:
    container, admin = chained
    anchors = {c.position: c.chain_hash for c in container.audit.checkpoints(admin, None, 100)}
    victim = 1  # the first account's creation
    tamper(
        container,
        "UPDATE core_events SET state = convert_to("
        "replace(convert_from(state, 'UTF8'), '\"meta\"', '\"forged\":true,\"meta\"'), 'UTF8')"
        " WHERE notification_id = %(p)s",
        params={"p": victim},
    )
    _rechain_links(container)  # a careful forger recomputes every kept link...
    report = container.audit_verifier.verify()
    sealed = min(p for p in anchors if p >= victim)
    assert (report.intact, report.first_bad_position) == (False, sealed)
    assert "checkpoint" in (report.problem or "")
    _rechain_links(container, reseal=True)  # ...and every checkpoint: only anchors remain
    report = container.audit_verifier.verify(anchors)
    assert (report.intact, report.first_bad_position) == (False, sealed)
    assert "anchor" in (report.problem or "")
    assert report.anchors_checked == 1


def _rechain_links(container: Container, reseal: bool = False) -> None:
    from projections.audit.chain import GENESIS, chain_link

    with psycopg.connect(container.conninfo, autocommit=True) as conn:
        schema = conn.execute(
            "SELECT 'proj_audit_g' || active_generation FROM projection_registry"
            " WHERE name = 'audit'"
        ).fetchone()[0]  # type: ignore[index]
        rows = conn.execute(
            "SELECT notification_id, uuid_send(originator_id), originator_version, topic, state"
            " FROM core_events ORDER BY notification_id"
        ).fetchall()
        link = GENESIS
        for position, originator, version, topic, state in rows:
            link = chain_link(link, position, bytes(originator), version, topic, bytes(state))
            conn.execute(
                f"UPDATE {schema}.audit_chain SET link = %s WHERE position = %s", (link, position)
            )
            if reseal:
                conn.execute(
                    f"UPDATE {schema}.audit_checkpoints SET chain_hash = %s WHERE position = %s",
                    (link.hex(), position),
                )


def test_a_rebuild_seals_exactly_the_same_checkpoints(chained: tuple[Container, Principal]) -> None:
    """Handlers are pure: anchors taken before a blue/green rebuild stay valid after it."""
    container, admin = chained

    def sealed() -> list[tuple[int, str, Any]]:
        return [
            (c.position, c.chain_hash, c.sealed_at)
            for c in container.audit.checkpoints(admin, None, 100)
        ]

    before = sealed()
    assert container.rebuilds.rebuild("audit") == 2
    assert sealed() == before
    report = container.audit_verifier.verify({p: h for p, h, _ in before})
    assert report.intact and report.anchors_checked == len(before)
