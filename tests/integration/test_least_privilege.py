"""Least privilege (design decision 12): served as a second, real PostgreSQL role, the
application can append and read but cannot rewrite the events or the audit chain (ALTER TABLE
... DISABLE TRIGGER, UPDATE, DELETE, TRUNCATE are all refused), while commands, projections
and blue/green rebuilds (the audit projection's included) work as before."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from application.authz import Principal
from domain.history.records import RecordKind
from infra.bootstrap import Container
from infra.tokens import PgJtiRegistry
from tests.audit_world import History
from tests.helpers import seed_accounts
from tests.history_helpers import record
from tests.roles import RuntimeRole, runtime_role, two_role_container

EVENTS_TABLES = ("core_events", "feed_events")
CHAIN_TABLES = ("audit_chain", "audit_checkpoints", "audit_versions")


@pytest.fixture
def role(pg_server_url: str, database_url: str) -> Iterator[RuntimeRole]:
    with runtime_role(pg_server_url, database_url) as made:
        yield made


@pytest.fixture
def served(database_url: str, role: RuntimeRole) -> Iterator[Container]:
    with two_role_container(database_url, role) as container:
        yield container


@pytest.fixture
def busy(served: Container) -> tuple[Container, Principal]:
    """Commands of every kind, a document, a platform batch, all projected, as the runtime
    role."""
    served.engine.projections["audit"].seal_every = 4  # type: ignore[attr-defined]
    people = seed_accounts(served)
    admin = people["admin"]
    History(served, admin).play(
        [
            ("account.create", 0, 0),
            ("subscriber.register", 0, 0),
            ("subscriber.plan", 0, 1),
            ("ticket.draft", 0, 1),
            ("ticket.submit", 0, 0),
            ("faq.create", 0, 0),
            ("announcement.publish", 0, 1),
            ("contact.add", 0, 0),
        ]
    )
    faq = served.knowledge.create_faq(admin, title="T", body="B", category="C", keywords=None)
    served.knowledge.attach_document(admin, faq.faq.id, "a.txt", io.BytesIO(b"some text\n"))
    served.history.ingest_records(
        people["platform"],
        source="gw",
        batch_id="b1",
        kind=RecordKind.SMS,
        records=[record(RecordKind.SMS, n) for n in range(3)],
    )
    served.engine.catch_up_all()
    return served, admin


def refused(conninfo: str, statement: str) -> str:
    """The error the statement meets (it must meet one), in its own transaction."""
    with psycopg.connect(conninfo, autocommit=True) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    return str(caught.value)


def chain_schema(container: Container) -> str:
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute(
            "SELECT 'proj_audit_g' || active_generation FROM projection_registry"
            " WHERE name = 'audit'"
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize("table", EVENTS_TABLES)
def test_the_runtime_role_cannot_rewrite_an_events_table(
    busy: tuple[Container, Principal], table: str
) -> None:
    url = busy[0].conninfo
    assert "must be owner" in refused(
        url, f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"
    )
    assert "must be owner" in refused(url, f"DROP TRIGGER {table}_append_only ON {table}")
    # UPDATE is granted (LOCK TABLE ... IN EXCLUSIVE MODE needs it); the trigger refuses it.
    assert "append-only" in refused(url, f"UPDATE {table} SET topic = topic")
    assert "permission denied" in refused(url, f"DELETE FROM {table}")
    assert "permission denied" in refused(url, f"TRUNCATE {table}")
    assert "must be owner" in refused(url, f"DROP TABLE {table}")
    assert "permission denied" in refused(
        url,
        "CREATE OR REPLACE FUNCTION spoa_reject_event_mutation() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    )


def test_the_runtime_role_holds_exactly_select_insert_update_on_the_events_tables(
    served: Container, role: RuntimeRole
) -> None:
    with psycopg.connect(served.owner_conninfo) as conn:
        rows = conn.execute(
            "SELECT table_name, array_agg(privilege_type::text ORDER BY privilege_type)"
            " FROM information_schema.role_table_grants WHERE grantee = %s"
            " AND table_name = ANY(%s) GROUP BY table_name ORDER BY table_name",
            (role.name, list(EVENTS_TABLES)),
        ).fetchall()
    assert rows == [(t, ["INSERT", "SELECT", "UPDATE"]) for t in EVENTS_TABLES]


@pytest.mark.parametrize("table", CHAIN_TABLES)
def test_the_runtime_role_cannot_rewrite_the_audit_chain(
    busy: tuple[Container, Principal], table: str
) -> None:
    container, _ = busy
    url, schema = container.conninfo, chain_schema(container)
    qualified = f"{schema}.{table}"
    assert "must be owner" in refused(url, f"ALTER TABLE {qualified} DISABLE TRIGGER ALL")
    assert "permission denied" in refused(url, f"UPDATE {qualified} SET position = position")
    assert "permission denied" in refused(url, f"DELETE FROM {qualified}")
    assert "permission denied" in refused(url, f"TRUNCATE {qualified}")
    assert "must be owner" in refused(url, f"DROP TABLE {qualified}")
    # Through the read model's view too.
    assert "permission denied" in refused(url, f"DELETE FROM rm.{table}")


def test_the_runtime_role_cannot_drop_the_serving_chain_through_the_owner_functions(
    busy: tuple[Container, Principal],
) -> None:
    container, _ = busy
    generation = int(chain_schema(container).rsplit("_g", 1)[1])
    message = refused(
        container.conninfo, f"SELECT spoa_drop_guarded_generation('audit', {generation})"
    )
    assert "serves" in message
    assert "no generation" in refused(
        container.conninfo, "SELECT spoa_drop_guarded_generation('accounts', 1)"
    )


def test_commands_projections_and_rebuilds_work_as_the_runtime_role(
    busy: tuple[Container, Principal],
) -> None:
    container, admin = busy
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row is not None and row[0].startswith("spoa_rt_") and row[1] is False
    assert container.least_privilege()
    status = {s.name: s for s in container.projection_status.status()}
    head = container.core_log.head()
    assert status["audit"].position == head and not any(s.failing for s in status.values())
    # Blue/green rebuilds as the runtime role: a plain projection and the audit chain.
    assert container.rebuilds.rebuild("accounts") == 2
    before = [(c.position, c.chain_hash) for c in container.audit.checkpoints(admin, None, 100)]
    assert container.rebuilds.rebuild("audit", restart=True) == 2
    after = [(c.position, c.chain_hash) for c in container.audit.checkpoints(admin, None, 100)]
    assert after == before and before
    assert container.audit_verifier.verify(dict(before)).intact
    # The rebuilt chain is the owner's as well: still append-only for the runtime role.
    assert chain_schema(container) == "proj_audit_g2"
    assert "permission denied" in refused(
        container.conninfo, "UPDATE proj_audit_g2.audit_chain SET position = position"
    )
    History(container, admin).play([("contact.add", 0, 1), ("faq.create", 0, 2)])
    container.engine.catch_up_all()
    assert container.audit_verifier.verify().intact
    # The runtime's own tables: SSO ticket ids, and the orphan sweep of document bytes.
    jtis = PgJtiRegistry(container.conninfo)
    soon = datetime.now(UTC) + timedelta(minutes=1)
    assert jtis.claim("ticket-1", soon) and not jtis.claim("ticket-1", soon)
    orphan = b"bytes no event attaches"
    sha = hashlib.sha256(orphan).hexdigest()
    container.documents.put(sha, "text/plain", "o.txt", len(orphan), io.BytesIO(orphan))
    with psycopg.connect(container.owner_conninfo, autocommit=True) as conn:
        conn.execute("UPDATE document_blobs SET claimed_at = now() - interval '2 days'")
    assert [d.sha256 for d in container.document_sweeper.sweep().removed] == [sha]
    with psycopg.connect(container.conninfo) as conn:
        count = conn.execute("SELECT count(*) FROM rm.accounts").fetchone()
    assert count is not None and count[0] >= 9


def test_the_upgrade_is_idempotent_with_two_roles(served: Container) -> None:
    def grants() -> list[tuple[str, ...]]:
        with psycopg.connect(served.owner_conninfo) as conn:
            return conn.execute(
                "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner), c.relacl::text"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname IN ('public', 'rm') OR n.nspname LIKE 'proj%' ORDER BY 1, 2"
            ).fetchall()

    before = grants()
    served.upgrade()
    assert grants() == before


def test_one_role_owning_everything_is_not_least_privilege(container: Container) -> None:
    assert container.least_privilege() is False


def test_a_runtime_role_that_owns_the_database_is_not_least_privilege(
    served: Container, role: RuntimeRole
) -> None:
    """The owner of the database owns its public schema, so it could drop the events tables."""
    assert served.least_privilege()
    database = served.params.dbname
    with psycopg.connect(served.owner_conninfo, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" OWNER TO "{role.name}"')
    try:
        assert served.least_privilege() is False
        with psycopg.connect(served.conninfo, autocommit=True) as conn:
            conn.execute("DROP TABLE feed_events CASCADE")  # the schema's owner may
    finally:
        with psycopg.connect(served.owner_conninfo, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{database}" OWNER TO CURRENT_USER')
