"""What a search text asks for (domain/subscribers/handles.py): the start of a number, an
alias or its start, a mailbox address; anything else is refused, never answered empty."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.shared import ValidationError
from domain.subscribers.handles import HandleQuery, parse_handle


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("138", HandleQuery(msisdn="138")),
        ("13800138000", HandleQuery(msisdn="13800138000")),
        ("138 0013 8000", HandleQuery(msisdn="13800138000")),
        ("+86 138-0013", HandleQuery(msisdn="1380013")),
        ("１３８００", HandleQuery(msisdn="13800")),  # full-width digits from a Chinese IME
        ("ali", HandleQuery(alias="ali")),
        ("Alice.W", HandleQuery(alias="alice.w")),  # aliases are lower case
        ("  alice  ", HandleQuery(alias="alice")),
        ("13800138000@139.com", HandleQuery(msisdn="13800138000", exact=True)),
        ("Alice@139.COM", HandleQuery(alias="alice", exact=True)),
    ],
)
def test_each_handle(text: str, query: HandleQuery) -> None:
    assert parse_handle(text) == query


@pytest.mark.parametrize(
    "text",
    [
        "",
        "13",  # shorter than 3
        "ab",
        "  1  ",
        "+1 212 555",  # no 139 mailbox abroad
        "138001380001",  # longer than a number
        "alice@qq.com",  # another provider's address
        "1380013800@139.com",  # ten digits: no mailbox has this address
        "张三",  # names are not handles
        "al ice",
        "9abc",
        "a" * 21,  # longer than any alias
        "x" * 65,
        "ali\x00ce",
    ],
)
def test_what_matches_no_handle_is_refused(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_handle(text)
    assert raised.value.code == "INVALID_SEARCH_TEXT"
    assert raised.value.field == ["filter", "text"]


@given(st.text(max_size=80))
def test_any_text_is_a_handle_or_refused(text: str) -> None:
    try:
        query = parse_handle(text)
    except ValidationError:
        return
    assert (query.msisdn is None) != (query.alias is None)
    value = query.msisdn or query.alias or ""
    assert value.isascii() and len(value) >= 3
