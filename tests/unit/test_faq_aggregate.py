"""The Faq and SupportContact aggregates: rules, events, and replay (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.knowledge.contact import ContactDetails, SupportContact, SupportContactRemovedError
from domain.knowledge.faq import (
    MAX_DOCUMENTS,
    DocumentAlreadyAttachedError,
    DocumentNotAttachedError,
    DocumentRef,
    Faq,
    FaqContent,
    FaqRemovedError,
    TooManyDocumentsError,
)
from domain.shared import Actor, ChangeMeta, NoChangeError, ValidationError

META = ChangeMeta(Actor(account_id="", username="second", role="", province=None))


def content(title: str = "如何修改邮箱密码", **kw: Any) -> FaqContent:
    values = {"body": "在设置中修改", "category": "密码", "keywords": ["密码"]}
    values.update(kw)
    return FaqContent.parse(title=title, **values)


def doc(sha: str = "a" * 64, name: str = "guide.pdf") -> DocumentRef:
    return DocumentRef(sha, name, "application/pdf", 10, "acct", datetime(2026, 1, 1, tzinfo=UTC))


def test_content_is_normalised_and_validated() -> None:
    c = FaqContent.parse(
        title="  e\u0301 标题 ", body="a\r\nb ", category=" 类别 ", keywords=["A", "a", " ", "b"]
    )
    assert (c.title, c.body, c.category, c.keywords) == ("é 标题", "a\nb", "类别", ("A", "b"))
    for bad in (
        {"title": ""},
        {"title": "x" * 201},
        {"title": "a\u202eb"},
        {"title": "two\nlines"},
        {"body": " "},
        {"body": "x\x9by"},
        {"category": "a\tb"},
        {"keywords": ["ok", "a\x00"]},
    ):
        values = {"title": "t", "body": "b", "category": "c", "keywords": None, **bad}
        with pytest.raises(ValidationError) as err:
            FaqContent.parse(**values)
        assert err.value.field == [next(iter(bad))]
    with pytest.raises(ValidationError):
        FaqContent.parse(title="t", body="b", category="c", keywords=[f"k{i}" for i in range(21)])


def test_revisions_are_events_and_identical_revisions_are_refused() -> None:
    faq = Faq.create(content(), META)
    faq.revise(content("如何修改 139 邮箱密码"), META)
    assert [type(e).__name__ for e in faq.collect_events()] == ["FaqCreated", "FaqRevised"]
    assert faq.version == 2 and faq.title == "如何修改 139 邮箱密码"
    with pytest.raises(NoChangeError):
        faq.revise(content("如何修改 139 邮箱密码"), META)


def test_removed_faqs_refuse_every_change() -> None:
    faq = Faq.create(content(), META)
    faq.remove(META)
    for change in (
        lambda: faq.revise(content("新标题"), META),
        lambda: faq.remove(META),
        lambda: faq.attach_document(doc(), META),
        lambda: faq.detach_document("a" * 64, META),
    ):
        with pytest.raises(FaqRemovedError):
            change()


def test_documents_attach_once_and_detach() -> None:
    faq = Faq.create(content(), META)
    faq.attach_document(doc(), META)
    with pytest.raises(DocumentAlreadyAttachedError):
        faq.attach_document(doc(name="same-bytes-other-name.pdf"), META)
    faq.detach_document("a" * 64, META)
    with pytest.raises(DocumentNotAttachedError):
        faq.detach_document("a" * 64, META)
    for i in range(MAX_DOCUMENTS):
        faq.attach_document(doc(f"{i:064x}"), META)
    with pytest.raises(TooManyDocumentsError):
        faq.attach_document(doc("f" * 64), META)


def test_contact_details_are_validated() -> None:
    d = ContactDetails.parse(
        name=" 值班台 ", phone="+86 20 0000 1390 转 2", email="a@support.example.com", hours=""
    )
    assert (d.name, d.phone, d.hours) == ("值班台", "+86 20 0000 1390 转 2", None)
    for bad in ({"name": ""}, {"phone": "call me"}, {"email": "nobody"}, {"notes": "x" * 1001}):
        with pytest.raises(ValidationError):
            ContactDetails.parse(**{"name": "n", **bad})


def test_contact_lifecycle() -> None:
    contact = SupportContact.add(ContactDetails.parse(name="值班台"), META)
    with pytest.raises(NoChangeError):
        contact.update(ContactDetails.parse(name="值班台"), META)
    contact.update(ContactDetails.parse(name="值班台", phone="020-0000-1390"), META)
    contact.remove(META)
    with pytest.raises(SupportContactRemovedError):
        contact.update(ContactDetails.parse(name="x"), META)
    names = [type(e).__name__ for e in contact.collect_events()]
    assert names == ["SupportContactAdded", "SupportContactUpdated", "SupportContactRemoved"]


class FaqMachine(RuleBasedStateMachine):
    """Any sequence of commands: the aggregate keeps its rules and replays to the same state."""

    def __init__(self) -> None:
        super().__init__()
        self.faq = Faq.create(content(), META)
        self.events: list[Any] = list(self.faq.collect_events())
        self.model_docs: list[str] = []
        self.removed = False

    def _commit(self) -> None:
        self.events.extend(self.faq.collect_events())

    @precondition(lambda self: not self.removed)
    @rule(title=st.sampled_from(["甲", "乙", "丙"]))
    def revise(self, title: str) -> None:
        try:
            self.faq.revise(content(title), META)
        except NoChangeError:
            assert self.faq.title == title
        self._commit()

    @precondition(lambda self: not self.removed)
    @rule(n=st.integers(0, 3))
    def attach(self, n: int) -> None:
        sha = f"{n:064x}"
        try:
            self.faq.attach_document(doc(sha), META)
            self.model_docs.append(sha)
        except DocumentAlreadyAttachedError:
            assert sha in self.model_docs
        self._commit()

    @precondition(lambda self: not self.removed)
    @rule(n=st.integers(0, 3))
    def detach(self, n: int) -> None:
        sha = f"{n:064x}"
        try:
            self.faq.detach_document(sha, META)
            self.model_docs.remove(sha)
        except DocumentNotAttachedError:
            assert sha not in self.model_docs
        self._commit()

    @rule()
    def remove(self) -> None:
        try:
            self.faq.remove(META)
            self.removed = True
        except FaqRemovedError:
            assert self.removed
        self._commit()

    @invariant()
    def replay_gives_the_same_state(self) -> None:
        copy: Faq | None = None
        for e in self.events:
            copy = e.mutate(copy)
        assert copy is not None
        assert vars(copy) == vars(self.faq)
        assert [d.sha256 for d in self.faq.documents] == self.model_docs
        assert self.faq.removed == self.removed


TestFaqMachine = FaqMachine.TestCase
TestFaqMachine.settings = settings(max_examples=40, deadline=None)
