"""The orphan document sweep's decisions (application/knowledge/document_sweep.py) and its
schedule in the projection-running process (infra/blobs.py), without a database."""

from __future__ import annotations

import threading
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import pytest

from application.knowledge.document_sweep import DocumentSweeper
from application.knowledge.ports import SweepReport, UnclaimedDocument
from infra.blobs import PeriodicDocumentSweep

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=3)


def doc(sha: str, size: int = 10) -> UnclaimedDocument:
    return UnclaimedDocument(sha * 64, size, f"{sha}.pdf", OLD, OLD)


class FakeDocuments:
    def __init__(self, unclaimed: list[UnclaimedDocument], claimed_meanwhile: set[str]) -> None:
        self.unclaimed = unclaimed
        self.claimed_meanwhile = claimed_meanwhile
        self.calls: list[str] = []
        self.deleted: list[tuple[str, datetime]] = []

    def unclaimed_since(self, grace: timedelta) -> tuple[datetime, list[UnclaimedDocument]]:
        self.calls.append("unclaimed")
        return NOW - grace, list(self.unclaimed)

    def delete_unclaimed(self, sha256: str, cutoff: datetime) -> bool:
        self.calls.append("delete")
        if sha256 in self.claimed_meanwhile:
            return False
        self.deleted.append((sha256, cutoff))
        return True


class FakeReferences:
    def __init__(self, documents: FakeDocuments, referenced: set[str]) -> None:
        self.documents = documents
        self.referenced_shas = referenced
        self.asked: list[set[str]] = []

    def referenced(self, sha256s: Collection[str]) -> set[str]:
        self.documents.calls.append("references")
        self.asked.append(set(sha256s))
        return set(sha256s) & self.referenced_shas


def sweeper(
    unclaimed: list[UnclaimedDocument], referenced: set[str], claimed: Collection[str] = ()
) -> tuple[DocumentSweeper, FakeDocuments, FakeReferences]:
    documents = FakeDocuments(unclaimed, set(claimed))
    references = FakeReferences(documents, referenced)
    return DocumentSweeper(documents, references, timedelta(hours=24)), documents, references


def test_unreferenced_content_is_deleted_with_the_cutoff_taken_before_the_references() -> None:
    a, b, c = doc("a", 5), doc("b", 7), doc("c", 11)
    sweep, documents, references = sweeper([a, b, c], referenced={b.sha256})
    report = sweep.sweep()
    assert documents.calls == ["unclaimed", "references", "delete", "delete"]
    assert references.asked == [{a.sha256, b.sha256, c.sha256}]
    cutoff = NOW - timedelta(hours=24)
    assert documents.deleted == [(a.sha256, cutoff), (c.sha256, cutoff)]
    assert report == SweepReport(False, cutoff, checked=3, referenced=1, removed=(a, c))
    assert report.bytes_freed == 16


def test_content_claimed_since_the_choice_is_not_reported_removed() -> None:
    a, b = doc("a"), doc("b")
    sweep, documents, _ = sweeper([a, b], referenced=set(), claimed={a.sha256})
    report = sweep.sweep()
    assert report.removed == (b,) and [s for s, _ in documents.deleted] == [b.sha256]


def test_a_dry_run_deletes_nothing_and_reports_what_it_would() -> None:
    a, b = doc("a", 3), doc("b", 4)
    sweep, documents, _ = sweeper([a, b], referenced={a.sha256})
    report = sweep.sweep(dry_run=True)
    assert report.dry_run and report.removed == (b,) and report.bytes_freed == 4
    assert "delete" not in documents.calls


def test_nothing_unclaimed_asks_nothing_more() -> None:
    sweep, documents, _ = sweeper([], referenced=set())
    report = sweep.sweep()
    assert documents.calls == ["unclaimed"]
    assert (report.checked, report.referenced, report.removed) == (0, 0, ())


def test_references_are_read_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("application.knowledge.document_sweep.REFERENCE_BATCH", 2)
    a, b, c = doc("a"), doc("b"), doc("c")
    sweep, _, references = sweeper([a, b, c], referenced={a.sha256, c.sha256})
    report = sweep.sweep()
    assert references.asked == [{a.sha256, b.sha256}, {c.sha256}]
    assert (report.referenced, report.removed) == (2, (b,))


def test_the_grace_period_must_be_positive() -> None:
    documents = FakeDocuments([], set())
    with pytest.raises(ValueError, match="positive"):
        DocumentSweeper(documents, FakeReferences(documents, set()), timedelta(0))


def test_the_periodic_sweep_runs_only_while_this_process_leads() -> None:
    ran = threading.Event()
    leading = threading.Event()
    runs: list[int] = []

    def sweep() -> SweepReport:
        runs.append(1)
        ran.set()
        if len(runs) == 1:
            raise RuntimeError("database hiccup")  # logged; the next run tries again
        return SweepReport(False, NOW, 0, 0, ())

    periodic = PeriodicDocumentSweep(sweep, 0.02, leading.is_set)
    periodic.start()
    try:
        assert not ran.wait(0.2)  # standby: another process leads the faqs projection
        leading.set()
        assert ran.wait(2)
        deadline = threading.Event()
        for _ in range(100):
            if periodic.runs >= 2:
                break
            deadline.wait(0.02)
        assert periodic.runs >= 2  # the failed run did not stop the schedule
    finally:
        periodic.stop()
    after = len(runs)
    threading.Event().wait(0.1)
    assert len(runs) == after  # stopped
