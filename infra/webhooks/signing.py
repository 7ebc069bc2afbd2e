"""Standard Webhooks signatures, made by the maintained `standardwebhooks` package."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook


class StandardWebhookSigner:
    def __init__(self) -> None:
        self._signers: dict[str, Webhook] = {}

    def _signer(self, secret: str) -> Webhook:
        signer = self._signers.get(secret)
        if signer is None:
            if len(self._signers) > 1000:
                self._signers.clear()
            signer = self._signers[secret] = Webhook(secret)
        return signer

    def sign(self, secrets: Sequence[str], msg_id: str, timestamp: datetime, body: bytes) -> str:
        """One `v1,<base64>` per secret, space-separated (the specification allows several, so
        receivers holding either secret verify during a rotation)."""
        return " ".join(self._signer(s).sign(msg_id, timestamp, body) for s in secrets)
