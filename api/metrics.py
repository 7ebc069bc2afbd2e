"""`GET /metrics` in the Prometheus text format, and the HTTP request instruments.

Unauthenticated, like /healthz and /readyz: it is for the scraper on the operators' network
and carries counts and positions only (no subscriber, ticket or account data).
"""

from __future__ import annotations

import logging
import re
import time
import warnings

import anyio.to_thread
from fastapi import FastAPI, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.bootstrap import Container
from infra.metrics import Metrics

access_log = logging.getLogger("spoa.access")


class RequestMetrics:
    """Counts and times HTTP requests by method, route template and status, and writes one
    structured access-log line per request with its correlation id (from the x-request-id
    response header the correlation middleware sets).

    The route is the matched path template (`/documents/{sha256}`), never the raw path, and
    unmatched paths are one label, so scanners cannot grow the metrics.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, fastapi: FastAPI) -> None:
        self.app = app
        self.metrics = metrics
        self.fastapi = fastapi
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    def templates(self) -> list[tuple[re.Pattern[str], str]]:
        """Every path template the app serves, from its OpenAPI paths and top-level routes.

        Matched here rather than read from scope["route"]: the router sets that on an inner
        copy of the scope, which this outermost layer never sees.
        """
        if self._templates is None:
            try:
                with warnings.catch_warnings():  # e.g. duplicate operation ids of GET + HEAD
                    warnings.simplefilter("ignore")
                    paths = list(self.fastapi.openapi().get("paths", {}))
            except Exception:  # a label source must never break a request
                paths = []
            paths += [p for r in self.fastapi.routes if isinstance(p := getattr(r, "path", 0), str)]
            self._templates = [(compile_path(p)[0], p) for p in dict.fromkeys(paths) if p]
        return self._templates

    def route_of(self, path: str) -> str:
        for regex, template in self.templates():
            if regex.match(path):
                return template
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        cid = ""

        async def record_status(message: Message) -> None:
            nonlocal status, cid
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for key, value in message.get("headers") or []:
                    if key.lower() == b"x-request-id":
                        cid = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            seconds = time.perf_counter() - started
            template = self.route_of(scope.get("path", ""))
            method = scope.get("method", "?")
            self.metrics.observe_http(method, template, status, seconds)
            extra: dict[str, object] = {
                "method": method,
                "route": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            }
            if cid:
                extra["correlation_id"] = cid
            access_log.info("%s %s %s", method, template, status, extra=extra)


def install_metrics(app: FastAPI, container: Container) -> None:
    """Add /metrics and the request instruments to the app (one line in create_app)."""
    metrics = container.metrics
    app.add_middleware(RequestMetrics, metrics=metrics, fastapi=app)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        body = await anyio.to_thread.run_sync(metrics.render)
        return Response(body, media_type=metrics.content_type)
