"""Session tokens: a verified token is remembered, but only until it expires, and nothing that
failed verification is ever remembered."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from infra import tokens
from infra.tokens import JwtTokenService

SECRET = "unit-test-secret-0123456789abcdef"


def test_a_verified_token_is_reused_until_it_expires() -> None:
    service = JwtTokenService(SECRET, timedelta(seconds=2))  # valid for at least 1 s
    account = uuid.uuid4()
    token, _ = service.issue(account, 3)
    first = service.decode(token)
    assert first is not None and first.account_id == account and first.security_stamp == 3
    assert service.decode(token) is first  # not verified again
    time.sleep(max(0.0, first.expires_at.timestamp() - time.time()) + 0.05)
    assert service.decode(token) is None  # expired: refused although remembered


def test_tokens_that_fail_are_never_remembered() -> None:
    service = JwtTokenService(SECRET, timedelta(hours=1))
    forged, _ = JwtTokenService("another-secret-0123456789abcdefgh", timedelta(hours=1)).issue(
        uuid.uuid4(), 0
    )
    expired, _ = JwtTokenService(SECRET, timedelta(seconds=-5)).issue(uuid.uuid4(), 0)
    for token in (forged, expired, "garbage", forged + "x"):
        assert service.decode(token) is None
        assert service.decode(token) is None
    assert not service._verified


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_TOKENS", 3)
    service = JwtTokenService(SECRET, timedelta(hours=1))
    issued = [service.issue(uuid.uuid4(), 0)[0] for _ in range(5)]
    for token in issued:
        assert service.decode(token) is not None
    assert list(service._verified) == issued[-3:]
    assert service.decode(issued[0]) is not None  # verified afresh
