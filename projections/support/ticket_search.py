"""Search tokens that work for Chinese (no spaces between words) and for Latin text alike.

Every run of letters and digits (NFKC-normalised, case-folded) yields its characters and its
character bigrams. A query word matches when the document holds all of the word's bigrams
(or its one character), which a GIN index on the token array answers quickly, and then the
word itself appears in the normalised text (an exact substring check on the few candidates).
The embedded PostgreSQL wheel ships without pg_trgm, so this works on any PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata

_RUN = re.compile(r"\w+")


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def document_tokens(text: str) -> list[str]:
    """Unigrams and bigrams of every word run, sorted and unique."""
    tokens: set[str] = set()
    for run in _RUN.findall(normalize(text)):
        tokens.update(run)
        tokens.update(run[i : i + 2] for i in range(len(run) - 1))
    return sorted(tokens)


def query_words(text: str) -> list[str]:
    """The words a query asks for, each of which must appear."""
    return list(dict.fromkeys(_RUN.findall(normalize(text))))


def word_tokens(word: str) -> list[str]:
    """The tokens a document must hold to possibly contain `word`."""
    if len(word) == 1:
        return [word]
    return sorted({word[i : i + 2] for i in range(len(word) - 1)})
