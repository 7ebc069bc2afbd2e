"""A lean path for the common GraphQL request: POST /graphql with one JSON operation.

FastAPI's routing and dependency injection and strawberry's HTTP view cost a large share of a
small mutation's server CPU (bench/subscribers_mutations.py shows it). This middleware,
the innermost one (after the body limit, the correlation id and the request metrics), serves
the common case by calling the same schema with the same context and the same result
processing as the /graphql route. Everything else goes to the route unchanged, so it keeps
strawberry's exact behaviour: other methods and paths, GraphiQL, multipart uploads, streaming
Accept headers, batches, and any body that is not a JSON object with a string `query`, object
or null `variables` and `extensions`, and a string or null `operationName` (the view answers
those with a 400). A document whose operation type cannot be served (strawberry's 400s) is
handed to the route too, before anything has run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graphql import ExecutionResult
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

POST_OPERATIONS = OperationType.from_http("POST")
STREAMING_ACCEPT = (b"multipart/mixed", b"text/event-stream")


def bearer_token_of(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value (as the route reads it)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class GraphQLFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        schema: Any,
        context: Callable[[str | None, Scope], Awaitable[Any]],
        process_result: Callable[[Any, ExecutionResult], Awaitable[Any]],
        encode_json: Callable[[Any], str | bytes],
        decode_json: Callable[[bytes], Any],
    ) -> None:
        self.app = app
        self.path = path
        self.schema = schema
        self.context = context
        self.process_result = process_result
        self.encode_json = encode_json
        self.decode_json = decode_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        authorization, json_body = "", False
        for name, value in scope["headers"]:
            if name == b"content-type":
                media_type = value.split(b";", 1)[0].strip().lower()
                json_body = b"application/json" in media_type
            elif name == b"accept" and any(kind in value for kind in STREAMING_ACCEPT):
                await self.app(scope, receive, send)
                return
            elif name == b"authorization" and not authorization:
                authorization = value.decode("latin-1")
        if not json_body:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        operation = _operation(body, self.decode_json)
        if operation is not None:
            query, variables, operation_name, extensions = operation
            context = await self.context(bearer_token_of(authorization), scope)
            try:
                result = await self.schema.execute(
                    query,
                    variable_values=variables,
                    context_value=context,
                    operation_name=operation_name,
                    allowed_operation_types=POST_OPERATIONS,
                    operation_extensions=extensions,
                )
            except (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError):
                pass  # raised before anything ran: the route gives its 400
            else:
                content = self.encode_json(await self.process_result(None, result))
                if isinstance(content, str):
                    content = content.encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-length", str(len(content)).encode()),
                            (b"content-type", b"application/json"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": content})
                return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _operation(body: bytes, decode: Callable[[bytes], Any]) -> tuple[str, Any, Any, Any] | None:
    """(query, variables, operationName, extensions) of a plain single operation, else None."""
    try:
        data = decode(body)
    except ValueError:
        return None  # the route decodes it the same way and answers 400
    if not isinstance(data, dict):
        return None
    query, variables = data.get("query"), data.get("variables")
    operation_name, extensions = data.get("operationName"), data.get("extensions")
    if (
        not isinstance(query, str)
        or not isinstance(variables, dict | None)
        or not isinstance(operation_name, str | None)
        or not isinstance(extensions, dict | None)
    ):
        return None
    return query, variables, operation_name, extensions
