"""How FAQ text becomes search terms, how a query is read, and how a title is highlighted.

Chinese is written without spaces, so word-based full-text search finds nothing for
multi-character queries (the failure of Zammad, osTicket and Request Tracker). Here text is
folded (NFKC, case, traditional → simplified) and cut into terms:

- a run of CJK characters gives its overlapping bigrams plus its last character alone, so every
  substring of two or more characters is an AND of bigrams, and every single character is the
  start of some term (a one-character query is a prefix match: the short-query fallback);
- a run of letters and digits is one word, lightly stemmed (plurals, -ing, -ed), so `POP3`,
  `10658139` and `passwords` are terms; query words match as prefixes (`pop` finds `POP3`).

The same functions fold the index and the query, so they always agree; the database only sees
lexemes. CJK query terms are also checked as exact substrings of the folded text, so a bigram
match that is not really the phrase does not count.
"""

from __future__ import annotations

import html
import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from domain.knowledge.hanzi_fold import FOLD_TABLE
from domain.shared import ValidationError
from domain.text import Text

MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 16
QUERY = Text("query", MAX_QUERY_CHARS, what="the query", too_long_code="INVALID_INPUT")
MAX_WORD = 64  # longer words are cut (index and query alike)
MAX_POSITION = 16383  # PostgreSQL's largest tsvector position
MAX_POSITIONS_PER_LEXEME = 255

_CJK_RANGES = (
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # kana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B-G
)

STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "should",
        "so",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    }
)


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


@lru_cache(maxsize=16384)
def _fold_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).casefold().translate(FOLD_TABLE)


def fold_with_origins(text: str) -> tuple[str, list[int]]:
    """The folded text, and for each folded character the index of the one it came from."""
    chars: list[str] = []
    origins: list[int] = []
    for index, ch in enumerate(text):
        for folded in _fold_char(ch):
            chars.append(folded)
            origins.append(index)
    return "".join(chars), origins


def fold(text: str) -> str:
    return "".join(_fold_char(ch) for ch in text)


@dataclass(frozen=True)
class Token:
    """A run of CJK characters, or a word of letters and digits, in folded text."""

    text: str
    cjk: bool
    start: int
    end: int


def _kind(ch: str) -> str | None:
    if is_cjk(ch):
        return "c"
    if ch.isalnum() or unicodedata.category(ch).startswith("M"):
        return "w"
    return None


def tokens(folded: str) -> list[Token]:
    found: list[Token] = []
    start, kind = 0, None
    for index, ch in enumerate([*folded, " "]):
        current = _kind(ch) if index < len(folded) else None
        if current != kind:
            if kind is not None:
                text = folded[start:index]
                if kind == "w":
                    text = text[:MAX_WORD]
                found.append(Token(text, kind == "c", start, index))
            start, kind = index, current
    return found


def stem(word: str) -> str:
    """A light English stemmer: plurals, -ing and -ed, a final e. Words with digits stay."""
    if len(word) <= 3 or not (word.isascii() and word.isalpha()):
        return word
    w = word
    if w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix):
            base = w[: -len(suffix)]
            if (
                len(base) >= 3
                and any(v in base for v in "aeiouy")
                and not (suffix == "ed" and base.endswith("e"))
            ):
                w = base
                if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "lsz":
                    w = w[:-1]
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def cjk_terms(run: str) -> list[str]:
    """The index terms of one CJK run: its bigrams, then its last character alone."""
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def lexemes(text: str) -> list[str]:
    """Index terms of a text, in order (positions matter for ranking only)."""
    found: list[str] = []
    for token in tokens(fold(text)):
        if token.cjk:
            found.extend(cjk_terms(token.text))
        else:
            found.append(stem(token.text))
    return found


def quote_lexeme(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(terms: list[str], weight: str) -> str:
    """A PostgreSQL tsvector literal of the terms with positions and one weight (A-D)."""
    positions: dict[str, list[int]] = {}
    for index, term in enumerate(terms, start=1):
        held = positions.setdefault(term, [])
        if len(held) < MAX_POSITIONS_PER_LEXEME:
            held.append(min(index, MAX_POSITION))
    return " ".join(
        f"{quote_lexeme(term)}:{','.join(f'{p}{weight}' for p in sorted(set(held)))}"
        for term, held in positions.items()
    )


# ---------------------------------------------------------------------- queries
LOOSE_SHARE = 2 / 3  # a loose CJK term needs this share of its bigrams


@dataclass(frozen=True)
class QueryTerm:
    """One thing a hit must contain: a CJK string (exactly) or a word (as a prefix).

    A loose CJK term (the fallback for runs like 套餐生效, two words typed without a space)
    only needs most of its bigrams, anywhere.
    """

    text: str
    cjk: bool
    loose: bool = False

    @property
    def lexeme(self) -> str:
        return self.text if self.cjk else stem(self.text)

    @property
    def bigrams(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.text[i : i + 2] for i in range(len(self.text) - 1)))

    @property
    def needed(self) -> int:
        """How many bigrams a loose term needs."""
        return max(1, math.ceil(len(self.bigrams) * LOOSE_SHARE))

    def tsquery(self) -> str:
        if not self.cjk or len(self.text) == 1:
            return f"{quote_lexeme(self.lexeme)}:*"
        joiner = " | " if self.loose else " & "
        return joiner.join(quote_lexeme(b) for b in self.bigrams)


@dataclass(frozen=True)
class SearchQuery:
    """A parsed search: every term must match (AND). No terms means "list everything"."""

    terms: tuple[QueryTerm, ...]
    blank: bool

    def tsquery(self) -> str:
        return " & ".join(f"({term.tsquery()})" for term in self.terms)

    @property
    def fingerprint(self) -> str:
        return "|".join(("c:" if t.cjk else "w:") + t.text for t in self.terms)

    @property
    def can_loosen(self) -> bool:
        return any(t.cjk and len(t.text) >= 3 and not t.loose for t in self.terms)

    def loosened(self) -> SearchQuery:
        """The fallback when nothing contains the query as typed: long CJK runs turn loose."""
        terms = tuple(
            QueryTerm(t.text, t.cjk, loose=t.cjk and len(t.text) >= 3) for t in self.terms
        )
        return SearchQuery(terms, self.blank)


def parse_query(text: str) -> SearchQuery:
    """Read what a person typed. Stop words are dropped unless nothing else is left."""
    text = QUERY.clean(text)
    found = tokens(fold(text))
    terms = [QueryTerm(t.text, t.cjk) for t in found]
    meaningful = [t for t in terms if t.cjk or t.text not in STOP_WORDS]
    chosen = list(dict.fromkeys(meaningful or terms))
    if len(chosen) > MAX_QUERY_TERMS:
        raise ValidationError(
            f"the query must have at most {MAX_QUERY_TERMS} terms", field=["query"]
        )
    return SearchQuery(tuple(chosen), blank=not text)


# ---------------------------------------------------------------------- highlighting
def match_spans(title: str, query: SearchQuery) -> list[tuple[int, int]]:
    """Where the query's terms occur in the title, as merged [start, end) character ranges."""
    folded, origins = fold_with_origins(title)
    spans: list[tuple[int, int]] = []
    words = [t for t in tokens(folded) if not t.cjk]
    for term in query.terms:
        if term.cjk:
            for part in term.bigrams if term.loose else (term.text,):
                index = folded.find(part)
                while index != -1:
                    spans.append((index, index + len(part)))
                    index = folded.find(part, index + 1)
        else:
            prefix = term.lexeme
            spans.extend((w.start, w.end) for w in words if stem(w.text).startswith(prefix))
    original = sorted((origins[start], origins[end - 1] + 1) for start, end in spans)
    merged: list[tuple[int, int]] = []
    for start, end in original:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight(title: str, query: SearchQuery) -> str:
    """The title, HTML-escaped, with every match wrapped in <mark>...</mark>."""
    parts: list[str] = []
    cursor = 0
    for start, end in match_spans(title, query):
        parts.append(html.escape(title[cursor:start]))
        parts.append(f"<mark>{html.escape(title[start:end])}</mark>")
        cursor = end
    parts.append(html.escape(title[cursor:]))
    return "".join(parts)
