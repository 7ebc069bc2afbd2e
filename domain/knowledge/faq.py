"""The Faq aggregate: a question and its answer, revised over time, with attached documents.

Every revision is an event, so every earlier version stays readable (`faqAsOf`, the audit
trail). Removing a FAQ hides it from search and lookups; its history is kept. Documents are
referred to by the sha256 of their content; the bytes live outside the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from eventsourcing.domain import Aggregate, event

from domain.shared import ChangeMeta, DomainError, NoChangeError, ValidationError
from domain.text import Text

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_CATEGORY = 40
MAX_KEYWORD = 40
MAX_KEYWORDS = 20
MAX_DOCUMENTS = 20


# A FAQ's free text (domain.text): all but the body are one line. An empty or overlong value
# keeps the code it always had.
_text = partial(Text, too_long_code="INVALID_INPUT", empty_code="INVALID_INPUT")
TITLE = _text("title", MAX_TITLE, line=True)
BODY = _text("body", MAX_BODY)
CATEGORY = _text("category", MAX_CATEGORY, line=True)
KEYWORD = _text("keywords", MAX_KEYWORD, line=True, what="a keyword")


class FaqRemovedError(DomainError):
    code = "FAQ_REMOVED"


class DocumentAlreadyAttachedError(DomainError):
    code = "DOCUMENT_ALREADY_ATTACHED"


class DocumentNotAttachedError(DomainError):
    code = "DOCUMENT_NOT_ATTACHED"


class TooManyDocumentsError(DomainError):
    code = "TOO_MANY_DOCUMENTS"


@dataclass(frozen=True)
class FaqContent:
    """The editable part of a FAQ, validated and normalised (NFC, trimmed)."""

    title: str
    body: str
    category: str
    keywords: tuple[str, ...]

    @classmethod
    def parse(
        cls, *, title: str, body: str, category: str, keywords: list[str] | None
    ) -> FaqContent:
        clean_title = TITLE.clean(title, required=True)
        clean_body = BODY.clean(body, required=True)
        clean_category = CATEGORY.clean(category, required=True)
        words: list[str] = []
        seen: set[str] = set()
        for raw in keywords or []:
            word = KEYWORD.clean(raw)
            if word and word.casefold() not in seen:
                seen.add(word.casefold())
                words.append(word)
        if len(words) > MAX_KEYWORDS:
            raise ValidationError(
                f"at most {MAX_KEYWORDS} keywords", field=["keywords"], code="TOO_MANY_KEYWORDS"
            )
        return cls(clean_title, clean_body, clean_category, tuple(words))


@dataclass(frozen=True)
class DocumentRef:
    """What a FAQ knows of an attached document (the bytes are stored by their sha256)."""

    sha256: str
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by: str
    uploaded_at: datetime


class Faq(Aggregate):
    """A knowledge-base entry (FAQ) of the support centre."""

    TOPIC = "spoa.knowledge:Faq"

    class Event(Aggregate.Event):
        TOPIC = "spoa.knowledge:Faq.Event"

    @event("FaqCreated", topic="spoa.knowledge:Faq.FaqCreated")
    def __init__(
        self, title: str, body: str, category: str, keywords: list[str], meta: ChangeMeta
    ) -> None:
        self.title = title
        self.body = body
        self.category = category
        self.keywords = list(keywords)
        self.removed = False
        self.documents: list[DocumentRef] = []

    @classmethod
    def create(cls, content: FaqContent, meta: ChangeMeta) -> Faq:
        return cls(
            title=content.title,
            body=content.body,
            category=content.category,
            keywords=list(content.keywords),
            meta=meta,
        )

    @property
    def content(self) -> FaqContent:
        return FaqContent(self.title, self.body, self.category, tuple(self.keywords))

    def _require_live(self) -> None:
        if self.removed:
            raise FaqRemovedError("this FAQ was removed")

    # ------------------------------------------------------------------ revisions
    def revise(self, content: FaqContent, meta: ChangeMeta) -> None:
        self._require_live()
        if content == self.content:
            raise NoChangeError("the FAQ already reads like this")
        self._revised(
            title=content.title,
            body=content.body,
            category=content.category,
            keywords=list(content.keywords),
            meta=meta,
        )

    @event("FaqRevised", topic="spoa.knowledge:Faq.FaqRevised")
    def _revised(
        self, title: str, body: str, category: str, keywords: list[str], meta: ChangeMeta
    ) -> None:
        self.title = title
        self.body = body
        self.category = category
        self.keywords = list(keywords)

    def remove(self, meta: ChangeMeta) -> None:
        self._require_live()
        self._removed(meta=meta)

    @event("FaqRemoved", topic="spoa.knowledge:Faq.FaqRemoved")
    def _removed(self, meta: ChangeMeta) -> None:
        self.removed = True

    # ------------------------------------------------------------------ documents
    def document(self, sha256: str) -> DocumentRef | None:
        return next((d for d in self.documents if d.sha256 == sha256), None)

    def check_can_attach(self, sha256: str) -> None:
        """Guards of attach_document, callable before the bytes are stored."""
        self._require_live()
        if self.document(sha256) is not None:
            raise DocumentAlreadyAttachedError(
                "this FAQ already has a document with the same content", field=["file"]
            )
        if len(self.documents) >= MAX_DOCUMENTS:
            raise TooManyDocumentsError(
                f"a FAQ holds at most {MAX_DOCUMENTS} documents", field=["file"]
            )

    def attach_document(self, document: DocumentRef, meta: ChangeMeta) -> None:
        self.check_can_attach(document.sha256)
        self._document_attached(
            sha256=document.sha256,
            filename=document.filename,
            content_type=document.content_type,
            size_bytes=document.size_bytes,
            uploaded_by=document.uploaded_by,
            uploaded_at=document.uploaded_at,
            meta=meta,
        )

    @event("FaqDocumentAttached", topic="spoa.knowledge:Faq.FaqDocumentAttached")
    def _document_attached(
        self,
        sha256: str,
        filename: str,
        content_type: str,
        size_bytes: int,
        uploaded_by: str,
        uploaded_at: datetime,
        meta: ChangeMeta,
    ) -> None:
        self.documents.append(
            DocumentRef(sha256, filename, content_type, size_bytes, uploaded_by, uploaded_at)
        )

    def detach_document(self, sha256: str, meta: ChangeMeta) -> None:
        self._require_live()
        if self.document(sha256) is None:
            raise DocumentNotAttachedError("this FAQ has no such document", field=["documentId"])
        self._document_detached(sha256=sha256, meta=meta)

    @event("FaqDocumentDetached", topic="spoa.knowledge:Faq.FaqDocumentDetached")
    def _document_detached(self, sha256: str, meta: ChangeMeta) -> None:
        self.documents = [d for d in self.documents if d.sha256 != sha256]
