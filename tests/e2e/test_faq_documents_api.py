"""FAQ documents over HTTP: multipart uploads, limits, de-duplication, authorised downloads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.access_world import World, open_world
from tests.faq_helpers import DOCX_BYTES, PDF_BYTES, PNG_BYTES, upload

LIMIT = 4096


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db, document_max_bytes=LIMIT) as w:
        yield w


def new_faq(w: World, title: str = "POP3 设置说明") -> str:
    result = w.container.knowledge.create_faq(
        w.principals["second"], title=title, body="正文", category="客户端", keywords=None
    )
    return str(result.faq.id)


def token(w: World, user: str = "second") -> str:
    return w.gql.tokens.get(user) or w.gql.login(user)


def attach(w: World, faq_id: str, name: str, data: bytes, user: str = "second") -> Any:
    response = upload(w.client, faq_id, name, data, token(w, user))
    assert response.status_code == 200, response.text
    return response.json()["data"]["attachFaqDocument"]


def stored(w: World) -> int:
    return w.container.documents.count()


def download(w: World, sha: str, user: str | None = "viewer", **headers: str) -> Any:
    if user is not None:
        headers["Authorization"] = f"Bearer {token(w, user)}"
    return w.client.get(f"/documents/{sha}", headers=headers)


def test_upload_then_download_with_the_right_headers(world: World) -> None:
    faq_id = new_faq(world)
    payload = attach(world, faq_id, "话费账单 指引.docx", DOCX_BYTES)
    assert payload["userErrors"] == []
    doc = payload["faq"]["documents"][0]
    assert doc["filename"] == "话费账单 指引.docx"
    assert doc["contentType"].endswith("wordprocessingml.document")
    assert doc["sizeBytes"] == len(DOCX_BYTES)
    assert doc["downloadUrl"] == f"/documents/{doc['id']}"
    assert doc["uploadedBy"] == {"username": "second"}
    assert payload["position"] > 0
    response = download(world, doc["id"])
    assert response.status_code == 200
    assert response.content == DOCX_BYTES
    assert response.headers["content-type"] == doc["contentType"]
    assert response.headers["content-length"] == str(len(DOCX_BYTES))
    assert response.headers["etag"] == f'"{doc["id"]}"'
    assert response.headers["content-disposition"] == (
        'attachment; filename="____ __.docx"; '
        "filename*=UTF-8''%E8%AF%9D%E8%B4%B9%E8%B4%A6%E5%8D%95%20%E6%8C%87%E5%BC%95.docx"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    again = download(world, doc["id"], **{"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = world.client.head(
        doc["downloadUrl"], headers={"Authorization": f"Bearer {token(world, 'viewer')}"}
    )
    assert head.status_code == 200 and head.headers["content-length"] == str(len(DOCX_BYTES))


def test_downloads_need_a_token_and_the_permission(world: World) -> None:
    faq_id = new_faq(world)
    sha = attach(world, faq_id, "guide.pdf", PDF_BYTES)["faq"]["documents"][0]["id"]
    assert download(world, sha, user=None).status_code == 401
    assert download(world, sha, user=None, Authorization="Bearer forged").status_code == 401
    assert download(world, sha, user="platform").status_code == 403  # INTEGRATION
    for user in ("admin", "second", "gd.agent", "viewer", "gd.viewer", "auditor"):
        assert download(world, sha, user=user).status_code == 200, user
    # a cookie is no credential
    world.client.cookies.set("session", token(world, "admin"))
    try:
        assert download(world, sha, user=None).status_code == 401
    finally:
        world.client.cookies.clear()


def test_unknown_and_malformed_ids_are_not_found(world: World) -> None:
    assert download(world, "0" * 64).status_code == 404
    assert download(world, "not-a-hash").status_code == 404
    assert download(world, "..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_the_same_content_is_stored_once(world: World) -> None:
    before = stored(world)
    first = attach(world, new_faq(world), "a.png", PNG_BYTES)["faq"]["documents"][0]
    second = attach(world, new_faq(world), "b.png", PNG_BYTES)["faq"]["documents"][0]
    assert first["id"] == second["id"]
    assert stored(world) == before + 1
    assert download(world, first["id"]).content == PNG_BYTES


def test_detached_documents_stay_downloadable(world: World) -> None:
    faq_id = new_faq(world)
    sha = attach(world, faq_id, "keep.pdf", PDF_BYTES)["faq"]["documents"][0]["id"]
    result = world.gql(
        "mutation($f: ID!, $d: ID!) { detachFaqDocument(faqId: $f, documentId: $d) {"
        " faq { documents { id } } position userErrors { code } } }",
        {"f": faq_id, "d": sha},
        as_user="second",
    )["data"]["detachFaqDocument"]
    assert result["faq"]["documents"] == [] and result["userErrors"] == []
    assert download(world, sha).status_code == 200


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("big.txt", b"x" * (LIMIT + 1), "DOCUMENT_TOO_LARGE"),
        ("empty.pdf", b"", "EMPTY_DOCUMENT"),
        ("fake.pdf", b"MZ\x90\x00 this is an executable", "UNSUPPORTED_DOCUMENT_TYPE"),
        ("photo.pdf", PNG_BYTES, "DOCUMENT_TYPE_MISMATCH"),
        ("../../etc/passwd.txt", b"root:x:0:0", "INVALID_FILENAME"),
        ("tool.exe", PDF_BYTES, "UNSUPPORTED_DOCUMENT_TYPE"),
        ("page.html", b"<html><script>alert(1)</script>", "UNSUPPORTED_DOCUMENT_TYPE"),
    ],
)
def test_refused_uploads_store_nothing(world: World, name: str, data: bytes, code: str) -> None:
    faq_id = new_faq(world)
    before, head = stored(world), world.head()
    payload = attach(world, faq_id, name, data)
    assert payload["faq"] is None and payload["position"] is None
    assert [e["code"] for e in payload["userErrors"]] == [code]
    assert stored(world) == before and world.head() == head


def test_bodies_over_the_limit_are_cut_off_as_they_stream(world: World) -> None:
    faq_id = new_faq(world)
    before, head = stored(world), world.head()
    limit = LIMIT + world.container.settings.graphql_max_body_bytes
    # declared too large: refused before the body is read
    response = upload(world.client, faq_id, "huge.txt", b"x" * (limit + 10), token(world))
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # no content-length (chunked): counted while streaming
    boundary = "spoa-boundary"
    operations = json.dumps(
        {
            "query": "mutation($f: ID!, $file: Upload!) { attachFaqDocument(faqId: $f, file: $file)"
            " { position } }",
            "variables": {"f": faq_id, "file": None},
        }
    )

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
            f"{operations}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="map"\r\n\r\n{"0": ["variables.file"]}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="huge.txt"'
            "\r\nContent-Type: text/plain\r\n\r\n"
        ).encode()
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = world.client.post(
        "/graphql",
        content=body(),
        headers={
            "Authorization": f"Bearer {token(world)}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert response.status_code == 413
    assert stored(world) == before and world.head() == head


def test_multipart_needs_a_bearer_token_so_it_cannot_be_forged_cross_site(world: World) -> None:
    faq_id = new_faq(world)
    before, head = stored(world), world.head()
    world.client.cookies.set("session", token(world, "admin"))
    try:
        response = upload(world.client, faq_id, "a.pdf", PDF_BYTES, token=None)
    finally:
        world.client.cookies.clear()
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forged = upload(world.client, faq_id, "a.pdf", PDF_BYTES, token="forged")
    assert forged.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert stored(world) == before and world.head() == head


def test_roles_without_faq_edit_cannot_upload(world: World) -> None:
    faq_id = new_faq(world)
    before = stored(world)
    for user in ("viewer", "auditor", "platform"):
        response = upload(world.client, faq_id, "a.pdf", PDF_BYTES, token(world, user))
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN", user
    assert stored(world) == before


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ('mutation($f: ID!) { attachFaqDocument(faqId: $f, file: "a.pdf") { position } }', {}),
        ("mutation($f: ID!) { attachFaqDocument(faqId: $f, file: true) { position } }", {}),
        (
            "mutation($f: ID!, $file: Upload!) { attachFaqDocument(faqId: $f, file: $file)"
            " { position } }",
            {"file": {"filename": "a.pdf"}},
        ),
    ],
    ids=["string literal", "boolean literal", "json variable"],
)
def test_a_file_that_is_not_a_multipart_part_is_bad_input(
    world: World, document: str, variables: dict[str, Any]
) -> None:
    """Found by the GraphQL fuzz: an inline value reached the resolver as a string or a
    number and failed there (INTERNAL_SERVER_ERROR)."""
    faq_id = new_faq(world)
    before, head = stored(world), world.head()
    result = world.gql(document, {"f": faq_id, **variables}, as_user="second")
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"], result
    assert stored(world) == before and world.head() == head
