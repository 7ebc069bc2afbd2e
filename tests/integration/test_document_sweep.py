"""The orphan document sweep on PostgreSQL: document bytes that no stored event refers to are
deleted once unclaimed for the grace period; everything any FAQ version refers to stays."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli.documents import human_bytes
from api.cli.main import app
from application.authz import Principal
from domain.shared import NotFoundError
from infra.bootstrap import Container
from tests.conftest import make_settings
from tests.faq_helpers import DOCX_BYTES, PDF_BYTES, PNG_BYTES
from tests.helpers import seed_accounts

TEXT = ("孤立的文档 orphan line\n" * 40_000).encode()  # > 1 MB: several chunks


@pytest.fixture
def people(container: Container) -> dict[str, Principal]:
    return seed_accounts(container)


def create_faq(container: Container, who: Principal, title: str) -> UUID:
    result = container.knowledge.create_faq(
        who, title=title, body="正文", category="类别", keywords=None
    )
    return result.faq.id


def attach(container: Container, who: Principal, faq_id: UUID, name: str, data: bytes) -> str:
    result = container.knowledge.attach_document(who, faq_id, name, io.BytesIO(data))
    return next(d.sha256 for d in result.faq.documents if d.filename == name)


def failed_attach(
    container: Container,
    who: Principal,
    faq_id: UUID,
    monkeypatch: pytest.MonkeyPatch,
    data: bytes = TEXT,
) -> str:
    """An upload whose bytes are stored but whose event is never saved: an orphan."""
    head = container.core_log.head()

    def save_fails(*_: Any, **__: Any) -> int:
        raise ConnectionError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr("application.knowledge.faqs.save", save_fails)
        with pytest.raises(ConnectionError):
            container.knowledge.attach_document(who, faq_id, "orphan.txt", io.BytesIO(data))
    assert container.core_log.head() == head
    sha = hashlib.sha256(data).hexdigest()
    assert sha in stored(container)
    return sha


def sql(container: Container, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(container.conninfo, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def stored(container: Container) -> set[str]:
    return {r[0] for r in sql(container, "SELECT sha256 FROM document_blobs")}


def chunk_count(container: Container, sha: str) -> int:
    return int(sql(container, "SELECT count(*) FROM document_chunks WHERE sha256 = %s", sha)[0][0])


def backdate(container: Container, hours: float, *shas: str) -> None:
    """As if the content was last claimed `hours` ago (the trigger lets claimed_at change)."""
    for sha in shas or stored(container):
        sql(
            container,
            "UPDATE document_blobs SET claimed_at = now() - make_interval(secs => %s)"
            " WHERE sha256 = %s",
            hours * 3600,
            sha,
        )


def test_an_orphan_older_than_the_grace_period_is_removed_with_its_chunks(
    container: Container, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = people["second"]
    faq_id = create_faq(container, editor, "甲")
    sha = failed_attach(container, editor, faq_id, monkeypatch)
    assert chunk_count(container, sha) > 1
    backdate(container, 25, sha)
    report = container.document_sweeper.sweep()
    assert [d.sha256 for d in report.removed] == [sha]
    assert (report.bytes_freed, report.checked, report.referenced) == (len(TEXT), 1, 0)
    assert report.removed[0].filename == "orphan.txt"
    assert stored(container) == set() and chunk_count(container, sha) == 0
    with pytest.raises(NotFoundError):
        container.knowledge.open_document(people["viewer"], sha)
    assert container.document_sweeper.sweep().removed == ()
    # The same content uploaded again later is simply stored again.
    assert attach(container, editor, faq_id, "again.txt", TEXT) == sha
    assert b"".join(container.knowledge.document_chunks(sha)) == TEXT


def test_a_young_orphan_is_kept(
    container: Container, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = people["second"]
    sha = failed_attach(container, editor, create_faq(container, editor, "甲"), monkeypatch)
    assert container.document_sweeper.sweep().removed == ()  # just uploaded
    backdate(container, 23, sha)  # the grace period is 24 hours by default
    report = container.document_sweeper.sweep()
    assert (report.removed, report.checked) == ((), 0)
    assert stored(container) == {sha}


def test_content_any_stored_event_attaches_is_kept(
    container: Container, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    editor, viewer = people["second"], people["viewer"]
    current = attach(container, editor, create_faq(container, editor, "当前"), "a.pdf", PDF_BYTES)
    detached_faq = create_faq(container, editor, "已解除")
    detached = attach(container, editor, detached_faq, "b.png", PNG_BYTES)
    while_attached = datetime.now(UTC)
    container.knowledge.detach_document(editor, detached_faq, detached)
    removed_faq = create_faq(container, editor, "已删除")
    of_removed = attach(container, editor, removed_faq, "c.docx", DOCX_BYTES)
    container.knowledge.remove_faq(editor, removed_faq)
    container.engine.catch_up("faqs")
    # Attached after the read model's position: only the events know of it yet.
    not_projected = attach(container, editor, create_faq(container, editor, "新"), "d.txt", b"hi")
    orphan = failed_attach(container, editor, create_faq(container, editor, "孤"), monkeypatch)
    assert container.projection_status.positions(["faqs"])["faqs"] < container.core_log.head()
    backdate(container, 48)

    report = container.document_sweeper.sweep()
    assert [d.sha256 for d in report.removed] == [orphan]
    assert (report.checked, report.referenced) == (5, 4)
    assert stored(container) == {current, detached, of_removed, not_projected}
    then = container.knowledge.faq_as_of(viewer, detached_faq, while_attached)
    assert then is not None and [d.sha256 for d in then.documents] == [detached]
    assert b"".join(container.knowledge.document_chunks(detached)) == PNG_BYTES
    assert container.knowledge.open_document(viewer, of_removed).size_bytes == len(DOCX_BYTES)

    container.engine.catch_up("faqs")  # now the read model answers for all of them
    backdate(container, 48)
    report = container.document_sweeper.sweep()
    assert (report.removed, report.checked, report.referenced) == ((), 4, 4)


def test_an_upload_in_flight_claims_stored_content_again(
    container: Container, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = people["second"]
    sha = failed_attach(container, editor, create_faq(container, editor, "甲"), monkeypatch)
    backdate(container, 48, sha)
    cutoff, unclaimed = container.documents.unclaimed_since(timedelta(hours=24))
    assert [d.sha256 for d in unclaimed] == [sha]
    # Another upload of the same content stores nothing, but claims it before its event is
    # saved: a sweep that chose the content just before keeps it (re-checked under the lock).
    assert not container.documents.put(sha, "text/plain", "x.txt", len(TEXT), io.BytesIO(TEXT))
    assert not container.documents.delete_unclaimed(sha, cutoff)
    assert container.document_sweeper.sweep().removed == ()
    assert stored(container) == {sha}


def test_an_upload_waiting_on_a_sweep_stores_the_content_again(
    container: Container, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = people["second"]
    sha = failed_attach(container, editor, create_faq(container, editor, "甲"), monkeypatch)
    results: list[bool] = []
    with psycopg.connect(container.conninfo) as sweep:  # a sweep deleting the content
        sweep.execute("SELECT 1 FROM document_blobs WHERE sha256 = %s FOR UPDATE", (sha,))
        upload = threading.Thread(
            target=lambda: results.append(
                container.documents.put(sha, "text/plain", "x.txt", len(TEXT), io.BytesIO(TEXT))
            )
        )
        upload.start()
        time.sleep(0.3)
        assert upload.is_alive()  # its claim waits for the sweep's row lock
        sweep.execute("DELETE FROM document_chunks WHERE sha256 = %s", (sha,))
        sweep.execute("DELETE FROM document_blobs WHERE sha256 = %s", (sha,))
        sweep.commit()
    upload.join(10)
    assert results == [True]  # stored anew
    assert b"".join(container.knowledge.document_chunks(sha)) == TEXT


def test_a_dry_run_removes_nothing(
    container: Container, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = people["second"]
    sha = failed_attach(container, editor, create_faq(container, editor, "甲"), monkeypatch)
    backdate(container, 25, sha)
    report = container.document_sweeper.sweep(dry_run=True)
    assert report.dry_run and [d.sha256 for d in report.removed] == [sha]
    assert report.bytes_freed == len(TEXT)
    assert stored(container) == {sha} and chunk_count(container, sha) > 0
    assert [d.sha256 for d in container.document_sweeper.sweep().removed] == [sha]


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SPOA_DATABASE_URL", database_url)
    monkeypatch.setenv("SPOA_SECRET_KEY", "cli-test-secret-0123456789abcdef")
    monkeypatch.setenv("SPOA_LOG_JSON", "false")
    monkeypatch.setenv("SPOA_DB_POOL_SIZE", "1")
    return CliRunner()


def test_the_cli_reports_what_it_removes_and_the_bytes_freed(
    container: Container,
    people: dict[str, Principal],
    monkeypatch: pytest.MonkeyPatch,
    cli_env: CliRunner,
) -> None:
    editor = people["second"]
    faq_id = create_faq(container, editor, "甲")
    kept = attach(container, editor, faq_id, "kept.pdf", PDF_BYTES)
    sha = failed_attach(container, editor, faq_id, monkeypatch)
    backdate(container, 25)
    size = len(TEXT)

    dry = cli_env.invoke(app, ["documents", "sweep", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.splitlines()
    assert lines[0].startswith(f"would remove {sha} {size} bytes 'orphan.txt' (stored ")
    assert lines[-1].startswith(
        f"would remove 1 orphan document, would free {size} bytes ({human_bytes(size)}); 2"
        " unclaimed since "
    )
    assert lines[-1].endswith(", 1 of them referenced by stored events")
    assert stored(container) == {kept, sha}

    real = cli_env.invoke(app, ["documents", "sweep"])
    assert real.exit_code == 0, real.output
    lines = real.stdout.splitlines()
    assert lines[0].startswith(f"removed {sha} {size} bytes 'orphan.txt'")
    assert lines[-1].startswith(
        f"removed 1 orphan document, freed {size} bytes ({human_bytes(size)});"
    )
    assert stored(container) == {kept}

    again = cli_env.invoke(app, ["documents", "sweep"])
    assert again.stdout.splitlines()[-1].startswith("removed 0 orphan documents, freed 0 bytes")


def test_stored_documents_stay_immutable_but_can_be_claimed(
    container: Container, people: dict[str, Principal]
) -> None:
    editor = people["second"]
    sha = attach(container, editor, create_faq(container, editor, "甲"), "a.pdf", PDF_BYTES)
    for change in ("filename = 'evil.pdf'", "size_bytes = 1", "stored_at = now()"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            sql(container, f"UPDATE document_blobs SET {change} WHERE sha256 = %s", sha)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sql(container, "UPDATE document_chunks SET data = 'x' WHERE sha256 = %s", sha)
    sql(container, "UPDATE document_blobs SET claimed_at = now() WHERE sha256 = %s", sha)


def test_the_upgrade_adds_the_claim_to_older_tables(
    container: Container, people: dict[str, Principal]
) -> None:
    editor = people["second"]
    sha = attach(container, editor, create_faq(container, editor, "甲"), "a.pdf", PDF_BYTES)
    sql(container, "ALTER TABLE document_blobs DROP COLUMN claimed_at")
    container.upgrade()
    container.upgrade()
    ((claimed,),) = sql(container, "SELECT claimed_at FROM document_blobs WHERE sha256 = %s", sha)
    assert claimed > datetime.now(UTC) - timedelta(minutes=5)  # one more grace period


@pytest.fixture
def sweeping_container(database_url: str) -> Iterator[Container]:
    settings = make_settings(database_url, blob_sweep_interval_hours=0.5 / 3600)
    c = Container(settings, database_url)
    yield c
    c.close()


def test_the_faqs_projection_leader_sweeps_now_and_then(
    sweeping_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = sweeping_container
    editor = seed_accounts(container)["second"]
    faq_id = create_faq(container, editor, "甲")
    kept = attach(container, editor, faq_id, "kept.pdf", PDF_BYTES)
    sha = failed_attach(container, editor, faq_id, monkeypatch)
    backdate(container, 25)
    container.start_projections()
    deadline = time.monotonic() + 15
    while sha in stored(container) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stored(container) == {kept}
    assert container.runner is not None and "faqs" in container.runner.leading


def test_an_orphan_is_nobodys_document_until_an_event_attaches_it(
    container: Container, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes whose FAQ save failed cannot be downloaded, even by id, before the sweep; once a
    stored event attaches them they can, before the FAQ read model has caught up."""
    editor = people["second"]
    faq_id = create_faq(container, editor, "乙")
    sha = failed_attach(container, editor, faq_id, monkeypatch)
    with pytest.raises(NotFoundError):
        container.knowledge.open_document(people["viewer"], sha)
    assert attach(container, editor, faq_id, "kept.txt", TEXT) == sha
    assert container.knowledge.faqs.latest_filename(sha) is None  # the read model lags
    download = container.knowledge.open_document(people["viewer"], sha)
    assert (download.size_bytes, download.filename) == (len(TEXT), "orphan.txt")
    container.engine.catch_up("faqs")
    assert container.knowledge.open_document(people["viewer"], sha).filename == "kept.txt"
