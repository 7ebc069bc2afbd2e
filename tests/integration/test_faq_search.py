"""FAQ search on PostgreSQL over the demo knowledge base: Chinese, English and mixed queries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faq_helpers import KnowledgeWorld, knowledge_world


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[KnowledgeWorld]:
    with knowledge_world(pg_server_url, template_db) as w:
        yield w


# query -> the FAQ title that must come first
TOP_RESULTS = [
    # Chinese: no spaces between words; simplified and traditional alike
    ("解冻", "如何解冻被冻结的邮箱"),
    ("郵箱 解凍", "如何解冻被冻结的邮箱"),
    ("忘记密码", "忘记邮箱密码怎么办"),
    ("10658139 黑名单", "什么是 10658139 短信黑名单"),
    ("到达通知 时段", "到达通知的时段可以跨越午夜吗"),
    ("退訂 賬單", "如何退订话费账单投递"),
    ("别名 占用", "设置别名时提示已被占用怎么办"),
    ("登錄提醒", "如何开通邮箱登录提醒"),
    ("套餐生效", "套餐变更什么时候生效"),
    ("伴侣", "什么是邮箱伴侣，如何开通"),
    ("积分", "邮箱积分如何获得和查询"),
    ("工单", "什么情况下需要提交工单给二线支持"),
    ("锁", "密码连续输错被锁定怎么办"),  # one character: the short-query fallback
    # English: words, stems and prefixes
    ("forgotten password", "How to reset a forgotten mailbox password"),
    ("unfreeze", "Unfreezing a frozen mailbox"),
    ("arrival setting", "Setting up new-mail arrival notifications"),
    ("blacklist levels", "SMS blacklist levels explained"),
    ("IMAP iPhone", "Configuring IMAP on iPhone and Android"),
    ("bill delivery", "Monthly phone bill delivery to the mailbox"),
    ("POP3 IMAP", "POP3 and IMAP server settings"),
    ("escalating ticket", "Escalating a ticket to second-line support"),
    ("plan fees", "Plan fees and billing"),
    ("How do I change my password?", "How to reset a forgotten mailbox password"),
    # mixed Chinese, Latin and digits
    ("POP3 设置", "如何在 Outlook 中设置 POP3 收取 139 邮箱"),
    ("pop3 密码", "客户端提示 POP3 密码错误怎么办"),
    ("10658139营销短信", "如何停止接收 10658139 的营销短信"),
    ("IMAP 手机", "手机客户端如何设置 IMAP"),
    ("marketing SMS 10658139", "Blocking marketing SMS from 10658139"),
]


@pytest.mark.parametrize(("query", "expected"), TOP_RESULTS)
def test_top_result(world: KnowledgeWorld, query: str, expected: str) -> None:
    titles = world.titles(query)
    assert titles, f"{query!r} found nothing"
    assert titles[0] == expected, titles[:5]


def test_a_word_inside_chinese_text_is_found_in_either_script(world: KnowledgeWorld) -> None:
    for query in ("密碼", "密码"):
        titles = world.titles(query)
        assert "如何修改邮箱密码" in titles
        assert all("密码" in t or "password" in t.lower() for t in titles[:6])


def test_every_term_must_match(world: KnowledgeWorld) -> None:
    both = world.search("郵箱 解凍")
    for hit in both.hits:
        text = hit.faq.title + hit.faq.body + "".join(hit.faq.keywords)
        assert "邮箱" in text and "解冻" in text
    only_unfreeze = world.search("解冻")
    assert both.total <= only_unfreeze.total


def test_a_chinese_phrase_must_occur_as_written(world: KnowledgeWorld) -> None:
    # 邮箱 and 密码 both occur in many FAQs, but "邮箱密码" only where written together.
    for hit in world.search("邮箱密码").hits:
        assert "邮箱密码" in hit.faq.title + hit.faq.body + "".join(hit.faq.keywords)


def test_digits_and_latin_words(world: KnowledgeWorld) -> None:
    number = world.search("10658139")
    assert number.total >= 8
    assert all(
        "10658139" in h.faq.title + h.faq.body + "".join(h.faq.keywords) for h in number.hits
    )
    assert set(world.titles("pop3")) == set(world.titles("POP3"))
    assert "POP3 and IMAP server settings" in world.titles("pop")  # prefix


def test_title_matches_rank_before_body_matches(world: KnowledgeWorld) -> None:
    hits = world.search("黑名单").hits
    in_title = [("黑名单" in h.faq.title) for h in hits]
    assert in_title == sorted(in_title, reverse=True), [h.faq.title for h in hits]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_category_filter(world: KnowledgeWorld) -> None:
    page = world.container.knowledge.search(world.principals["viewer"], "", "套餐 Plans", limit=50)
    assert page.total == 5
    assert {h.faq.category for h in page.hits} == {"套餐 Plans"}


def test_cursor_pagination_visits_every_hit_once(world: KnowledgeWorld) -> None:
    full = world.search("邮箱")
    seen: list[str] = []
    after = None
    while True:
        page = world.search("邮箱", limit=4, after=after)
        assert page.total == full.total
        seen.extend(str(h.faq.id) for h in page.hits)
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == [str(h.faq.id) for h in full.hits]
    assert len(seen) == len(set(seen)) == full.total


def test_a_cursor_of_another_query_is_refused(world: KnowledgeWorld) -> None:
    from domain.shared import ValidationError

    page = world.search("邮箱", limit=2)
    with pytest.raises(ValidationError):
        world.search("密码", limit=2, after=page.end_cursor)


def test_blank_query_lists_everything_and_punctuation_finds_nothing(
    world: KnowledgeWorld,
) -> None:
    assert world.search("   ").total == 52
    assert world.search("？！…").total == 0


def test_nothing_matches_gives_an_empty_page(world: KnowledgeWorld) -> None:
    page = world.search("量子计算机")
    assert (page.hits, page.total, page.end_cursor, page.has_next) == ([], 0, None, False)


def test_highlighted_title_marks_every_matched_term(world: KnowledgeWorld) -> None:
    hit = world.search("POP3 设置").hits[0]
    assert hit.highlighted_title == (
        "如何在 Outlook 中<mark>设置</mark> <mark>POP3</mark> 收取 139 邮箱"
    )
    hit = world.search("郵箱 解凍").hits[0]
    assert hit.highlighted_title == "如何<mark>解冻</mark>被冻结的<mark>邮箱</mark>"


def test_words_typed_without_a_space_fall_back_to_most_bigrams(world: KnowledgeWorld) -> None:
    # 套餐生效 is not written anywhere, but 套餐 ... 生效 is: the loose fallback finds it.
    page = world.search("套餐生效")
    assert page.total >= 1
    assert page.hits[0].highlighted_title == "<mark>套餐</mark>变更什么时候<mark>生效</mark>"
    seen, after = [], None
    while True:
        step = world.search("套餐生效", limit=1, after=after)
        seen += [h.faq.id for h in step.hits]
        if not step.has_next:
            break
        after = step.end_cursor
    assert seen == [h.faq.id for h in page.hits]
