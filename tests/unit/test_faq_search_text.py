"""Search text rules: folding, terms, query parsing and highlighting (no database)."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.knowledge.search_text import (
    MAX_QUERY_CHARS,
    QueryTerm,
    fold,
    highlight,
    lexemes,
    match_spans,
    parse_query,
    stem,
    tsvector_literal,
)
from domain.shared import ValidationError
from domain.text import forbidden_character


def test_folding_unifies_width_case_and_script() -> None:
    assert fold("ＰＯＰ３") == "pop3"
    assert fold("如何修改郵箱密碼") == "如何修改邮箱密码"
    assert fold("帳戶 账户 帐户") == "账户 账户 账户"
    assert fold(fold("郵箱解凍")) == fold("郵箱解凍")


def test_chinese_runs_become_bigrams_and_a_final_character() -> None:
    assert lexemes("邮箱密码") == ["邮箱", "箱密", "密码", "码"]
    assert lexemes("锁") == ["锁"]
    # every character starts some term, so a one-character prefix query finds it anywhere
    for ch in "邮箱密码":
        assert any(term.startswith(ch) for term in lexemes("邮箱密码"))


def test_latin_words_and_digits_are_terms() -> None:
    assert lexemes("POP3/IMAP 设置 10658139, Passwords!") == [
        "pop3",
        "imap",
        "设置",
        "置",
        "10658139",
        "password",
    ]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("passwords", "password"),
        ("settings", "set"),
        ("setting", "set"),
        ("mailboxes", "mailbox"),
        ("unfreezing", "unfreez"),
        ("unfreeze", "unfreez"),
        ("deliveries", "delivery"),
        ("status", "status"),
        ("addresses", "address"),
        ("pop3", "pop3"),
        ("need", "need"),
    ],
)
def test_light_stemmer(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_query_terms() -> None:
    query = parse_query("郵箱 解凍")
    assert query.terms == (QueryTerm("邮箱", True), QueryTerm("解冻", True))
    assert query.tsquery() == "('邮箱') & ('解冻')"
    assert parse_query("邮箱密码").tsquery() == "('邮箱' & '箱密' & '密码')"
    assert parse_query("密").tsquery() == "('密':*)"
    assert parse_query("POP3 设置").tsquery() == "('pop3':*) & ('设置')"


def test_stop_words_are_dropped_unless_nothing_else_is_left() -> None:
    assert [t.text for t in parse_query("How do I change my password?").terms] == [
        "change",
        "password",
    ]
    assert [t.text for t in parse_query("how to").terms] == ["how", "to"]


def test_blank_and_punctuation_queries() -> None:
    assert parse_query("  ").blank and not parse_query("  ").terms
    assert not parse_query("？！").blank and not parse_query("？！").terms


def test_query_limits() -> None:
    with pytest.raises(ValidationError):
        parse_query("密" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(ValidationError):
        parse_query(" ".join(f"w{i}" for i in range(17)))
    for hostile in ("a\x00b", "\u202egpj", "x\x85", "\ud800"):
        with pytest.raises(ValidationError) as refused:
            parse_query(hostile)
        assert (refused.value.code, refused.value.field) == ("INVALID_TEXT", ["query"])


def test_loosened_query_needs_most_bigrams() -> None:
    query = parse_query("套餐生效")
    assert query.can_loosen
    loose = query.loosened().terms[0]
    assert loose.loose and loose.bigrams == ("套餐", "餐生", "生效") and loose.needed == 2
    assert loose.tsquery() == "'套餐' | '餐生' | '生效'"
    assert not parse_query("套餐 生效").can_loosen


def test_tsvector_literal_escapes_and_weights() -> None:
    assert tsvector_literal(["it's", "a\\b", "it's"], "A") == "'it''s':1A,3A 'a\\\\b':2A"


def test_highlight_escapes_everything_but_the_marks() -> None:
    title = '<script>alert("x")</script> 郵箱密碼 & POP3'
    assert highlight(title, parse_query("密码 pop")) == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; 郵箱<mark>密碼</mark> &amp; "
        "<mark>POP3</mark>"
    )


def test_a_query_cannot_inject_markup() -> None:
    title = "Choosing a mailbox alias"
    out = highlight(title, parse_query('"><img src=x onerror=alert(1)> alias'))
    assert out == "Choosing a mailbox <mark>alias</mark>"


def test_overlapping_and_adjacent_matches_merge() -> None:
    assert highlight("邮箱密码", parse_query("邮箱 箱密 密码")) == "<mark>邮箱密码</mark>"


def test_width_folded_matches_map_back_to_the_original_characters() -> None:
    assert match_spans("ＰＯＰ３设置", parse_query("pop3")) == [(0, 4)]


_MARK = re.compile(r"</?mark>")


@given(st.text(max_size=60), st.text(max_size=20).filter(lambda q: not forbidden_character(q)))
def test_highlight_never_lets_markup_through(title: str, query_text: str) -> None:
    out = highlight(title, parse_query(query_text))
    # Only our own tags are markup; removing them and unescaping gives the title back.
    assert "<" not in _MARK.sub("", out)
    assert html.unescape(_MARK.sub("", out)) == title
    assert out.count("<mark>") == out.count("</mark>")


@given(st.text(alphabet="邮箱密码解冻设置話費賬單abc 123", max_size=30))
def test_every_query_term_of_a_text_matches_that_text(text: str) -> None:
    # A text always finds itself: the index and the query fold and cut alike.
    query = parse_query(text)
    terms = set(lexemes(text))
    for term in query.terms:
        if term.cjk and len(term.text) > 1:
            assert all(b in terms for b in term.bigrams)
        else:
            assert any(t.startswith(term.lexeme) for t in terms)
