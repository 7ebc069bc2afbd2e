"""Text: the one rule for every free-text value people and clients send (design decision 9).

A text is trimmed and NFC-normalised; it holds no control character but line breaks and tab
(no other C0 or C1 control, no DEL), no surrogate and no bidirectional override, embedding or
isolate control; and it is bounded in length. CRLF and CR line breaks become LF; a single-line
text holds no line break or tab but at its ends (trimmed like spaces). Other format characters
(ZWJ, which emoji sequences need; LRM and RLM) are kept. A refused character is an error
naming the field (ValidationError), never silently dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from domain.shared import ValidationError

# Category Cc but \t, \n and \r (C0, DEL, C1), category Cs, and the bidi controls U+202A-U+202E
# and U+2066-U+2069, which make text display in another order than it reads. (\r is a line
# break: free text turns it into \n, platform records keep it as sent.)
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
)
# A line also refuses \t, \n, \r and the Unicode line and paragraph separators.
FORBIDDEN_IN_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
# NFC shrinks a text at most this many times (a base and three marks into one character):
# longer input is too long without normalising it.
NFC_MAX_SHRINK = 4


def forbidden_character(text: str, *, line: bool = False) -> str | None:
    """The first character the rule refuses in `text`, if any."""
    found = (FORBIDDEN_IN_LINE if line else FORBIDDEN).search(text)
    return found.group() if found else None


_CONTROL_NAMES = {"\x00": "NUL", "\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}


def describe(char: str) -> str:
    """A refused character as a message can show it: U+XXXX and its name when it has one."""
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}".rstrip()


@dataclass(frozen=True)
class Text:
    """The rule as one field applies it: its name, its limit, and whether it is one line.

    Errors name the field (`path`, default `[name]`) with the field's code: `code` for a
    refused character, `too_long_code` and `empty_code` (default: `code`) for the others.
    """

    name: str
    max_length: int
    line: bool = False
    what: str = ""  # how messages call the field; default: its name
    path: tuple[str, ...] = ()
    code: str = "INVALID_TEXT"
    too_long_code: str = ""
    empty_code: str = ""

    def at(self, *path: str) -> Text:
        """The same rule, reported at another input path (e.g. context.reason)."""
        return replace(self, path=path)

    def clean(self, value: str | None, *, required: bool = False, why: str = "") -> str:
        """The text as stored: normalised, checked; "" when blank and not required."""
        text = "" if value is None else value
        if not isinstance(text, str):
            raise self._error(f"{self._what} must be text", self.code)
        char = forbidden_character(text)
        if char is not None:
            raise self._refused(char, "a control character")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = text.strip()
        if len(text) > self.max_length * NFC_MAX_SHRINK:
            raise self._too_long()
        if self.line and (char := forbidden_character(text, line=True)) is not None:
            raise self._refused(char, "a line break or tab")
        text = unicodedata.normalize("NFC", text).strip()
        if len(text) > self.max_length:
            raise self._too_long()
        if required and not text:
            raise self._error(why or f"{self._what} must not be empty", self.empty_code)
        return text

    def optional(self, value: str | None) -> str | None:
        """The text as stored, or None for no value or a blank one."""
        if value is None:
            return None
        return self.clean(value) or None

    @property
    def _what(self) -> str:
        return self.what or self.name

    def _refused(self, char: str, kind: str) -> ValidationError:
        return self._error(f"{self._what} must not contain {kind} ({describe(char)})", self.code)

    def _too_long(self) -> ValidationError:
        return self._error(
            f"{self._what} must be at most {self.max_length} characters", self.too_long_code
        )

    def _error(self, message: str, code: str) -> ValidationError:
        return ValidationError(
            message, code=code or self.code, field=list(self.path or [self.name])
        )


MAX_REASON = 500
# Why a change was made (ChangeContext.reason and every other reason), as ChangeMeta keeps it.
REASON = Text("reason", MAX_REASON, what="the reason", code="INVALID_REASON")
