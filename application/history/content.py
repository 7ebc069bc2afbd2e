"""The digest of a batch's content: what tells a resent batch from a reused batch id."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from domain.history.records import RecordKind


def content_digest(kind: RecordKind, rows: Sequence[Sequence[Any]]) -> str:
    """Of the kind and the validated rows, in order (the form a batch stores them in, so a
    stored batch's own rows give its digest back: validation makes equal records equal
    rows, however they were written)."""
    digest = hashlib.blake2b(kind.value.encode(), digest_size=16)
    digest.update(b"\n")
    digest.update(orjson.dumps(rows))
    return digest.hexdigest()
