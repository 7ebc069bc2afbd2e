"""Signing secrets encrypted at rest: AES-256-GCM under a key derived (HKDF-SHA256) from
SPOA_SECRET_KEY, so only a process holding that key can sign, and a copy of the database,
an export or a backup of the log reveals nothing."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"
_INFO = b"spoa webhook signing secrets v1"
_AAD = b"spoa-webhook-secret"


class AesGcmSecretCipher:
    def __init__(self, secret_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret_key.encode()
        )
        self._aead = AESGCM(key)

    def encrypt(self, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), _AAD)
        return f"{_VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, ciphertext: str) -> str:
        version, _, data = ciphertext.partition(":")
        if version != _VERSION:
            raise ValueError(f"unknown secret ciphertext version {version!r}")
        try:
            raw = base64.urlsafe_b64decode(data.encode("ascii"))
            return self._aead.decrypt(raw[:12], raw[12:], _AAD).decode()
        except (InvalidTag, ValueError) as exc:
            raise ValueError("the secret was encrypted under another key") from exc
