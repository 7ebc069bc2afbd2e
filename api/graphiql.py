"""GraphiQL at GET /graphql, its assets at /graphiql/, all from the package (api/static/).

Strawberry's own GraphiQL page loads its scripts from a public CDN, which operators' networks
often do not reach (a blank page). This one is static: the IDE's header editor carries the
bearer token to every request and to a subscription's connection_init, so serving it outside
dev mode (`SPOA_GRAPHIQL=1`) shows nothing without a token. The Content-Security-Policy keeps
the page to this server.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).resolve().parent / "static" / "graphiql"
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; font-src 'self' data:; connect-src 'self';"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def install_graphiql(app: FastAPI) -> None:
    """GET /graphql answers the page; call before the GraphQL router is included."""
    page = (ASSETS / "index.html").read_text(encoding="utf-8")

    async def graphiql(request: Request) -> Response:
        if "query" in request.query_params:  # an operation, not the page: POST only
            return JSONResponse(
                {"errors": [{"message": "GraphQL operations are POSTed, never sent by GET"}]},
                status_code=405,
                headers={"Allow": "POST"},
            )
        return HTMLResponse(
            page,
            headers={
                "Content-Security-Policy": POLICY,
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-cache",
            },
        )

    app.add_api_route("/graphql", graphiql, methods=["GET"], include_in_schema=False)
    app.mount("/graphiql", StaticFiles(directory=ASSETS), name="graphiql")
