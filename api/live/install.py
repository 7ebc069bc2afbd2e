"""GraphQL over WebSocket at /graphql: the route, browser origins, the hub's lifecycle."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.websockets import WebSocket

from api.live.hub import LiveHub
from api.live.socket import LiveSocket
from infra.bootstrap import Container


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """A browser page may open a socket from SPOA_WS_ALLOWED_ORIGINS (`*`: any), or from the
    server's own origin (GraphiQL); clients that are not browsers send no Origin. The token is
    never a cookie, so this is defence in depth against pages run by others."""
    if origin is None:
        return True
    if "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and host is not None and parts.netloc == host


def install_live(app: FastAPI, container: Container, schema: Any) -> LiveHub:
    """Serve subscriptions (and any operation) over WebSocket at /graphql; the caller's
    lifespan starts and stops the returned hub. Install before strawberry's router, whose own
    WebSocket route at the same path it shadows."""
    hub = LiveHub(container, schema)
    allowed = container.settings.ws_allowed_origin_list

    async def graphql_socket(websocket: WebSocket) -> None:
        headers = websocket.headers
        if not origin_allowed(headers.get("origin"), headers.get("host"), allowed):
            await websocket.close(code=1008)  # before accepting: the handshake is refused
            return
        await LiveSocket(websocket, hub, schema).serve()

    app.add_api_websocket_route("/graphql", graphql_socket)
    return hub
