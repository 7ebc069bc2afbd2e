"""FAQ documents over HTTP: the authenticated download, and the guard in front of uploads.

Downloads: `GET /documents/{sha256}` with `Authorization: Bearer <token>`, streamed from the
database chunk by chunk, with Content-Type, Content-Disposition (RFC 6266, UTF-8 names per
RFC 5987), a strong ETag (the sha256) and If-None-Match.

Uploads are GraphQL multipart requests (`attachFaqDocument`). SPOA has no cookie auth at all, so
a cross-site form cannot carry credentials; on top of that, multipart requests without a bearer
token are refused before their body is read (a bearer header also forces a CORS preflight), and
bodies larger than the document limit are cut off while they stream in, before anything is
parsed or stored.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.access.service import UnauthenticatedError
from application.authz import Principal
from domain.shared import NotFoundError, PermissionDeniedError
from infra.bootstrap import Container

# RFC 5987 attr-char, besides letters and digits.
_ATTR_CHARS = "!#$&+-.^_`|~"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(
        c if 0x20 <= ord(c) < 0x7F and c not in '"\\%' else "_" for c in filename
    ).strip()
    encoded = quote(filename, safe=_ATTR_CHARS)
    return f"attachment; filename=\"{fallback or 'document'}\"; filename*=UTF-8''{encoded}"


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match requires (RFC 9110 §13.1.2)."""
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _bearer(headers: Any) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers or None,
    )


def documents_router(container: Container) -> APIRouter:
    router = APIRouter()

    @router.api_route("/documents/{sha256}", methods=["GET", "HEAD"])
    async def download(sha256: str, request: Request) -> Response:
        token = _bearer(request.headers)
        if token is None:
            return _error(
                401, "UNAUTHENTICATED", "authentication required", **{"WWW-Authenticate": "Bearer"}
            )
        try:
            principal: Principal = await anyio.to_thread.run_sync(
                container.access.authenticate, token, None
            )
            found = await anyio.to_thread.run_sync(
                container.knowledge.open_document, principal, sha256.lower()
            )
        except UnauthenticatedError as exc:
            return _error(401, "UNAUTHENTICATED", str(exc), **{"WWW-Authenticate": "Bearer"})
        except PermissionDeniedError as exc:
            return _error(403, "FORBIDDEN", exc.message)
        except NotFoundError as exc:
            return _error(404, "NOT_FOUND", exc.message)
        etag = f'"{found.sha256}"'
        headers = {
            "ETag": etag,
            # Revalidate every time, so a revoked account cannot keep reading from a cache.
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
        if etag_matches(request.headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=headers)
        headers["Content-Disposition"] = content_disposition(found.filename)
        headers["Content-Length"] = str(found.size_bytes)
        if request.method == "HEAD":
            return Response(headers=headers, media_type=found.content_type)
        return StreamingResponse(
            container.knowledge.document_chunks(found.sha256),
            media_type=found.content_type,
            headers=headers,
        )

    return router


class UploadTooLargeError(Exception):
    """The multipart body went past the limit while streaming in."""


class MultipartUploadGuard:
    """In front of GraphQL multipart requests: a bearer token first, then a size limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not headers.get("content-type", "").lower().startswith("multipart/"):
            await self.app(scope, receive, send)
            return
        if _bearer(headers) is None:
            await _error(
                401,
                "UNAUTHENTICATED",
                "uploads need an Authorization: Bearer token",
                **{"WWW-Authenticate": "Bearer"},
            )(scope, receive, send)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            await self._too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise UploadTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except UploadTooLargeError:
            if not started:
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"upload too large: the request may be at most {self.limit}"
                        " bytes",
                        "extensions": {"code": "BAD_USER_INPUT"},
                    }
                ]
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install_documents(app: FastAPI, container: Container) -> None:
    """Add the download route and the upload guard to the app (one line in create_app)."""
    settings = container.settings
    # The document plus room for the operations and map fields of the multipart request.
    limit = settings.document_max_bytes + settings.graphql_max_body_bytes
    app.add_middleware(MultipartUploadGuard, limit=limit)
    app.include_router(documents_router(container))
