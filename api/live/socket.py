"""One GraphQL WebSocket, speaking graphql-transport-ws (the protocol of the `graphql-ws`
library, which GraphiQL and most clients use).

The browser cannot set headers on a WebSocket, so the bearer token comes in the
`connection_init` payload, `{"Authorization": "Bearer <token>"}`. Every operation sent over the
socket runs through the same schema, context and limits as over HTTP (cost, aliases, depth,
tokens, body size and JSON nesting, the expensive-work gate, the login throttle). Messages to
the client wait in a bounded queue: a client that does not read them is disconnected, never
buffered without bound.

Close codes: 4400 a malformed message; 4401 an operation before the acknowledgement; 4403 no
valid token, or the session ended (disabled, logged out, revoked, role changed, expired); 4406
without the graphql-transport-ws subprotocol; 4408 no connection_init in time; 4409 an
operation id in use; 4429 a second connection_init, or more sockets than
SPOA_WS_MAX_PER_ACCOUNT; 1013 a slow consumer (more than SPOA_WS_QUEUE_MESSAGES waiting).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Hashable
from contextlib import aclosing, suppress
from datetime import UTC, datetime
from typing import Any

from starlette.websockets import WebSocket
from strawberry.types.execution import ExecutionResult

from api import json_body
from api.blocking import run_blocking
from api.graphql.base import Context
from api.graphql.schema import response_payload
from api.graphql_http import bearer_token_of
from api.live.hub import Document, LiveHub
from application.access.live import recheck
from application.access.service import UnauthenticatedError
from application.authz import Principal
from infra.logging import correlation_id

log = logging.getLogger("spoa.live")

PROTOCOL = "graphql-transport-ws"
INIT_SECONDS = 10.0  # for connection_init, as graphql-ws servers allow by default
CLOSE_SECONDS = 2.0
MAX_ID_CHARS = 128


class LiveContext(Context):
    """An operation's context on a socket: the socket's caller, and the operation to follow
    channels with (`api.graphql.support.live`)."""

    live: LiveOperation


class LiveSocket:
    def __init__(self, websocket: WebSocket, hub: LiveHub, schema: Any) -> None:
        settings = hub.container.settings
        self.websocket = websocket
        self.hub = hub
        self.schema = schema
        self.max_bytes = settings.graphql_max_body_bytes
        self.json_depth = settings.json_max_depth
        self.max_operations = settings.ws_max_operations
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=settings.ws_queue_messages)
        self.principal: Principal | None = None
        self.token = ""
        self.operations: dict[str, LiveOperation] = {}
        self.address = websocket.app.state.client_addresses.of(websocket.scope)
        self._initialised = False
        self._admitted = False
        self._close: tuple[int, str] | None = None
        self._gone = False
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: list[asyncio.TimerHandle] = []

    @property
    def acknowledged(self) -> bool:
        return self._admitted and self._close is None

    # ------------------------------------------------------------------ lifecycle
    async def serve(self) -> None:
        if PROTOCOL not in self.websocket.scope.get("subprotocols", ()):
            await self.websocket.accept()
            await self.websocket.close(4406, "Subprotocol not acceptable")
            return
        await self.websocket.accept(subprotocol=PROTOCOL)
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(INIT_SECONDS, self._init_timed_out))
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._write())]
        try:
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._shut()

    def close_soon(self, code: int, reason: str) -> None:
        """Close with `code` (from any task of the loop); what is queued is dropped."""
        if self._close is not None:
            return
        self._close = (code, reason.encode()[:120].decode(errors="ignore"))
        for task in self._tasks:
            task.cancel()

    async def _shut(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._close is None:
            self._close = (1000, "")
        self.hub.leave(self, self.principal if self._admitted else None)
        for operation in list(self.operations.values()):
            operation.cancel()
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task
        if not self._gone:
            code, reason = self._close
            with suppress(Exception):
                async with asyncio.timeout(CLOSE_SECONDS):
                    await self.websocket.close(code, reason)

    def _init_timed_out(self) -> None:
        if not self._initialised:
            self.close_soon(4408, "Connection initialisation timeout")

    # ------------------------------------------------------------------ sending
    def send(self, message: dict[str, Any] | str) -> None:
        if self._close is not None:
            return
        text = message if isinstance(message, str) else json.dumps(message)
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            limit = self.outbox.maxsize
            self.close_soon(1013, f"slow consumer: more than {limit} messages waiting")

    async def _write(self) -> None:
        while True:
            text = await self.outbox.get()
            try:
                await self.websocket.send_text(text)
            except Exception:  # the client went away
                self._gone = True
                return

    # ------------------------------------------------------------------ receiving
    async def _read(self) -> None:
        while self._close is None:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self._gone = True
                return
            text = message.get("text")
            if text is None:
                self.close_soon(4400, "WebSocket message type must be text")
                return
            if len(text) > self.max_bytes or len(text.encode()) > self.max_bytes:
                self.close_soon(4400, "message too large (SPOA_GRAPHQL_MAX_BODY_BYTES)")
                return
            try:
                data = json_body.loads(text, self.json_depth)
            except json_body.BadJSONError:
                self.close_soon(4400, "WebSocket message must be valid JSON")
                return
            if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                self.close_soon(4400, "Failed to parse message")
                return
            await self._handle(data)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            await self._init(message.get("payload"))
        elif kind == "ping":
            self.send({"type": "pong"})
        elif kind == "pong":
            pass  # the answer to a ping of ours: the client is alive, nothing to send
        elif kind == "subscribe":
            self._subscribe(message)
        elif kind == "complete":
            operation = self.operations.pop(str(message.get("id")), None)
            if operation is not None:
                operation.cancel()
        else:
            self.close_soon(4400, f"Unknown message type: {kind[:40]}")

    async def _init(self, payload: Any) -> None:
        if self._initialised:
            self.close_soon(4429, "Too many initialisation requests")
            return
        self._initialised = True
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            self.close_soon(4400, "Invalid connection init payload")
            return
        header = next((v for k, v in payload.items() if k.lower() == "authorization"), "")
        token = bearer_token_of(header) if isinstance(header, str) else None
        if token is None:
            self.close_soon(4403, 'Forbidden: send {"Authorization": "Bearer <token>"}')
            return
        try:
            principal = await run_blocking(
                self.hub.container.access.authenticate, token, correlation_id.get()
            )
        except UnauthenticatedError as exc:
            self.close_soon(4403, f"Forbidden: {exc}")
            return
        if not self.hub.admit(self, principal):
            self.close_soon(4429, "too many sockets for this account (SPOA_WS_MAX_PER_ACCOUNT)")
            return
        self.principal, self.token, self._admitted = principal, token, True
        if principal.session_expires_at is not None:
            left = (principal.session_expires_at - datetime.now(UTC)).total_seconds()
            loop = asyncio.get_running_loop()
            self._timers.append(
                loop.call_later(max(left, 0), self.close_soon, 4403, "Forbidden: session expired")
            )
        self.send({"type": "connection_ack"})

    async def recheck(self) -> None:
        """Close with 4403 unless the caller's session still holds, with the same role."""
        if self.principal is None or self._close is not None:
            return
        try:
            await run_blocking(recheck, self.hub.container.access, self.token, self.principal)
        except UnauthenticatedError as exc:
            self.close_soon(4403, f"Forbidden: {exc}")

    def _subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            self.close_soon(4401, "Unauthorized")
            return
        op_id, payload = message.get("id"), message.get("payload")
        if (
            not isinstance(op_id, str)
            or not 0 < len(op_id) <= MAX_ID_CHARS
            or not isinstance(payload, dict)
            or not isinstance(payload.get("query"), str)
            or not isinstance(payload.get("variables"), dict | None)
            or not isinstance(payload.get("operationName"), str | None)
            or not isinstance(payload.get("extensions"), dict | None)
        ):
            self.close_soon(4400, "Invalid subscribe message")
            return
        if op_id in self.operations:
            self.close_soon(4409, f"Subscriber for {op_id} already exists")
            return
        if len(self.operations) >= self.max_operations:
            error = {
                "message": f"at most {self.max_operations} operations at once on one socket"
                " (SPOA_WS_MAX_OPERATIONS)",
                "extensions": {"code": "RATE_LIMITED", "limit": self.max_operations},
            }
            self.send({"id": op_id, "type": "error", "payload": [error]})
            return
        document = Document.of(
            payload["query"], payload.get("operationName"), payload.get("variables") or {}
        )
        operation = LiveOperation(self, op_id, document, payload.get("extensions"))
        self.operations[op_id] = operation
        operation.start()


class LiveOperation:
    """One operation on a socket: a query or mutation answers once; a subscription follows a
    channel of the hub until the client completes it or the socket closes."""

    def __init__(
        self,
        socket: LiveSocket,
        op_id: str,
        document: Document,
        extensions: dict[str, Any] | None,
    ) -> None:
        self.socket = socket
        self.id = op_id
        self.document = document
        self.extensions = extensions
        self._prefix = '{"id":' + json.dumps(op_id) + ',"type":"next","payload":'
        self._task: asyncio.Task[None] | None = None
        self._done = False

    @property
    def open(self) -> bool:
        return not self._done

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"spoa-live-op-{self.id[:32]}")

    def cancel(self) -> None:
        self._done = True
        if self._task is not None:
            self._task.cancel()

    def send_next(self, payload_json: str) -> None:
        if not self._done:
            self.socket.send(self._prefix + payload_json + "}")

    async def follow(self, channel: str, key: Hashable) -> AsyncIterator[Any]:
        """Follow a channel until cancelled; the hub sends the updates (nothing is yielded)."""
        principal = self.socket.principal
        assert principal is not None  # operations start once the socket is acknowledged
        follower = self.socket.hub.add(self, principal, channel, key)
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self.socket.hub.remove(follower)
        yield  # never reached: this is an async generator for strawberry's subscription

    async def _run(self) -> None:
        cid = uuid.uuid4().hex
        token = correlation_id.set(cid)
        socket = self.socket
        context = LiveContext(socket.hub.container, cid, socket.principal, None, socket.address)
        context.live = self
        try:
            stream = await socket.schema.stream(
                self.document.query,
                variable_values=self.document.variables,
                context_value=context,
                operation_name=self.document.operation_name,
                operation_extensions=self.extensions,
            )
            async with aclosing(stream):
                async for result in stream:
                    if not isinstance(result, ExecutionResult):  # @defer / @stream frames
                        errors = [{"message": "incremental delivery is not served here"}]
                    elif result.data is None and result.errors:  # refused, or failed whole
                        errors = response_payload(result, cid)["errors"]
                    else:
                        self.send_next(json.dumps(response_payload(result, cid)))
                        continue
                    self._finish({"id": self.id, "type": "error", "payload": errors})
                    return
            self._finish({"id": self.id, "type": "complete"})
        except Exception:
            log.exception("a WebSocket operation failed")
            self._finish({"id": self.id, "type": "complete"})
        finally:
            correlation_id.reset(token)
            if socket.operations.get(self.id) is self:
                del socket.operations[self.id]

    def _finish(self, message: dict[str, Any]) -> None:
        if not self._done:
            self._done = True
            self.socket.send(message)
