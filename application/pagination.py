"""Opaque, tamper-evident cursors and page-size rules shared by every connection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from domain.shared import ValidationError

DEFAULT_PAGE = 50


class InvalidCursorError(ValidationError):
    code = "INVALID_CURSOR"


class CursorCodec:
    """Cursors are base64url(JSON) plus a truncated HMAC, and name the list they belong to,
    so a tampered cursor or one taken from another list is refused rather than misread."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, body: bytes) -> str:
        digest = hmac.new(self._key, body, hashlib.sha256).digest()[:9]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def encode(self, kind: str, value: Any) -> str:
        body = json.dumps([kind, value], separators=(",", ":"), ensure_ascii=False).encode()
        payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{payload}.{self._mac(body)}"

    def decode(self, kind: str, cursor: str) -> Any:
        try:
            payload, mac = cursor.split(".", 1)
            body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            if not hmac.compare_digest(mac, self._mac(body)):
                raise ValueError("signature")
            found_kind, value = json.loads(body)
        except (ValueError, TypeError):
            raise InvalidCursorError("invalid cursor", field=["after"]) from None
        if found_kind != kind:
            raise InvalidCursorError("this cursor belongs to another list", field=["after"])
        return value


def page_size(first: int | None, cap: int) -> int:
    if first is None:
        return min(DEFAULT_PAGE, cap)
    if first < 0:
        raise ValidationError("first must not be negative", field=["first"])
    return min(first, cap)
