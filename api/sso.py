"""Single sign-on from the SPOA portal: a portal-signed ticket in, a session token out."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from application.access.service import InvalidCredentialsError
from infra.logging import correlation_id

router = APIRouter()


@router.post("/sso/spoa")
async def sso_spoa(request: Request, ticket: str | None = Form(default=None)) -> JSONResponse:
    """Accepts `ticket` as a form field or as JSON {"ticket": "..."}."""
    if ticket is None and request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("ticket"), str):
            ticket = body["ticket"]
    if not ticket:
        return JSONResponse(
            {"error": {"code": "BAD_USER_INPUT", "message": "ticket is required"}},
            status_code=400,
        )
    container = request.app.state.container
    try:
        session = await anyio.to_thread.run_sync(
            container.access.sso_login, ticket, correlation_id.get()
        )
    except InvalidCredentialsError as exc:
        return JSONResponse(
            {"error": {"code": "SSO_REFUSED", "message": exc.message}}, status_code=401
        )
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
