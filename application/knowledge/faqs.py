"""Knowledge-base use cases: FAQs (create, revise, remove), documents, and search."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol
from uuid import UUID

from eventsourcing.application import Application

from application.audit.ports import AggregateAsOf
from application.authz import Principal
from application.consistency import wait_until_applied
from application.knowledge.ports import DocumentReferences, DocumentStore
from application.pagination import CursorCodec
from application.ports import Clock, ReadModelWaiter
from application.unit_of_work import get_or_none, get_or_raise, run_command, save
from domain.access.permissions import Permission
from domain.knowledge.documents import (
    DocumentTooLargeError,
    EmptyDocumentError,
    clean_filename,
    is_sha256,
    name_for,
    sniff,
)
from domain.knowledge.faq import CATEGORY, DocumentRef, Faq, FaqContent
from domain.knowledge.search_text import SearchQuery, highlight, parse_query
from domain.shared import NotFoundError

FAQ_PROJECTIONS = ("faqs",)
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class SearchAfter:
    """Where the previous page of a ranked search ended."""

    score: float
    updated_at: datetime
    faq_id: UUID


class FaqReadModel(Protocol):
    def search(
        self, query: SearchQuery, category: str | None, after: SearchAfter | None, limit: int
    ) -> tuple[list[Any], int]:
        """Rows (id, title, body, category, keywords, documents, updated_at, version, score)
        of live FAQs that match, best first, and how many match in all."""
        ...

    def latest_filename(self, sha256: str) -> str | None: ...


@dataclass(frozen=True)
class FaqView:
    """A FAQ as the API shows it, whether read from its events or from the search index."""

    id: UUID
    title: str
    body: str
    category: str
    keywords: tuple[str, ...]
    documents: tuple[DocumentRef, ...]
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, faq: Faq) -> FaqView:
        return cls(
            id=faq.id,
            title=faq.title,
            body=faq.body,
            category=faq.category,
            keywords=tuple(faq.keywords),
            documents=tuple(faq.documents),
            updated_at=faq.modified_on,
            version=faq.version,
        )


@dataclass(frozen=True)
class FaqResult:
    faq: FaqView
    position: int


@dataclass(frozen=True)
class FaqHit:
    faq: FaqView
    highlighted_title: str
    score: float


@dataclass(frozen=True)
class FaqSearchPage:
    hits: list[FaqHit]
    total: int
    end_cursor: str | None
    has_next: bool


@dataclass(frozen=True)
class DocumentDownload:
    sha256: str
    filename: str
    content_type: str
    size_bytes: int


class KnowledgeService:
    """Commands and queries of the FAQ knowledge base."""

    def __init__(
        self,
        store: Application[UUID],
        faqs: FaqReadModel,
        documents: DocumentStore,
        cursors: CursorCodec,
        waiter: ReadModelWaiter,
        clock: Clock,
        document_max_bytes: int,
        as_of: AggregateAsOf,
        references: DocumentReferences | None = None,
    ) -> None:
        self.store = store
        self.references = references
        self.faqs = faqs
        self.documents = documents
        self.cursors = cursors
        self.waiter = waiter
        self.clock = clock
        self.document_max_bytes = document_max_bytes
        self.aggregates_as_of = as_of

    # ------------------------------------------------------------------ FAQ commands
    def create_faq(
        self,
        principal: Principal,
        *,
        title: str,
        body: str,
        category: str,
        keywords: list[str] | None,
    ) -> FaqResult:
        principal.require(Permission.FAQ_EDIT)
        content = FaqContent.parse(title=title, body=body, category=category, keywords=keywords)
        faq = Faq.create(content, principal.meta())
        return FaqResult(FaqView.of(faq), save(self.store, faq))

    def revise_faq(
        self,
        principal: Principal,
        faq_id: UUID,
        *,
        title: str,
        body: str,
        category: str,
        keywords: list[str] | None,
        expected_version: int | None = None,
    ) -> FaqResult:
        principal.require(Permission.FAQ_EDIT)
        content = FaqContent.parse(title=title, body=body, category=category, keywords=keywords)

        def act(faq: Faq) -> FaqResult:
            faq.revise(content, principal.meta())
            return FaqResult(FaqView.of(faq), save(self.store, faq))

        return run_command(lambda: self._faq(faq_id), act, expected_version=expected_version)

    def remove_faq(self, principal: Principal, faq_id: UUID) -> FaqResult:
        principal.require(Permission.FAQ_REMOVE)

        def act(faq: Faq) -> FaqResult:
            faq.remove(principal.meta())
            return FaqResult(FaqView.of(faq), save(self.store, faq))

        return run_command(lambda: self._faq(faq_id), act)

    def _faq(self, faq_id: UUID) -> Faq:
        return get_or_raise(self.store, faq_id, Faq, "FAQ")

    # ------------------------------------------------------------------ documents
    def attach_document(
        self, principal: Principal, faq_id: UUID, filename: str | None, stream: BinaryIO
    ) -> FaqResult:
        """Check, store (once per content) and attach an uploaded document.

        Every check runs before a byte is stored: a refused upload leaves nothing behind.
        """
        principal.require(Permission.FAQ_EDIT)
        name = clean_filename(filename)
        sha256, size = self._measure(stream)
        self._faq(faq_id).check_can_attach(sha256)
        kind = sniff(stream, size)
        stored_name = name_for(name, kind)
        stream.seek(0)
        self.documents.put(sha256, kind.content_type, stored_name, size, stream)
        document = DocumentRef(
            sha256=sha256,
            filename=stored_name,
            content_type=kind.content_type,
            size_bytes=size,
            uploaded_by=str(principal.account_id),
            uploaded_at=self.clock.now(),
        )

        def act(faq: Faq) -> FaqResult:
            faq.attach_document(document, principal.meta())
            return FaqResult(FaqView.of(faq), save(self.store, faq))

        return run_command(lambda: self._faq(faq_id), act)

    def _measure(self, stream: BinaryIO) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        stream.seek(0)
        while chunk := stream.read(READ_CHUNK):
            size += len(chunk)
            if size > self.document_max_bytes:
                raise DocumentTooLargeError(
                    f"a document may be at most {self.document_max_bytes} bytes", field=["file"]
                )
            digest.update(chunk)
        if size == 0:
            raise EmptyDocumentError("the document is empty", field=["file"])
        return digest.hexdigest(), size

    def detach_document(self, principal: Principal, faq_id: UUID, sha256: str) -> FaqResult:
        """Detach from the FAQ; the bytes stay, since earlier versions still refer to them."""
        principal.require(Permission.FAQ_EDIT)

        def act(faq: Faq) -> FaqResult:
            faq.detach_document(sha256.lower(), principal.meta())
            return FaqResult(FaqView.of(faq), save(self.store, faq))

        return run_command(lambda: self._faq(faq_id), act)

    def open_document(self, principal: Principal, sha256: str) -> DocumentDownload:
        """What a download needs to know; the bytes come from `document_chunks`."""
        principal.require(Permission.FAQ_READ)
        info = self.documents.info(sha256) if is_sha256(sha256) else None
        if info is None:
            raise NotFoundError("no such document")
        filename = self.faqs.latest_filename(sha256)
        if filename is None and not self._attached(info.sha256):
            # Bytes whose FAQ was never saved (an orphan, until the sweep) are nobody's document.
            raise NotFoundError("no such document")
        return DocumentDownload(
            sha256, filename or info.filename, info.content_type, info.size_bytes
        )

    def _attached(self, sha256: str) -> bool:
        """Whether a stored event attaches the content (the read model may not show it yet)."""
        return self.references is None or sha256 in self.references.referenced([sha256])

    def document_chunks(self, sha256: str) -> Iterator[bytes]:
        return self.documents.chunks(sha256)

    # ------------------------------------------------------------------ queries
    def faq(self, principal: Principal, faq_id: UUID) -> FaqView | None:
        """The current FAQ, or None when there is none or it was removed."""
        principal.require(Permission.FAQ_READ)
        faq = get_or_none(self.store, faq_id, Faq)
        if faq is None or faq.removed:
            return None
        return FaqView.of(faq)

    def faq_as_of(self, principal: Principal, faq_id: UUID, at: datetime) -> FaqView | None:
        """The FAQ as it stood at `at`, the version current then found through the version
        timeline rather than a scan of its events (None if absent or removed then)."""
        principal.require(Permission.FAQ_READ)
        faq = self.aggregates_as_of.aggregate_at("Faq", faq_id, at)
        return FaqView.of(faq) if isinstance(faq, Faq) and not faq.removed else None

    async def wait_for_search(
        self, principal: Principal, text: str, consistent_with: int | None
    ) -> None:
        """Before `search`: who may not read FAQs, or asks badly, is refused at once; else
        wait until the FAQ read models have applied `consistent_with`."""
        principal.require(Permission.FAQ_READ)
        parse_query(text)
        await wait_until_applied(self.waiter, FAQ_PROJECTIONS, consistent_with)

    def search(
        self,
        principal: Principal,
        text: str,
        category: str | None,
        limit: int,
        after: str | None = None,
    ) -> FaqSearchPage:
        """Live FAQs matching every term, title matches first; blank text lists them all."""
        principal.require(Permission.FAQ_READ)
        query = parse_query(text)
        wanted = CATEGORY.optional(category)
        if not query.terms and not query.blank:
            return FaqSearchPage([], 0, None, False)
        kind = f"searchFaqs:{query.fingerprint}:{wanted or ''}"
        start = None
        if after is not None:
            loose, score, updated_at, faq_id = self.cursors.decode(kind, after)
            start = SearchAfter(float(score), datetime.fromisoformat(updated_at), UUID(faq_id))
            if loose:
                query = query.loosened()
        rows, total = self.faqs.search(query, wanted, start, limit + 1)
        if total == 0 and start is None and query.can_loosen:
            # Nothing holds the query as typed: Chinese words are often typed without spaces
            # (套餐生效 for 套餐 ... 生效), so try again needing most of each run's bigrams.
            query = query.loosened()
            rows, total = self.faqs.search(query, wanted, None, limit + 1)
        has_next = len(rows) > limit
        rows = rows[:limit]
        hits = [
            FaqHit(
                faq=FaqView(
                    id=row.id,
                    title=row.title,
                    body=row.body,
                    category=row.category,
                    keywords=tuple(row.keywords),
                    documents=tuple(row.documents),
                    updated_at=row.updated_at,
                    version=row.version,
                ),
                highlighted_title=highlight(row.title, query),
                score=row.score,
            )
            for row in rows
        ]
        end = None
        if rows:
            last = rows[-1]
            loosened = any(t.loose for t in query.terms)
            end = self.cursors.encode(
                kind, [loosened, last.score, last.updated_at.isoformat(), str(last.id)]
            )
        return FaqSearchPage(hits, total, end, has_next)
