"""Every knowledge-base and contact operation × every role, over HTTP, per permissions.md.

Allowed: the operation does its job. Forbidden: FORBIDDEN (403 for the download), no data,
and not a single event or document stored. Without a session: UNAUTHENTICATED (401).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.access_world import ROLE_USERS, World, open_world
from tests.faq_helpers import PDF_BYTES, upload
from tests.helpers import error_codes
from tests.permissions_doc import allowed, permission_rows


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


_unique = iter(range(1, 1_000_000))


def a_faq(w: World, with_document: bool = False) -> tuple[str, str | None]:
    admin = w.admin
    faq = w.container.knowledge.create_faq(
        admin, title=f"权限测试 {next(_unique)}", body="正文", category="测试", keywords=None
    ).faq
    sha = None
    if with_document:
        # Distinct bytes per FAQ, so detaching one never touches another test's document.
        content = PDF_BYTES + f"\n% {next(_unique)}\n".encode()
        result = w.container.knowledge.attach_document(admin, faq.id, "d.pdf", io.BytesIO(content))
        sha = result.faq.documents[0].sha256
    return str(faq.id), sha


def a_contact(w: World) -> str:
    result = w.container.contacts.upsert(w.admin, None, name=f"联系人 {next(_unique)}")
    return str(result.contact.id)


def token_of(w: World, user: str | None) -> str | None:
    if user is None:
        return None
    return w.gql.tokens.get(user) or w.gql.login(user)


def outcome_of(result: dict[str, Any], field: str) -> str:
    codes = error_codes(result)
    if codes:
        return codes[0]
    payload = (result.get("data") or {}).get(field)
    if isinstance(payload, dict) and payload.get("userErrors"):
        return "USER_ERROR:" + payload["userErrors"][0]["code"]
    return "OK"


def gql(w: World, user: str | None, field: str, document: str, **variables: Any) -> str:
    return outcome_of(w.gql(document, variables, token=token_of(w, user)), field)


Operation = Callable[[World, str | None], str]


def faq(w: World, user: str | None) -> str:
    faq_id, _ = a_faq(w)
    return gql(w, user, "faq", "query($id: ID!) { faq(id: $id) { id title } }", id=faq_id)


def faq_as_of(w: World, user: str | None) -> str:
    faq_id, _ = a_faq(w)
    return gql(
        w,
        user,
        "faqAsOf",
        "query($id: ID!, $at: DateTime!) { faqAsOf(id: $id, at: $at) { id } }",
        id=faq_id,
        at=datetime.now(UTC).isoformat(),
    )


def search_faqs(w: World, user: str | None) -> str:
    return gql(w, user, "searchFaqs", '{ searchFaqs(query: "权限") { totalCount } }')


def document_download(w: World, user: str | None) -> str:
    _, sha = a_faq(w, with_document=True)
    token = token_of(w, user)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status = w.client.get(f"/documents/{sha}", headers=headers).status_code
    return {200: "OK", 401: "UNAUTHENTICATED", 403: "FORBIDDEN"}.get(status, str(status))


def create_faq(w: World, user: str | None) -> str:
    return gql(
        w,
        user,
        "createFaq",
        "mutation($i: FaqInput!) { createFaq(input: $i) { faq { id } userErrors { code } } }",
        i={"title": "新建", "body": "正文", "category": "测试"},
    )


def revise_faq(w: World, user: str | None) -> str:
    faq_id, _ = a_faq(w)
    return gql(
        w,
        user,
        "reviseFaq",
        "mutation($id: ID!, $i: FaqInput!) { reviseFaq(id: $id, input: $i) { faq { version }"
        " userErrors { code } } }",
        id=faq_id,
        i={"title": "修订", "body": "正文二", "category": "测试"},
    )


def attach_faq_document(w: World, user: str | None) -> str:
    faq_id, _ = a_faq(w)
    content = PDF_BYTES + f"\n% {next(_unique)}\n".encode()
    response = upload(w.client, faq_id, "new.pdf", content, token_of(w, user))
    if response.status_code == 401:
        return "UNAUTHENTICATED"
    return outcome_of(response.json(), "attachFaqDocument")


def detach_faq_document(w: World, user: str | None) -> str:
    faq_id, sha = a_faq(w, with_document=True)
    return gql(
        w,
        user,
        "detachFaqDocument",
        "mutation($f: ID!, $d: ID!) { detachFaqDocument(faqId: $f, documentId: $d) {"
        " faq { id } userErrors { code } } }",
        f=faq_id,
        d=sha,
    )


def remove_faq(w: World, user: str | None) -> str:
    faq_id, _ = a_faq(w)
    return gql(
        w,
        user,
        "removeFaq",
        "mutation($id: ID!) { removeFaq(id: $id) { faq { id } userErrors { code } } }",
        id=faq_id,
    )


def support_contacts(w: World, user: str | None) -> str:
    return gql(w, user, "supportContacts", "{ supportContacts { id name } }")


def upsert_support_contact(w: World, user: str | None) -> str:
    return gql(
        w,
        user,
        "upsertSupportContact",
        "mutation($i: SupportContactInput!) { upsertSupportContact(input: $i) {"
        " contact { id } userErrors { code } } }",
        i={"name": "新联系人", "phone": "020-0000-1390"},
    )


def remove_support_contact(w: World, user: str | None) -> str:
    return gql(
        w,
        user,
        "removeSupportContact",
        "mutation($id: ID!) { removeSupportContact(id: $id) { contact { id }"
        " userErrors { code } } }",
        id=a_contact(w),
    )


# permissions.md operation name -> how to exercise it
OPERATIONS: dict[str, Operation] = {
    "faq": faq,
    "faqAsOf": faq_as_of,
    "searchFaqs": search_faqs,
    "document download": document_download,
    "createFaq": create_faq,
    "reviseFaq": revise_faq,
    "attachFaqDocument": attach_faq_document,
    "detachFaqDocument": detach_faq_document,
    "removeFaq": remove_faq,
    "supportContacts": support_contacts,
    "upsertSupportContact": upsert_support_contact,
    "removeSupportContact": remove_support_contact,
}


def may(operation: str, role: str) -> bool:
    # "document download" has no backticks in the table: it shares the row of `faq`.
    return allowed("faq" if operation == "document download" else operation, role)


def test_the_matrix_covers_every_role_of_the_document() -> None:
    roles, _ = permission_rows()
    assert set(roles) == set(ROLE_USERS)


@pytest.mark.parametrize("role", list(ROLE_USERS))
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_operation_by_role(world: World, operation: str, role: str) -> None:
    outcome = OPERATIONS[operation](world, ROLE_USERS[role])
    expected = "OK" if may(operation, role) else "FORBIDDEN"
    assert outcome == expected, (operation, role, outcome)


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_every_operation_needs_a_session(world: World, operation: str) -> None:
    assert OPERATIONS[operation](world, None) == "UNAUTHENTICATED"


def test_forbidden_writes_store_nothing(world: World) -> None:
    faq_id, sha = a_faq(world, with_document=True)
    contact_id = a_contact(world)
    for user in ("viewer", "auditor", "platform"):
        token_of(world, user)
    head, documents = world.head(), world.container.documents.count()
    attempts = [
        (
            "createFaq",
            'mutation { createFaq(input: {title: "x", body: "y", category: "z"}) { position } }',
            {},
        ),
        (
            "reviseFaq",
            'mutation($id: ID!) { reviseFaq(id: $id, input: {title: "x", body: "y",'
            ' category: "z"}) { position } }',
            {"id": faq_id},
        ),
        ("removeFaq", "mutation($id: ID!) { removeFaq(id: $id) { position } }", {"id": faq_id}),
        (
            "detachFaqDocument",
            "mutation($f: ID!, $d: ID!) { detachFaqDocument(faqId: $f,"
            " documentId: $d) { position } }",
            {"f": faq_id, "d": sha},
        ),
        (
            "upsertSupportContact",
            'mutation { upsertSupportContact(input: {name: "x"}) { position } }',
            {},
        ),
        (
            "removeSupportContact",
            "mutation($id: ID!) { removeSupportContact(id: $id) { position } }",
            {"id": contact_id},
        ),
    ]
    for user in ("viewer", "auditor", "platform"):
        for field, document, variables in attempts:
            result = world.gql(document, variables, as_user=user)
            assert error_codes(result) == ["FORBIDDEN"], (user, field)
            assert result["data"] is None
        response = upload(world.client, faq_id, "x.pdf", PDF_BYTES + b"%x", token_of(world, user))
        assert error_codes(response.json()) == ["FORBIDDEN"]
    # Province agents edit FAQs but may neither remove them nor manage contacts.
    for field, document, variables in attempts:
        if field in {"removeFaq", "upsertSupportContact", "removeSupportContact"}:
            result = world.gql(document, variables, as_user="gd.agent")
            assert error_codes(result) == ["FORBIDDEN"], field
    assert world.head() == head
    assert world.container.documents.count() == documents
