"""The world the GraphQL fuzz runs in: the real app over a database with a little demo data
(the demo accounts, a few subscribers with history, the knowledge base, the support desk),
the fuzzing callers logged in as the demo admin and a province agent, and the ids and words
that data holds, so fuzzed arguments can name things that exist."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from demo.loader import (
    DEMO_ACCOUNTS,
    demo_principal,
    load_demo_accounts,
    load_demo_knowledge_base,
    load_demo_platform_history,
    load_demo_support_desk,
)
from demo.subscribers import Staff, load_demo_subscribers
from domain.subscribers.plans import PLANS
from infra.bootstrap import Container
from tests.conftest import _with_dbname, make_settings

# The fuzzing callers, with their roles: the demo admin and the demo province agent of GD.
CALLERS = {"admin": "SUPER_ADMIN", "gd.agent": "PROVINCE_AGENT"}
DEMO_PASSWORDS = {d.username: d.password for d in DEMO_ACCOUNTS}
# The showcase numbers and two more: the full demo's 300 take seconds to load.
SUBSCRIBERS = 8


@dataclass(frozen=True)
class Known:
    """Values the fuzz draws from besides random ones; never the callers' own account ids."""

    ids: tuple[str, ...]
    strings: tuple[str, ...]
    numbers: tuple[str, ...]  # the subscribers' (among the strings too)


@dataclass(frozen=True)
class FuzzWorld:
    container: Container
    client: TestClient
    tokens: dict[str, str]
    account_ids: dict[str, str]
    known: Known

    def post(self, document: str, caller: str) -> dict[str, Any]:
        response = self.client.post(
            "/graphql",
            json={"query": document},
            headers={"Authorization": f"Bearer {self.tokens[caller]}"},
        )
        result: dict[str, Any] = response.json()
        return result


def without_lifespan(app: ASGIApp) -> ASGIApp:
    """The app as schemathesis's in-process transport should see it: the TestClient already
    runs its lifespan (the projections), and schemathesis would start a second one that
    lives until the process exits. Returning at once is how an app says it has none."""

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)

    return served


def _load_demo(container: Container) -> list[str]:
    """The demo data but most subscribers; returns the subscribers' numbers."""
    access, audit = container.access, container.audit
    load_demo_accounts(access)
    team = Staff(
        second_line=[demo_principal(access, "vendor"), demo_principal(access, "admin")],
        platform=demo_principal(access, "platform"),
        province_agents={
            "GD": demo_principal(access, "gd.agent"),
            "BJ": demo_principal(access, "bj.agent"),
        },
    )
    now = container.clock.now()
    numbers = load_demo_subscribers(container.subscribers, team, now, count=SUBSCRIBERS)
    load_demo_platform_history(access, container.history, numbers, now)
    load_demo_knowledge_base(access, container.knowledge, container.contacts, audit)
    load_demo_support_desk(access, container.tickets, container.announcements, audit)
    return numbers


def _login(client: TestClient, username: str) -> tuple[str, str]:
    response = client.post(
        "/graphql",
        json={
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p)"
            " { session { token account { id } } userErrors { code } } }",
            "variables": {"u": username, "p": DEMO_PASSWORDS[username]},
        },
    )
    session = response.json()["data"]["login"]["session"]
    return session["token"], session["account"]["id"]


def _known(world: FuzzWorld, numbers: list[str]) -> Known:
    """Every stream id in the core store (accounts, subscribers, tickets, announcements, FAQs,
    contacts) but the callers' accounts, and the words that pick things out: numbers, plan
    codes, stream types, FAQ categories, usernames."""
    page = world.post(
        "{ events(first: 500) { nodes { streamType streamId } pageInfo { hasNextPage } } }",
        "admin",
    )["data"]["events"]
    assert not page["pageInfo"]["hasNextPage"], "the demo data grew: page through the events"
    events = page["nodes"]
    own = set(world.account_ids.values())
    ids = sorted({e["streamId"] for e in events} - own)
    faq_hits = (
        '{ searchFaqs(query: "密码", first: 20) { nodes { faq { category documents { id } } } } }'
    )
    faqs = world.post(faq_hits, "admin")["data"]["searchFaqs"]["nodes"]
    documents = {d["id"] for hit in faqs for d in hit["faq"]["documents"]}
    strings = (
        {e["streamType"] for e in events}
        | {hit["faq"]["category"] for hit in faqs}
        | set(numbers)
        | {p.code for p in PLANS}
        | set(DEMO_PASSWORDS)
    )
    return Known(
        ids=tuple(sorted(set(ids) | documents)),
        strings=tuple(sorted(strings)),
        numbers=tuple(sorted(numbers)),
    )


@contextmanager
def open_fuzz_world(pg_server_url: str, template_db: str) -> Iterator[FuzzWorld]:
    name = f"spoa_fz_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = _with_dbname(pg_server_url, name)
    # A consistentWith past the log's head waits out the timeout: keep the fuzz quick.
    container = Container(make_settings(url, consistency_timeout_seconds=0.2), url)
    try:
        numbers = _load_demo(container)
        container.engine.catch_up_all()  # before the runners start: nothing to race
        with TestClient(create_app(container, run_projections=True)) as client:
            logins = {caller: _login(client, caller) for caller in CALLERS}
            world = FuzzWorld(
                container,
                client,
                tokens={c: token for c, (token, _) in logins.items()},
                account_ids={c: account for c, (_, account) in logins.items()},
                known=Known((), (), ()),
            )
            yield replace(world, known=_known(world, numbers))
    finally:
        container.close()
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
