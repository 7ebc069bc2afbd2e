"""Finding a customer by any handle: what a search text given by an agent asks for.

Customers call with their number, their alias or their mailbox address. A text of digits is
the start of a number (at least 3 digits; spaces, hyphens and a +86 are ignored); a text that
could be an alias is the start of one, case-insensitive (an exact alias is its own prefix);
`<msisdn>@139.com` and `<alias>@139.com` are the mailbox addresses and find exactly that
mailbox. Anything else matches no handle, and is refused as bad input rather than answered
with an empty list that would hide the mistake.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from domain.shared import ValidationError
from domain.subscribers.rules import ALIAS_MAX, MSISDN_LENGTH, MSISDN_RE

MAIL_DOMAIN = "139.com"
MIN_TEXT = 3
MAX_TEXT = 64
_DIGITS = re.compile(r"\+?[0-9][0-9 -]*")
_ALIAS_START = re.compile(r"[a-z][a-z0-9._-]*")


@dataclass(frozen=True)
class HandleQuery:
    """What to match: a number or an alias, either its start or (an address) all of it."""

    msisdn: str | None = None
    alias: str | None = None
    exact: bool = False


def _refuse(message: str) -> ValidationError:
    return ValidationError(message, code="INVALID_SEARCH_TEXT", field=["filter", "text"])


def parse_handle(text: str) -> HandleQuery:
    """The handle a search text asks for; INVALID_SEARCH_TEXT when it can match none."""
    # NFKC: full-width digits and letters typed with a Chinese input method become ASCII.
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    if len(folded) > MAX_TEXT or any(unicodedata.category(c)[0] == "C" for c in folded):
        raise _refuse(f"the search text must be at most {MAX_TEXT} printable characters")
    if len(folded) < MIN_TEXT:
        raise _refuse(f"the search text must be at least {MIN_TEXT} characters")
    if "@" in folded:
        return _address(folded)
    if _DIGITS.fullmatch(folded):
        digits = re.sub(r"[ -]", "", folded)
        if digits.startswith("+86"):
            digits = digits[3:]
        elif digits.startswith("+"):
            raise _refuse("only mainland numbers (+86) have a 139 mailbox")
        if len(digits) < MIN_TEXT:
            raise _refuse(f"give at least {MIN_TEXT} digits of the number")
        if len(digits) > MSISDN_LENGTH:
            raise _refuse(f"a mobile number has {MSISDN_LENGTH} digits")
        return HandleQuery(msisdn=digits)
    if _ALIAS_START.fullmatch(folded) and len(folded) <= ALIAS_MAX:
        return HandleQuery(alias=folded)
    raise _refuse(
        "search by the start of a number (at least 3 digits), an alias, or a mailbox"
        f" address (<number>@{MAIL_DOMAIN} or <alias>@{MAIL_DOMAIN})"
    )


def _address(text: str) -> HandleQuery:
    local, _, domain = text.partition("@")
    if domain != MAIL_DOMAIN:
        raise _refuse(f"only {MAIL_DOMAIN} mailbox addresses are SPOA's")
    if MSISDN_RE.fullmatch(local):
        return HandleQuery(msisdn=local, exact=True)
    if _ALIAS_START.fullmatch(local) and len(local) <= ALIAS_MAX:
        return HandleQuery(alias=local, exact=True)
    raise _refuse(f"{text} is no mailbox address: <number>@{MAIL_DOMAIN} or <alias>@{MAIL_DOMAIN}")
