"""Sweeping orphan FAQ document bytes: stored content that no stored event refers to.

An upload stores its bytes first and saves the `FaqDocumentAttached` event that refers to them
after (the bytes are too large for the event, and the event must not name bytes that are not
stored). If that save never happens (the FAQ was removed or filled up meanwhile, the save
failed, the process died), the bytes are an orphan: nothing can ever refer to them.

Detaching a document or removing its FAQ does NOT orphan the bytes: events are kept forever,
so the earlier FAQ versions (`faqAsOf`, the audit trail) still list the document. A document
is an orphan only when no stored event at all attaches it.

Safety against an upload in flight: every upload claims its content (`claimed_at`, set when
the bytes are stored and again when an upload finds them stored already), and the sweep only
deletes content claimed before `cutoff = now - grace`, re-checked under the row lock at the
moment of deletion. The references are read after the cutoff is taken, so an event saved
before that read is seen, and one saved after it belongs to an upload that claimed its
content after the cutoff (unless the save came more than `grace` after the upload, which is
what the grace period rules out): such content is either skipped, or, if the upload claimed
it only after the deletion, stored again by that upload.
"""

from __future__ import annotations

from datetime import timedelta

from application.knowledge.ports import (
    DocumentReferences,
    SweepableDocuments,
    SweepReport,
)

# Content checked per reference read: every attached document older than the grace period is a
# candidate too, and each read briefly holds the faqs projection's registry row.
REFERENCE_BATCH = 1000


class DocumentSweeper:
    """Deletes document content that no stored event refers to, once older than `grace`."""

    def __init__(
        self, documents: SweepableDocuments, references: DocumentReferences, grace: timedelta
    ) -> None:
        if grace <= timedelta(0):
            raise ValueError("the grace period must be positive")
        self.documents = documents
        self.references = references
        self.grace = grace

    def sweep(self, dry_run: bool = False) -> SweepReport:
        # The cutoff first, the references after: see the module docstring.
        cutoff, unclaimed = self.documents.unclaimed_since(self.grace)
        referenced: set[str] = set()
        for start in range(0, len(unclaimed), REFERENCE_BATCH):
            batch = unclaimed[start : start + REFERENCE_BATCH]
            referenced |= self.references.referenced([d.sha256 for d in batch])
        unreferenced = [d for d in unclaimed if d.sha256 not in referenced]
        removed = unreferenced
        if not dry_run:
            removed = [d for d in unreferenced if self.documents.delete_unclaimed(d.sha256, cutoff)]
        return SweepReport(
            dry_run=dry_run,
            cutoff=cutoff,
            checked=len(unclaimed),
            referenced=len(unclaimed) - len(unreferenced),
            removed=tuple(removed),
        )
