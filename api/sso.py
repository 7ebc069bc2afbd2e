"""Single sign-on from the SPOA portal: a portal-signed ticket in, a session token out."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from api import json_body
from application.access.service import InvalidCredentialsError
from application.ports import RateLimitedError
from infra.logging import correlation_id

router = APIRouter()


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@router.post("/sso/spoa")
async def sso_spoa(request: Request, ticket: str | None = Form(default=None)) -> JSONResponse:
    """Accepts `ticket` as a form field or as JSON {"ticket": "..."}."""
    container = request.app.state.container
    if ticket is None and request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json_body.loads(await request.body(), container.settings.json_max_depth)
        except json_body.BadJSONError as exc:
            return _refused(400, "BAD_USER_INPUT", exc.reason)
        if isinstance(body, dict) and isinstance(body.get("ticket"), str):
            ticket = body["ticket"]
    if not ticket:
        return _refused(400, "BAD_USER_INPUT", "ticket is required")
    address = request.app.state.client_addresses.of(request.scope)
    try:
        session = await anyio.to_thread.run_sync(
            container.access.sso_login, ticket, correlation_id.get(), address
        )
    except InvalidCredentialsError as exc:
        return _refused(401, "SSO_REFUSED", exc.message)
    except RateLimitedError as exc:
        limited = _refused(429, "RATE_LIMITED", exc.message)
        limited.headers["Retry-After"] = str(exc.retry_after)
        return limited
    return JSONResponse(
        {
            "token": session.token,
            "expiresAt": session.expires_at.isoformat(),
            "account": {
                "id": str(session.account.id),
                "username": session.account.username,
                "role": session.account.role.value,
                "province": session.account.province,
            },
        }
    )
