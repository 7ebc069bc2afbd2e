"""Knowledge-base commands on PostgreSQL: versions, removal, documents, contacts, rebuilds."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from application.authz import Principal
from domain.shared import DomainError, NotFoundError, VersionConflictError
from infra.bootstrap import Container
from tests.faq_helpers import PDF_BYTES, PNG_BYTES
from tests.helpers import seed_accounts


@pytest.fixture
def people(container: Container) -> dict[str, Principal]:
    return seed_accounts(container)


def create(container: Container, who: Principal, title: str = "如何修改邮箱密码") -> str:
    result = container.knowledge.create_faq(
        who, title=title, body="在设置中修改密码", category="密码", keywords=["密码"]
    )
    return str(result.faq.id)


def blob_count(container: Container) -> int:
    return container.documents.count()


def test_every_version_is_kept_and_readable_as_of_a_time(
    container: Container, people: dict[str, Principal]
) -> None:
    editor = people["second"]
    result = container.knowledge.create_faq(
        editor, title="版本一", body="正文一", category="类别", keywords=None
    )
    faq_id = result.faq.id
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    revised = container.knowledge.revise_faq(
        editor, faq_id, title="版本二", body="正文二", category="类别", keywords=["新"]
    )
    assert revised.position > result.position
    assert revised.faq.version == 2
    viewer = people["viewer"]
    assert container.knowledge.faq(viewer, faq_id).title == "版本二"  # type: ignore[union-attr]
    then = container.knowledge.faq_as_of(viewer, faq_id, between)
    assert then is not None and (then.title, then.version) == ("版本一", 1)
    assert container.knowledge.faq_as_of(viewer, faq_id, datetime(2000, 1, 1, tzinfo=UTC)) is None
    assert container.core.repository.get(faq_id, version=1).title == "版本一"


def test_a_stale_expected_version_is_a_conflict(
    container: Container, people: dict[str, Principal]
) -> None:
    editor = people["second"]
    faq_id = container.knowledge.create_faq(
        editor, title="标题", body="正文", category="类别", keywords=None
    ).faq.id
    container.knowledge.revise_faq(
        editor, faq_id, title="标题二", body="正文", category="类别", keywords=None
    )
    head = container.core_log.head()
    with pytest.raises(VersionConflictError):
        container.knowledge.revise_faq(
            editor,
            faq_id,
            title="标题三",
            body="正文",
            category="类别",
            keywords=None,
            expected_version=1,
        )
    assert container.core_log.head() == head


def test_removed_faqs_leave_search_and_lookups_but_keep_history(
    container: Container, people: dict[str, Principal]
) -> None:
    editor, viewer = people["second"], people["viewer"]
    keep = create(container, editor, "如何修改邮箱密码")
    gone = container.knowledge.create_faq(
        editor, title="忘记密码怎么办", body="重置密码", category="密码", keywords=None
    ).faq.id
    before_removal = datetime.now(UTC)
    container.knowledge.remove_faq(editor, gone)
    container.engine.catch_up("faqs")
    page = container.knowledge.search(viewer, "密码", None, 50)
    assert [str(h.faq.id) for h in page.hits] == [keep] and page.total == 1
    assert container.knowledge.search(viewer, "", None, 50).total == 1
    assert container.knowledge.faq(viewer, gone) is None
    assert container.knowledge.faq_as_of(viewer, gone, before_removal) is not None
    assert len(container.core_log.stream(gone, 0, 10)) == 2  # created, removed
    with pytest.raises(DomainError) as err:
        container.knowledge.revise_faq(
            editor, gone, title="x", body="y", category="z", keywords=None
        )
    assert err.value.code == "FAQ_REMOVED"


def test_documents_are_stored_once_per_content_and_stream_back(
    container: Container, people: dict[str, Principal]
) -> None:
    editor, viewer = people["second"], people["viewer"]
    first, second = create(container, editor, "甲"), create(container, editor, "乙")
    text = ("第一行 line\n" * 100_000).encode()  # > 1 MB: several chunks
    one = container.knowledge.attach_document(editor, first, "说明.txt", io.BytesIO(text))
    two = container.knowledge.attach_document(editor, second, "另一个名字.txt", io.BytesIO(text))
    ref = one.faq.documents[0]
    assert ref.sha256 == two.faq.documents[0].sha256
    assert (ref.filename, ref.content_type, ref.size_bytes) == (
        "说明.txt",
        "text/plain; charset=utf-8",
        len(text),
    )
    assert ref.uploaded_by == str(editor.account_id)
    assert blob_count(container) == 1
    container.engine.catch_up("faqs")
    found = container.knowledge.open_document(viewer, ref.sha256)
    assert found.filename == "另一个名字.txt"  # the latest attachment's name
    assert b"".join(container.knowledge.document_chunks(ref.sha256)) == text


def test_detaching_keeps_the_bytes_for_earlier_versions(
    container: Container, people: dict[str, Principal]
) -> None:
    editor, viewer = people["second"], people["viewer"]
    faq_id = create(container, editor)
    sha = (
        container.knowledge.attach_document(editor, faq_id, "guide.pdf", io.BytesIO(PDF_BYTES))
        .faq.documents[0]
        .sha256
    )
    while_attached = datetime.now(UTC)
    detached = container.knowledge.detach_document(editor, faq_id, sha)
    assert detached.faq.documents == ()
    assert blob_count(container) == 1
    then = container.knowledge.faq_as_of(viewer, faq_id, while_attached)
    assert then is not None and [d.sha256 for d in then.documents] == [sha]
    assert container.knowledge.open_document(viewer, sha).size_bytes == len(PDF_BYTES)
    with pytest.raises(DomainError) as err:
        container.knowledge.detach_document(editor, faq_id, sha)
    assert err.value.code == "DOCUMENT_NOT_ATTACHED"


REFUSED = [
    ("big.txt", b"x" * 2049, "DOCUMENT_TOO_LARGE"),
    ("empty.pdf", b"", "EMPTY_DOCUMENT"),
    ("virus.pdf", b"MZ\x90\x00" + b"\x00" * 60, "UNSUPPORTED_DOCUMENT_TYPE"),
    ("photo.pdf", PNG_BYTES, "DOCUMENT_TYPE_MISMATCH"),
    ("../../etc/passwd.pdf", PDF_BYTES, "INVALID_FILENAME"),
    ("..\\boot.ini.txt", b"hello", "INVALID_FILENAME"),
    ("setup.exe", PDF_BYTES, "UNSUPPORTED_DOCUMENT_TYPE"),
    ("anim.gif", b"GIF89a\x01\x00\x01\x00", "UNSUPPORTED_DOCUMENT_TYPE"),
]


def test_refused_uploads_store_nothing(container: Container, people: dict[str, Principal]) -> None:
    container.knowledge.document_max_bytes = 2048
    editor = people["second"]
    faq_id = create(container, editor)
    head = container.core_log.head()
    for filename, data, code in REFUSED:
        with pytest.raises(DomainError) as err:
            container.knowledge.attach_document(editor, faq_id, filename, io.BytesIO(data))
        assert (filename, err.value.code, err.value.field) == (filename, code, ["file"])
        assert blob_count(container) == 0
        assert container.core_log.head() == head


def test_uploads_to_a_removed_or_unknown_faq_store_nothing(
    container: Container, people: dict[str, Principal]
) -> None:
    editor = people["second"]
    faq_id = create(container, editor)
    container.knowledge.remove_faq(editor, faq_id)
    with pytest.raises(DomainError) as err:
        container.knowledge.attach_document(editor, faq_id, "a.pdf", io.BytesIO(PDF_BYTES))
    assert err.value.code == "FAQ_REMOVED"
    with pytest.raises(NotFoundError):
        container.knowledge.attach_document(editor, uuid4(), "a.pdf", io.BytesIO(PDF_BYTES))
    assert blob_count(container) == 0


def test_unknown_and_malformed_document_ids_are_not_found(
    container: Container, people: dict[str, Principal]
) -> None:
    for sha in ("0" * 64, "../secret", "x"):
        with pytest.raises(NotFoundError):
            container.knowledge.open_document(people["viewer"], sha)


def test_rebuilding_the_search_index_gives_the_same_answers(
    container: Container, people: dict[str, Principal]
) -> None:
    editor, viewer = people["second"], people["viewer"]
    ids = [create(container, editor, f"邮箱问题 {i}") for i in range(5)]
    container.knowledge.revise_faq(
        editor, ids[0], title="邮箱密码问题", body="正文", category="密码", keywords=None
    )
    container.knowledge.remove_faq(editor, ids[1])
    container.knowledge.attach_document(editor, ids[2], "a.pdf", io.BytesIO(PDF_BYTES))
    container.engine.catch_up("faqs")

    def answers() -> list[tuple[str, str, float, int]]:
        page = container.knowledge.search(viewer, "邮箱", None, 50)
        return [
            (str(h.faq.id), h.highlighted_title, h.score, len(h.faq.documents)) for h in page.hits
        ]

    before = answers()
    container.rebuilds.rebuild("faqs")
    assert answers() == before
    assert len(before) == 4


def test_support_contacts_lifecycle(container: Container, people: dict[str, Principal]) -> None:
    admin, viewer = people["admin"], people["viewer"]
    added = container.contacts.upsert(admin, None, name="值班台", phone="020-0000-1390")
    other = container.contacts.upsert(admin, None, name="二线支持", email="l2@support.example.com")
    updated = container.contacts.upsert(
        admin, added.contact.id, name="值班台", phone="020-0000-1390", hours="7×24"
    )
    assert updated.contact.hours == "7×24" and updated.position > other.position
    container.engine.catch_up("support_contacts")
    listed = container.contacts.list(viewer)
    assert [c.name for c in listed] == ["二线支持", "值班台"]
    assert listed[1].hours == "7×24"
    container.contacts.remove(admin, other.contact.id)
    container.engine.catch_up("support_contacts")
    assert [c.name for c in container.contacts.list(viewer)] == ["值班台"]
    with pytest.raises(NotFoundError):
        container.contacts.upsert(admin, uuid4(), name="不存在")
    with pytest.raises(DomainError) as err:
        container.contacts.remove(admin, other.contact.id)
    assert err.value.code == "CONTACT_REMOVED"
