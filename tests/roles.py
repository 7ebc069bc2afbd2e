"""Two database roles for the tests of least privilege: the test server's superuser owns the
schema (SPOA_DATABASE_OWNER_URL) and a fresh, uniquely named login role serves
(SPOA_DATABASE_URL); the role is dropped with everything granted to it afterwards."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.bootstrap import Container
from tests.conftest import make_settings


@dataclass(frozen=True)
class RuntimeRole:
    name: str
    url: str  # the test database, as this role


@contextmanager
def runtime_role(server_url: str, database_url: str) -> Iterator[RuntimeRole]:
    name = f"spoa_rt_{uuid.uuid4().hex[:12]}"
    password = secrets.token_hex(12)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
    try:
        yield RuntimeRole(name, make_conninfo(database_url, user=name, password=password))
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@contextmanager
def two_role_container(
    database_url: str, role: RuntimeRole, **overrides: object
) -> Iterator[Container]:
    """A container serving as `role`, its schema upgraded by the owner (`database_url`)."""
    container = Container(make_settings(role.url, **overrides), role.url, database_url)
    try:
        container.upgrade()
        yield container
    finally:
        container.close()
