"""The one text rule (domain/text.py): what it refuses, what it keeps, and its properties."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.shared import ValidationError
from domain.text import REASON, Text, forbidden_character

BLOCK = Text("body", 50)
LINE = Text("title", 50, line=True)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# What the rule refuses anywhere: category Cc but \t and \n (\r becomes \n), surrogates (the
# ends of both halves of their range), and the bidi controls.
CONTROLS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n\r"]
REFUSED = [*CONTROLS, "\ud800", "\udbff", "\udc00", "\udfff", *BIDI]

# Text as people and clients send it: any code point, with the ones that matter often.
TEXTS = st.lists(
    st.one_of(
        st.characters(codec=None),
        st.sampled_from(["\x00", "\t", "\n", "\r", "\x85", "\x9b", "\ud800", "\u200d", *BIDI]),
        st.sampled_from(["e\u0301", "\u1100\u1161\u11a8", "\u0958", "\u2028", " ", "\u3000"]),
    ),
    max_size=30,
).map("".join)


def refused(rule: Text, value: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        rule.clean(value)
    return caught.value


@pytest.mark.parametrize("char", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_surrogate_and_bidi_override_is_refused_in_any_text(char: str) -> None:
    for rule in (BLOCK, LINE):
        error = refused(rule, f"a{char}b")
        assert (error.code, error.field) == ("INVALID_TEXT", [rule.name])
        assert f"U+{ord(char):04X}" in error.message


@pytest.mark.parametrize("value", ["a\nb", "a\tb", "a\u2028b", "a\u2029b", "a\r\nb", "a\rb"])
def test_a_single_line_text_refuses_line_breaks_and_tabs_inside(value: str) -> None:
    error = refused(LINE, value)
    assert error.code == "INVALID_TEXT" and "line break or tab" in error.message


def test_line_breaks_become_lf_and_the_ends_are_trimmed() -> None:
    assert BLOCK.clean("  one\r\ntwo\rthree\n\tfour \n") == "one\ntwo\nthree\n\tfour"
    assert LINE.clean("\n 标题 \r\n") == "标题"


def test_text_comes_out_nfc_and_keeps_other_format_characters() -> None:
    assert BLOCK.clean("e\u0301") == "\u00e9"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # an emoji ZWJ sequence
    assert LINE.clean(family) == family
    assert BLOCK.clean("\u05e9\u05dc\u05d5\u05dd \u200fabc") == "\u05e9\u05dc\u05d5\u05dd \u200fabc"


def test_length_is_counted_after_normalising_and_is_bounded_before() -> None:
    assert BLOCK.clean("e\u0301" * 50) == "\u00e9" * 50  # 100 code points in, 50 out
    assert refused(BLOCK, "x" * 51).message == "body must be at most 50 characters"
    assert refused(BLOCK, "x" * 1_000_000).code == "INVALID_TEXT"  # too long, not normalised


def test_blank_and_required() -> None:
    assert BLOCK.clean(None) == "" and BLOCK.clean(" \n ") == ""
    assert BLOCK.optional(None) is None and BLOCK.optional("  ") is None
    assert refused_required(BLOCK).message == "body must not be empty"


def refused_required(rule: Text) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        rule.clean("   ", required=True)
    return caught.value


def test_each_field_names_itself_with_its_codes() -> None:
    rule = Text("name", 5, line=True, code="C", too_long_code="L", empty_code="E")
    assert (refused(rule, "a\x00").code, refused(rule, "123456").code) == ("C", "L")
    assert refused_required(rule).code == "E"
    error = refused(REASON.at("context", "reason"), "why\x07")
    assert (error.code, error.field) == ("INVALID_REASON", ["context", "reason"])
    assert error.message.startswith("the reason must not contain a control character")


@given(TEXTS, st.booleans())
@example("\u0958", False)  # NFC makes it longer (a composition exclusion)
@example("\u1100\u1161\u11a8", True)  # NFC makes it one syllable
@example(" \u0301x", True)
def test_any_text_is_refused_or_comes_out_nfc_clean_and_stable(value: str, line: bool) -> None:
    rule = Text("t", 40, line=line)
    try:
        text = rule.clean(value)
    except ValidationError as error:
        assert error.field == ["t"] and error.code == "INVALID_TEXT"
        return
    assert unicodedata.is_normalized("NFC", text)
    assert forbidden_character(text, line=line) is None
    assert "\r" not in text and text == text.strip() and len(text) <= 40
    assert rule.clean(text) == text  # accepted text is a fixed point


@given(TEXTS)
def test_a_text_is_refused_for_its_characters_exactly_when_it_holds_a_refused_one(
    value: str,
) -> None:
    holds = forbidden_character(value.replace("\r", "\n")) is not None
    try:
        Text("t", 1000).clean(value)
    except ValidationError:
        assert holds
    else:
        assert not holds


def test_the_refused_set_is_category_cc_but_tab_and_line_breaks_cs_and_bidi_controls() -> None:
    every = (chr(c) for c in range(0x110000))
    expected = {
        c
        for c in every
        if (unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r") or c in BIDI
    }
    found = {chr(c) for c in range(0x110000) if forbidden_character(chr(c)) is not None}
    assert found == expected
