"""Session tokens (signed JWTs), SSO ticket verification and the used-ticket registry."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import psycopg

from application.ports import SsoTicket, TokenClaims

SESSION_ISSUER = "spoa"
SESSION_TYPE = "spoa-session"
VERIFIED_TOKENS = 10_000


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class JwtTokenService:
    """HS256 bearer tokens that name an account, its security stamp and the session."""

    def __init__(self, secret: str, ttl: timedelta, clock: SystemClock | None = None) -> None:
        self._secret = secret
        self._ttl = ttl
        self._clock = clock or SystemClock()
        # Tokens that passed verification, so a session's every request does not verify the
        # signature again (a tenth of a small mutation's CPU); expiry is checked every time.
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()
        self._verified_lock = threading.Lock()

    def issue(self, account_id: uuid.UUID, security_stamp: int) -> tuple[str, datetime]:
        now = self._clock.now()
        expires_at = now + self._ttl
        claims = {
            "iss": SESSION_ISSUER,
            "typ": SESSION_TYPE,
            "sub": str(account_id),
            "stm": security_stamp,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": uuid.uuid4().hex,
            "sid": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256"), expires_at.replace(
            microsecond=0
        )

    def decode(self, token: str) -> TokenClaims | None:
        with self._verified_lock:
            verified = self._verified.get(token)
        if verified is not None and verified.expires_at.timestamp() > time.time():
            return verified  # as jwt.decode would say: same bytes, same key, not yet expired
        claims = self._verify(token)
        if claims is not None:
            with self._verified_lock:
                self._verified[token] = claims
                if len(self._verified) > VERIFIED_TOKENS:
                    self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str) -> TokenClaims | None:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=SESSION_ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
            if claims.get("typ") != SESSION_TYPE:
                return None
            return TokenClaims(
                account_id=uuid.UUID(claims["sub"]),
                security_stamp=int(claims.get("stm", 0)),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                # Tokens issued before sessions had ids end by their jti.
                session_id=str(claims.get("sid") or claims.get("jti") or "") or None,
            )
        except (jwt.PyJWTError, ValueError, KeyError):
            return None


class JwtSsoVerifier:
    """Checks a SPOA-portal ticket: signature, iss, aud, a short exp, a jti and a username."""

    def __init__(
        self,
        key: str,
        algorithm: str,
        issuer: str,
        audience: str,
        max_lifetime_seconds: int = 60,
        clock: SystemClock | None = None,
    ) -> None:
        self._key = key
        self._algorithm = algorithm
        self._issuer = issuer
        self._audience = audience
        self._max_lifetime = max_lifetime_seconds
        self._clock = clock or SystemClock()

    def verify(self, ticket: str) -> SsoTicket:
        try:
            claims: dict[str, Any] = jwt.decode(
                ticket,
                self._key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iss", "aud", "jti", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise ValueError(str(exc)) from None
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        # A portal ticket is a one-shot hand-over, not a session: refuse long-lived ones.
        if expires_at - self._clock.now() > timedelta(seconds=self._max_lifetime + 5):
            raise ValueError(f"exp is more than {self._max_lifetime}s ahead")
        username = str(claims.get("username") or claims["sub"])
        return SsoTicket(username=username, jti=str(claims["jti"]), expires_at=expires_at)


class PgJtiRegistry:
    """Used SSO ticket ids, kept until they expire (a replay inside that window is refused)."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def claim(self, jti: str, expires_at: datetime) -> bool:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute("DELETE FROM sso_used_jti WHERE expires_at < now() - interval '1 day'")
            row = conn.execute(
                "INSERT INTO sso_used_jti (jti, expires_at) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING RETURNING jti",
                (jti, expires_at),
            ).fetchone()
        return row is not None
