"""Helpers for knowledge-base tests: a module-wide database with the demo FAQs, sample files."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from application.access.service import principal_of
from application.authz import Principal
from demo.knowledge import _docx, _pdf, _png, load_demo_knowledge
from demo.ledger import DemoLedger
from domain.access.account import account_id_for
from infra.bootstrap import Container
from tests.conftest import _with_dbname, make_settings
from tests.helpers import seed_accounts

PDF_BYTES = _pdf(["SPOA test document"])
PNG_BYTES = _png(8, 8)
DOCX_BYTES = _docx(["测试文档 test"])
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
OLE2_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def ole2(stream_name: str) -> bytes:
    """A stand-in legacy Office file: OLE2 header, a directory entry named `stream_name`."""
    data = bytearray(OLE2_HEADER + b"\x00" * (512 - len(OLE2_HEADER)))
    entry = stream_name.encode("utf-16-le").ljust(128, b"\x00")
    data += entry + b"\x00" * 384
    return bytes(data)


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def xlsx() -> bytes:
    return zip_of({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})


def pptx() -> bytes:
    return zip_of({"[Content_Types].xml": b"<Types/>", "ppt/presentation.xml": b"<p/>"})


def refresh(container: Container, principal: Principal) -> Principal:
    return principal_of(container.core.repository.get(principal.account_id))


@dataclass
class KnowledgeWorld:
    container: Container
    principals: dict[str, Principal]

    @property
    def editor(self) -> Principal:
        return self.principals["second"]

    def catch_up(self) -> None:
        self.container.engine.catch_up("faqs")
        self.container.engine.catch_up("support_contacts")

    def search(self, text: str, **kwargs: Any) -> Any:
        kwargs.setdefault("limit", 50)
        return self.container.knowledge.search(self.principals["viewer"], text, None, **kwargs)

    def titles(self, text: str, **kwargs: Any) -> list[str]:
        return [hit.faq.title for hit in self.search(text, **kwargs).hits]


@contextmanager
def knowledge_world(
    pg_server_url: str, template_db: str, demo: bool = True, **overrides: Any
) -> Iterator[KnowledgeWorld]:
    """A database of its own (for a test module), accounts per role, the demo knowledge base."""
    name = f"spoa_kb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = _with_dbname(pg_server_url, name)
    container = Container(make_settings(url, **overrides), url)
    try:
        principals = seed_accounts(container)
        if demo:
            author = principal_of(container.core.repository.get(account_id_for("second")))
            ledger = DemoLedger(container.audit, principals["auditor"])
            load_demo_knowledge(container.knowledge, container.contacts, author, ledger)
        world = KnowledgeWorld(container, principals)
        world.catch_up()
        yield world
    finally:
        container.close()
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


ATTACH = (
    "mutation($f: ID!, $file: Upload!) { attachFaqDocument(faqId: $f, file: $file) {"
    " faq { id version documents { id filename contentType sizeBytes downloadUrl uploadedAt"
    " uploadedBy { username } } } position userErrors { code message field } } }"
)


def upload(
    client: Any,
    faq_id: str,
    filename: str,
    data: bytes,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """attachFaqDocument as a GraphQL multipart request (the spec's operations/map/file parts)."""
    import json

    operations = {"query": ATTACH, "variables": {"f": faq_id, "file": None}}
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, data, "application/octet-stream")},
        headers=sent,
    )
