"""The FastAPI application: GraphQL, SSO, health, with correlation ids and masked errors."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from graphql import ExecutionResult
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse

from api import blocking, json_body
from api.anonymous_limit import AnonymousRateLimit
from api.blocking import run_blocking
from api.client_address import ClientAddresses
from api.documents import install_documents
from api.exports import install_exports
from api.graphiql import install_graphiql
from api.graphql.base import Context
from api.graphql.schema import build_schema, response_payload
from api.graphql_http import GraphQLFastPath
from api.ingest import router as ingest_router
from api.live.install import install_live
from api.metrics import install_metrics
from api.sso import router as sso_router
from application.access.service import UnauthenticatedError
from infra.bootstrap import Container
from infra.logging import correlation_id

log = logging.getLogger("spoa.api")
_CID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _too_large() -> JSONResponse:
    return JSONResponse(
        {
            "errors": [
                {"message": "request body too large", "extensions": {"code": "BAD_USER_INPUT"}}
            ]
        },
        status_code=413,
    )


class GraphQLBodyLimit:
    """Refuses /graphql bodies over the limit as they arrive, also when sent chunked (no
    content-length), so an oversize document is never buffered whole or parsed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if (
            scope["type"] != "http"
            or scope["path"] != "/graphql"
            or headers.get(b"content-type", b"").startswith(b"multipart/")
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class Correlate:
    """Sets the request's correlation id (the client's X-Request-ID when well formed, else a new
    one) for logs and error payloads, returns it as X-Request-ID, and refuses a /graphql body
    whose declared length is over the limit before anything reads it.

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware (`@app.middleware("http")`) runs
    the app in a separate task behind memory streams, a cost on every request.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming, length, content_type = "", b"", b""
        for name, value in scope["headers"]:
            if name == b"x-request-id" and not incoming:
                incoming = value.decode("latin-1")
            elif name == b"content-length" and not length:
                length = value
            elif name == b"content-type" and not content_type:
                content_type = value
        cid = incoming if _CID_RE.fullmatch(incoming) else uuid.uuid4().hex
        request_id = (b"x-request-id", cid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != request_id[0]]
                message["headers"] = [*headers, request_id]
            await send(message)

        token = correlation_id.set(cid)
        try:
            if (
                scope["path"] == "/graphql"
                and length.isdigit()
                and int(length) > self.limit
                and not content_type.startswith(b"multipart/")
            ):
                await _too_large()(scope, receive, send_with_id)
                return
            await self.app(scope, receive, send_with_id)
        finally:
            correlation_id.reset(token)


class SpoaGraphQLRouter(GraphQLRouter[Context, None]):
    json_max_depth = 64

    def decode_json(self, data: str | bytes) -> object:
        # Strict UTF-8 and bounded nesting; a BadJSONError is strawberry's 400.
        value = json_body.loads(data, self.json_max_depth)
        if not isinstance(value, dict | list):  # strawberry would call .get() on it
            raise json_body.BadJSONError("the body must be a JSON object")
        return value

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        return cast(GraphQLHTTPResponse, response_payload(result, correlation_id.get()))


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def create_app(
    container: Container,
    *,
    run_projections: bool | None = None,
    run_webhooks: bool | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the app. `on_shutdown` runs at the end of the lifespan (uvicorn re-raises the
    stopping signal after shutdown, so code after `uvicorn.run` may never run)."""
    settings = container.settings
    in_process = settings.projections_in_process if run_projections is None else run_projections
    blocking.configure(settings.worker_threads)
    webhooks = settings.webhooks_in_process if run_webhooks is None else run_webhooks

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not await anyio.to_thread.run_sync(container.least_privilege):
            log.warning(
                "the database role the service runs as can rewrite history (it owns the events"
                " tables or is a superuser): set SPOA_DATABASE_OWNER_URL to the schema owner"
                " and SPOA_DATABASE_URL to a role without those rights (README: Running"
                " against an external PostgreSQL)"
            )
        if in_process:
            container.start_projections()  # (refused, before anything runs, on a bad key)
        if webhooks:
            container.start_webhooks()  # the dispatcher; the projection above creates deliveries
        await container.waiter.start()  # consistentWith follows the projections from here
        await live.start()  # and so do the subscriptions
        yield
        await live.stop()
        container.stop_webhooks()
        if container.runner is not None:
            container.runner.stop()
            container.runner = None
        await container.waiter.stop()
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(title="SPOA", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.container = container
    # Bulk batches being validated at once (api/ingest.py): each holds its rows in memory.
    app.state.ingest_slots = anyio.Semaphore(container.settings.ingest_max_concurrent)
    # Added before `Correlate`, so it runs inside it and its 413 carries the request id.
    app.add_middleware(GraphQLBodyLimit, limit=settings.graphql_max_body_bytes)
    install_documents(app, container)  # GET /documents/{sha256}; multipart upload guard

    app.add_middleware(Correlate, limit=settings.graphql_max_body_bytes)

    addresses = ClientAddresses(settings.trusted_proxy_list)
    app.state.client_addresses = addresses
    # Outermost: a flood without a session is turned away before any body is read.
    app.add_middleware(
        AnonymousRateLimit,
        addresses=addresses,
        rate=settings.anonymous_requests_per_second,
        burst=settings.anonymous_request_burst,
    )

    async def get_context(request: Request) -> Context:
        return await context_for(bearer_token(request), request.scope)

    async def context_for(token: str | None, scope: Scope) -> Context:
        principal, auth_error = None, None
        cid = correlation_id.get()
        if token is not None:
            try:
                principal = await run_blocking(container.access.authenticate, token, cid)
            except UnauthenticatedError as exc:
                auth_error = str(exc)
        return Context(container, cid, principal, auth_error, addresses.of(scope))

    schema = build_schema(
        settings.graphql_max_depth,
        settings.graphql_max_aliases,
        settings.graphql_max_tokens,
        anonymous_introspection=settings.dev_mode,
        max_cost=settings.query_max_cost,
        page_max=settings.page_max,
    )
    # WebSockets at /graphql (subscriptions): ours, ahead of the router's.
    live = app.state.live = install_live(app, container, schema)
    if settings.dev_mode or settings.graphiql:
        install_graphiql(app)  # GET /graphql, ahead of the router
    graphql = SpoaGraphQLRouter(
        schema,
        context_getter=get_context,
        graphql_ide=None,  # GraphiQL is ours (api/graphiql.py): its assets are served locally
        allow_queries_via_get=False,
        multipart_uploads_enabled=True,
        subscription_protocols=(),
    )
    graphql.json_max_depth = settings.json_max_depth
    app.include_router(graphql, prefix="/graphql")
    # Innermost middleware (appended, not added: after the body limit and Correlate): serves
    # the plain JSON POST with the same schema, context and result processing as the route.
    app.user_middleware.append(
        Middleware(
            GraphQLFastPath,
            path="/graphql",
            schema=schema,
            context=context_for,
            process_result=graphql.process_result,
            encode_json=graphql.encode_json,
            decode_json=graphql.decode_json,
        )
    )
    app.include_router(sso_router)
    app.include_router(ingest_router)
    install_exports(app, container)  # GET /exports/statistics/*.csv
    install_metrics(app, container)  # GET /metrics; HTTP request instruments

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        db = await anyio.to_thread.run_sync(container.database_ready)
        runner = container.runner
        projections_ok = (not in_process) or (runner is not None and runner.healthy)
        # Failing for too long, in whichever process leads them (the record is in the database).
        failing = await anyio.to_thread.run_sync(container.failing_projections) if db else []
        projections_ok = projections_ok and not failing
        ready = db and projections_ok
        # Reported, not required: a single-role database is a choice (README).
        least = await anyio.to_thread.run_sync(container.least_privilege) if db else False
        body: dict[str, Any] = {
            "database": db,
            "projections": projections_ok,
            "leastPrivilege": least,
            "status": "ok" if ready else "fail",
        }
        if failing:
            body["failing"] = failing
        return JSONResponse(body, status_code=200 if ready else 503)

    return app
