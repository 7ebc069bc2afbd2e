"""Clean-up rules for the short texts people type into FAQs and contacts."""

from __future__ import annotations

import unicodedata

from domain.shared import ValidationError

# Characters that change how text is displayed without being visible: bidi overrides and
# isolates (a file or title could pretend to end in another extension), zero-width marks.
INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)


def has_control(text: str, allow: str = "") -> bool:
    """True when the text holds a control character (category Cc) not in `allow`."""
    return any(unicodedata.category(c) == "Cc" and c not in allow for c in text)


def clean_line(value: str, field: str, what: str, max_length: int, *, required: bool) -> str:
    """One line of text: NFC, trimmed, no control or invisible characters, bounded."""
    text = unicodedata.normalize("NFC", value).strip()
    if has_control(text) or any(c in INVISIBLE for c in text):
        raise ValidationError(f"{what} must not contain control characters", field=[field])
    if required and not text:
        raise ValidationError(f"{what} must not be empty", field=[field])
    if len(text) > max_length:
        raise ValidationError(f"{what} must be at most {max_length} characters", field=[field])
    return text


def clean_optional(value: str | None, field: str, what: str, max_length: int) -> str | None:
    if value is None:
        return None
    text = clean_line(value, field, what, max_length, required=False)
    return text or None


def clean_block(value: str, field: str, what: str, max_length: int, *, required: bool) -> str:
    """Multi-line text: NFC, line breaks unified to \\n, tabs allowed, trimmed, bounded."""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n").strip()
    if has_control(text, allow="\n\t") or any(c in INVISIBLE for c in text):
        raise ValidationError(f"{what} must not contain control characters", field=[field])
    if required and not text:
        raise ValidationError(f"{what} must not be empty", field=[field])
    if len(text) > max_length:
        raise ValidationError(f"{what} must be at most {max_length} characters", field=[field])
    return text
