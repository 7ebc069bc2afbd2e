"""A module-wide app with one account per role, for e2e tests that each leave no trace
(or touch only accounts they create), so a whole table of cases shares one database."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from api.app import create_app
from application.access.service import principal_of
from application.access.throttle import LoginThrottle
from application.authz import Principal
from domain.access.account import account_id_for
from domain.access.permissions import Role
from infra.bootstrap import Container
from tests.conftest import _with_dbname, make_settings
from tests.helpers import PASSWORD, ROLE_ACCOUNTS, GraphQL, seed_accounts

# The seeded user that plays each role of permissions.md.
ROLE_USERS: dict[str, str] = {
    "SUPER_ADMIN": "admin",
    "SECOND_LINE_AGENT": "second",
    "PROVINCE_AGENT": "gd.agent",
    "VIEWER": "viewer",
    "AUDITOR": "auditor",
    "INTEGRATION": "platform",
}

_serial = itertools.count(1)


@dataclass
class World:
    container: Container
    client: TestClient
    gql: GraphQL
    principals: dict[str, Principal] = field(default_factory=dict)

    @property
    def admin(self) -> Principal:
        return self.principals["admin"]

    def head(self) -> int:
        """Events stored in the core store: a refused request must not move it."""
        return self.container.core_log.head()

    def new_account(
        self,
        prefix: str = "target",
        role: Role = Role.VIEWER,
        province: str | None = None,
        password: str = PASSWORD,
    ) -> tuple[str, str]:
        """A fresh account (username, id) that no other test touches."""
        username = f"{prefix}{next(_serial)}"
        self.container.access.create_account(
            None,
            username=username,
            display_name=username.title(),
            role=role,
            province=province,
            initial_password=password,
        )
        return username, str(account_id_for(username))

    def account(self, username: str) -> Any:
        return self.container.core.repository.get(account_id_for(username))

    def catch_up(self) -> None:
        self.container.engine.catch_up("accounts")

    def forget_failed_logins(self) -> None:
        """A fresh login throttle: a test's failed logins do not slow down the next test's
        (they all come from the one test client address)."""
        settings = self.container.settings
        self.container.access.throttle = LoginThrottle(
            settings.login_max_delay_seconds, settings.login_address_free_failures
        )


@contextmanager
def open_world(pg_server_url: str, template_db: str, **overrides: Any) -> Iterator[World]:
    name = f"spoa_w_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = _with_dbname(pg_server_url, name)
    container = Container(make_settings(url, **overrides), url)
    try:
        app = create_app(container, run_projections=True)
        with TestClient(app) as client:
            principals = seed_accounts(container)
            gql = GraphQL(client)
            for username in ROLE_ACCOUNTS:
                gql.login(username)
            # Logins stored events; refresh so principals carry current state.
            principals = {
                u: principal_of(container.core.repository.get(p.account_id))
                for u, p in principals.items()
            }
            yield World(container, client, gql, principals)
    finally:
        container.close()
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
