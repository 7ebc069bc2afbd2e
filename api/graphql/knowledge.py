"""GraphQL for the knowledge base: FAQs, their documents (multipart upload), search, contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload
from strawberry.types import Info

from api.graphql.access import Account, parse_id
from api.graphql.base import (
    Context,
    PageInfo,
    UserError,
    ctx,
    first_arg,
    invoke,
    mutate,
)
from api.graphql.base import query as run_query
from application.knowledge.contacts import ContactResult, ContactView
from application.knowledge.faqs import FaqResult, FaqView
from domain.knowledge.faq import DocumentRef

_ACCOUNTS = "_knowledge_accounts"


async def _account(info: Info[Context, Any], account_id: str) -> Account:
    """The uploader's account, looked up once per request."""
    c = ctx(info)
    cache: dict[str, Account] = c.__dict__.setdefault(_ACCOUNTS, {})
    if account_id not in cache:
        found = await invoke(c.container.access.actor_account, parse_id(account_id))
        if found is None:
            raise LookupError(f"account {account_id} of an uploader is missing")
        cache[account_id] = Account.from_aggregate(found)
    return cache[account_id]


@strawberry.type
class FaqDocument:
    id: strawberry.ID = strawberry.field(description="sha256 of the content")
    filename: str
    content_type: str
    size_bytes: int
    download_url: str = strawberry.field(
        description="Authenticated download path, e.g. /documents/<id>"
    )
    uploaded_at: datetime
    uploaded_by_id: strawberry.Private[str]

    @strawberry.field
    async def uploaded_by(self, info: Info[Context, Any]) -> Account:
        return await _account(info, self.uploaded_by_id)

    @classmethod
    def of(cls, d: DocumentRef) -> FaqDocument:
        return cls(
            id=strawberry.ID(d.sha256),
            filename=d.filename,
            content_type=d.content_type,
            size_bytes=d.size_bytes,
            download_url=f"/documents/{d.sha256}",
            uploaded_at=d.uploaded_at,
            uploaded_by_id=d.uploaded_by,
        )


@strawberry.type
class Faq:
    id: strawberry.ID
    title: str
    body: str
    category: str
    keywords: list[str]
    documents: list[FaqDocument]
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, v: FaqView) -> Faq:
        return cls(
            id=strawberry.ID(str(v.id)),
            title=v.title,
            body=v.body,
            category=v.category,
            keywords=list(v.keywords),
            documents=[FaqDocument.of(d) for d in v.documents],
            updated_at=v.updated_at,
            version=v.version,
        )


@strawberry.type
class FaqHit:
    faq: Faq
    highlighted_title: str = strawberry.field(
        description="title with matches wrapped in <mark>; everything else HTML-escaped"
    )
    score: float


@strawberry.type
class FaqHitConnection:
    nodes: list[FaqHit]
    page_info: PageInfo
    total_count: int


@strawberry.type
class FaqPayload:
    faq: Faq | None = None
    position: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class FaqInput:
    title: str
    body: str
    category: str
    keywords: list[str] | None = None


@strawberry.type
class SupportContact:
    id: strawberry.ID
    name: str
    title: str | None
    phone: str | None
    email: str | None
    hours: str | None
    notes: str | None

    @classmethod
    def of(cls, v: ContactView) -> SupportContact:
        return cls(
            id=strawberry.ID(str(v.id)),
            name=v.name,
            title=v.title,
            phone=v.phone,
            email=v.email,
            hours=v.hours,
            notes=v.notes,
        )


@strawberry.input
class SupportContactInput:
    name: str
    title: str | None = None
    phone: str | None = None
    email: str | None = None
    hours: str | None = None
    notes: str | None = None


@strawberry.type
class SupportContactPayload:
    contact: SupportContact | None = None
    position: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _faq_payload(result: FaqResult | list[UserError]) -> FaqPayload:
    if isinstance(result, list):
        return FaqPayload(user_errors=result)
    return FaqPayload(faq=Faq.of(result.faq), position=result.position)


def _contact_payload(result: ContactResult | list[UserError]) -> SupportContactPayload:
    if isinstance(result, list):
        return SupportContactPayload(user_errors=result)
    return SupportContactPayload(
        contact=SupportContact.of(result.contact), position=result.position
    )


@strawberry.type
class KnowledgeQuery:
    @strawberry.field
    async def faq(self, info: Info[Context, Any], id: strawberry.ID) -> Faq | None:
        c = ctx(info)
        view = await run_query(c.container.knowledge.faq, c.principal(), parse_id(id))
        return Faq.of(view) if view is not None else None

    @strawberry.field(description="The FAQ as it was at the given time, rebuilt from its events")
    async def faq_as_of(
        self, info: Info[Context, Any], id: strawberry.ID, at: datetime
    ) -> Faq | None:
        c = ctx(info)
        view = await run_query(c.container.knowledge.faq_as_of, c.principal(), parse_id(id), at)
        return Faq.of(view) if view is not None else None

    @strawberry.field(
        description="Live FAQs matching every term (Chinese, Latin words, digits), title "
        "matches first; an empty query lists every FAQ, most recently updated first"
    )
    async def search_faqs(
        self,
        info: Info[Context, Any],
        query: str,
        category: str | None = None,
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> FaqHitConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        page = await run_query(
            c.container.knowledge.search,
            c.principal(),
            query,
            category,
            limit,
            after,
            consistent_with,
        )
        return FaqHitConnection(
            nodes=[
                FaqHit(faq=Faq.of(h.faq), highlighted_title=h.highlighted_title, score=h.score)
                for h in page.hits
            ],
            page_info=PageInfo(end_cursor=page.end_cursor, has_next_page=page.has_next),
            total_count=page.total,
        )

    @strawberry.field
    async def support_contacts(
        self, info: Info[Context, Any], consistent_with: int | None = None
    ) -> list[SupportContact]:
        c = ctx(info)
        views = await run_query(c.container.contacts.list, c.principal(), consistent_with)
        return [SupportContact.of(v) for v in views]


@strawberry.type
class KnowledgeMutation:
    @strawberry.mutation
    async def create_faq(self, info: Info[Context, Any], input: FaqInput) -> FaqPayload:
        c = ctx(info)
        result = await mutate(
            c.container.knowledge.create_faq,
            c.principal(),
            title=input.title,
            body=input.body,
            category=input.category,
            keywords=input.keywords,
        )
        return _faq_payload(result)

    @strawberry.mutation
    async def revise_faq(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        input: FaqInput,
        expected_version: int | None = None,
    ) -> FaqPayload:
        c = ctx(info)
        result = await mutate(
            c.container.knowledge.revise_faq,
            c.principal(),
            parse_id(id),
            title=input.title,
            body=input.body,
            category=input.category,
            keywords=input.keywords,
            expected_version=expected_version,
        )
        return _faq_payload(result)

    @strawberry.mutation
    async def remove_faq(self, info: Info[Context, Any], id: strawberry.ID) -> FaqPayload:
        c = ctx(info)
        result = await mutate(c.container.knowledge.remove_faq, c.principal(), parse_id(id))
        return _faq_payload(result)

    @strawberry.mutation(description="Multipart upload (bearer token required); see README")
    async def attach_faq_document(
        self, info: Info[Context, Any], faq_id: strawberry.ID, file: Upload
    ) -> FaqPayload:
        c = ctx(info)
        principal = c.principal()
        faq = parse_id(faq_id, "faqId")
        # Typed as bytes by strawberry; the FastAPI integration hands over starlette's file.
        upload = cast(UploadFile, file)
        result = await mutate(
            c.container.knowledge.attach_document,
            principal,
            faq,
            upload.filename,
            upload.file,
        )
        return _faq_payload(result)

    @strawberry.mutation
    async def detach_faq_document(
        self, info: Info[Context, Any], faq_id: strawberry.ID, document_id: strawberry.ID
    ) -> FaqPayload:
        c = ctx(info)
        result = await mutate(
            c.container.knowledge.detach_document,
            c.principal(),
            parse_id(faq_id, "faqId"),
            str(document_id),
        )
        return _faq_payload(result)

    @strawberry.mutation
    async def upsert_support_contact(
        self,
        info: Info[Context, Any],
        input: SupportContactInput,
        id: strawberry.ID | None = None,
    ) -> SupportContactPayload:
        c = ctx(info)
        result = await mutate(
            c.container.contacts.upsert,
            c.principal(),
            parse_id(id) if id is not None else None,
            name=input.name,
            title=input.title,
            phone=input.phone,
            email=input.email,
            hours=input.hours,
            notes=input.notes,
        )
        return _contact_payload(result)

    @strawberry.mutation
    async def remove_support_contact(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> SupportContactPayload:
        c = ctx(info)
        result = await mutate(c.container.contacts.remove, c.principal(), parse_id(id))
        return _contact_payload(result)
