"""The live-update hub of one serving process: who follows what, fed by the core log.

One feed (`infra.live_feed`, woken by the projections' own notifications) reads each change
once, after its read model has applied it. Per batch, the channel answers with one read which
followers see which change (their application-checked keys: a ticket filter, an audience);
then each change's selection is executed once per (document, caller scope), not once per
socket, and the one response is queued on every socket that shares it. A change to an account
(disabled, role changed, logged out, sessions revoked) re-checks that account's sockets, which
are closed with 4403 when their session no longer holds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from inspect import isawaitable
from typing import Any, Protocol
from uuid import UUID

import orjson
from graphql import execute, parse
from strawberry.schema._graphql_core import execution_context_class_kwargs

from api.graphql.base import Context
from api.graphql.schema import response_payload
from api.live.channels import AnnouncementsChannel, Channel, TicketsChannel, Update
from application.access.live import SESSION_CHANGES
from application.authz import Principal
from application.support.ticket_updates import selection_scope
from infra.bootstrap import Container, LiveEvent, LiveFeed
from infra.logging import correlation_id

log = logging.getLogger("spoa.live")

#: selections executed at once (each may read accounts in a worker thread)
CONCURRENT_EXECUTIONS = 16


@dataclass(frozen=True)
class Document:
    """A subscription's document and variables: equal ones share one execution per scope."""

    query: str
    operation_name: str | None
    variables_json: str  # canonical: keys sorted
    variables: dict[str, Any] = field(compare=False, hash=False)

    @classmethod
    def of(cls, query: str, operation_name: str | None, variables: dict[str, Any]) -> Document:
        canonical = json.dumps(variables, sort_keys=True, separators=(",", ":"))
        return cls(query, operation_name, canonical, variables)


class LiveSocket(Protocol):
    """What the hub needs of a socket (`api.live.socket`)."""

    async def recheck(self) -> None: ...

    def close_soon(self, code: int, reason: str) -> None: ...


class LiveOperation(Protocol):
    """What the hub needs of a subscription on a socket (`api.live.socket`)."""

    @property
    def open(self) -> bool: ...

    @property
    def document(self) -> Document: ...

    def send_next(self, payload_json: str) -> None: ...


@dataclass(eq=False)
class Follower:
    operation: LiveOperation
    principal: Principal
    channel: str
    key: Hashable
    scope: Hashable


class LiveHub:
    def __init__(self, container: Container, schema: Any) -> None:
        self.container = container
        self.schema = schema
        # Documents that passed the subscribe-time checks, parsed once per text.
        self._parsed = lru_cache(maxsize=512)(parse)
        self.max_per_account = container.settings.ws_max_per_account
        channels: list[Channel] = [TicketsChannel(container), AnnouncementsChannel(container)]
        self._channels = {c.name: c for c in channels}
        self._followers: dict[str, set[Follower]] = {c.name: set() for c in channels}
        self._sockets: dict[UUID, set[LiveSocket]] = {}
        self._feed: LiveFeed | None = None
        self._slots: asyncio.Semaphore | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._slots = asyncio.Semaphore(CONCURRENT_EXECUTIONS)
        feed = self.container.live_feed()
        # Accounts first: a socket whose session ended hears nothing after that change.
        feed.follow(
            "accounts", self._accounts_changed, topics=SESSION_CHANGES, active=self.has_sockets
        )
        for name, channel in self._channels.items():
            feed.follow(
                channel.projection,
                partial(self._dispatch, name),
                active=partial(self.has_followers, name),
            )
        await feed.start()
        self._feed = feed

    async def stop(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            await feed.stop()
        for sockets in list(self._sockets.values()):
            for socket in list(sockets):
                socket.close_soon(1001, "the server is shutting down")

    # ------------------------------------------------------------------ registry
    def has_sockets(self) -> bool:
        return bool(self._sockets)

    def has_followers(self, channel: str) -> bool:
        return bool(self._followers[channel])

    def sockets_of(self, account_id: UUID) -> int:
        return len(self._sockets.get(account_id, ()))

    def admit(self, socket: LiveSocket, principal: Principal) -> bool:
        """Count an authenticated socket of an account; False past SPOA_WS_MAX_PER_ACCOUNT."""
        sockets = self._sockets.setdefault(principal.account_id, set())
        if len(sockets) >= self.max_per_account:
            if not sockets:
                del self._sockets[principal.account_id]
            return False
        sockets.add(socket)
        return True

    def leave(self, socket: LiveSocket, principal: Principal | None) -> None:
        if principal is None:
            return
        sockets = self._sockets.get(principal.account_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[principal.account_id]

    def add(
        self, operation: LiveOperation, principal: Principal, channel: str, key: Hashable
    ) -> Follower:
        follower = Follower(operation, principal, channel, key, selection_scope(principal))
        self._followers[channel].add(follower)
        return follower

    def remove(self, follower: Follower) -> None:
        self._followers[follower.channel].discard(follower)

    # ------------------------------------------------------------------ feeding
    async def _accounts_changed(self, events: list[LiveEvent]) -> None:
        for account_id in dict.fromkeys(e.originator_id for e in events):
            sockets = list(self._sockets.get(account_id, ()))
            await asyncio.gather(*(socket.recheck() for socket in sockets))

    async def _dispatch(self, channel: str, events: list[LiveEvent]) -> None:
        followers = list(self._followers[channel])
        if not followers:
            return
        keys = list(dict.fromkeys(f.key for f in followers))
        index = {key: n for n, key in enumerate(keys)}
        updates = await self._channels[channel].updates(events, keys)
        cid = uuid.uuid4().hex
        token = correlation_id.set(cid)
        try:
            await self._deliver(updates, followers, index, cid)
        finally:
            correlation_id.reset(token)

    async def _deliver(
        self,
        updates: Sequence[Update],
        followers: list[Follower],
        index: dict[Hashable, int],
        cid: str,
    ) -> None:
        contexts: dict[Hashable, Context] = {}  # one per scope and batch (shares its lookups)
        jobs: list[tuple[list[Follower], asyncio.Future[str]]] = []
        for update in updates:
            groups: dict[tuple[Document, Hashable], list[Follower]] = {}
            for f in followers:
                if index[f.key] in update.seen_by and f.operation.open:
                    groups.setdefault((f.operation.document, f.scope), []).append(f)
            for (document, scope), members in groups.items():
                context = contexts.get(scope)
                if context is None:
                    principal = members[0].principal
                    context = contexts[scope] = Context(self.container, cid, principal, None)
                body = asyncio.ensure_future(self._execute(document, context, update.payload))
                jobs.append((members, body))
        if not jobs:
            return
        await asyncio.gather(*(body for _, body in jobs), return_exceptions=True)
        for members, body in jobs:  # in update order: each socket hears them in log order
            if body.exception() is not None:
                log.error("live update failed", exc_info=body.exception())
                continue
            for f in members:
                f.operation.send_next(body.result())

    async def _execute(self, document: Document, context: Context, root: Any) -> str:
        """The update's selection, executed once: the response's JSON.

        The document was parsed, validated and costed (limits, cost, aliases, depth) with its
        variables when it subscribed, and a delivery is not a request of the account's: it is
        executed as it stands, without the request pipeline's extensions again."""
        assert self._slots is not None
        async with self._slots:
            result = execute(
                self.schema._schema,
                self._parsed(document.query),
                root_value=root,
                context_value=context,
                variable_values=document.variables,
                operation_name=document.operation_name,
                **execution_context_class_kwargs(self.schema.execution_context_class),
            )
            if isawaitable(result):
                result = await result
        if result.errors:
            self.schema.process_errors(result.errors)  # logs the unexpected ones
        return orjson.dumps(response_payload(result, context.correlation_id)).decode()
