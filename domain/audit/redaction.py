"""Secrets never leave in the clear: audit output hides every secret-looking field (webhook
signing secrets are stored only encrypted, and even their ciphertext is hidden)."""

from __future__ import annotations

from typing import Any

REDACTED = "[REDACTED]"
SECRET_KEYS = frozenset({"password_hash", "secret", "token"})


def redact(value: Any) -> Any:
    """Replace every secret-looking field, at any depth, by a marker."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in SECRET_KEYS or k.endswith(("_hash", "_ciphertext")) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
