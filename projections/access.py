"""Accounts list read model: one row per staff account, for `accounts(role, province)`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Cursor, sql

from domain.access.account import Account
from projections.runtime.base import Projection, RecordedEvent


class AccountsProjection(Projection):
    name = "accounts"
    store = "core"
    topics = frozenset(
        cls.TOPIC
        for cls in (
            Account.AccountCreated,
            Account.RoleChanged,
            Account.AccountDisabled,
            Account.AccountEnabled,
            Account.PasswordChanged,
            Account.PasswordReset,
            Account.LoginSucceeded,
            Account.LoginFailed,
        )
    )
    tables = ("accounts",)

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        s = sql.Identifier(schema)
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.accounts ("
                " id uuid PRIMARY KEY,"
                " username text NOT NULL UNIQUE,"
                " display_name text NOT NULL,"
                " role text NOT NULL,"
                " province text,"
                " enabled boolean NOT NULL,"
                " created_at timestamptz NOT NULL,"
                " last_login_at timestamptz,"
                " version int NOT NULL)"
            ).format(s)
        )
        cur.execute(sql.SQL("CREATE INDEX ON {}.accounts (role, username)").format(s))
        cur.execute(sql.SQL("CREATE INDEX ON {}.accounts (province, username)").format(s))

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        table = sql.SQL("{}.accounts").format(sql.Identifier(schema))
        for envelope in events:
            e = envelope.event
            version = e.originator_version
            if isinstance(e, Account.AccountCreated):
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} (id, username, display_name, role, province, enabled,"
                        " created_at, version) VALUES (%s, %s, %s, %s, %s, true, %s, %s)"
                    ).format(table),
                    (
                        e.originator_id,
                        e.username,
                        e.display_name,
                        e.role,
                        e.province,
                        e.timestamp,
                        version,
                    ),
                )
                continue
            sets: dict[str, Any] = {"version": version}
            if isinstance(e, Account.RoleChanged):
                sets.update(role=e.role, province=e.province)
            elif isinstance(e, Account.AccountDisabled):
                sets["enabled"] = False
            elif isinstance(e, Account.AccountEnabled):
                sets["enabled"] = True
            elif isinstance(e, Account.LoginSucceeded):
                sets["last_login_at"] = e.at
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = %s").format(sql.Identifier(k)) for k in sets
            )
            cur.execute(
                sql.SQL("UPDATE {} SET {} WHERE id = %s").format(table, assignments),
                (*sets.values(), e.originator_id),
            )


@dataclass(frozen=True)
class AccountRow:
    id: str
    username: str
    display_name: str
    role: str
    province: str | None
    enabled: bool
    created_at: datetime
    last_login_at: datetime | None
    version: int


class AccountsQueries:
    """Reads rm.accounts; keyset pagination by username."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect

    def list(
        self, role: str | None, province: str | None, after_username: str | None, limit: int
    ) -> tuple[list[AccountRow], int]:
        where = []
        params: list[Any] = []
        if role is not None:
            where.append("role = %s")
            params.append(role)
        if province is not None:
            where.append("province = %s")
            params.append(province)
        filters = (" WHERE " + " AND ".join(where)) if where else ""
        page_where = list(where)
        page_params = list(params)
        if after_username is not None:
            page_where.append("username > %s")
            page_params.append(after_username)
        page_filters = (" WHERE " + " AND ".join(page_where)) if page_where else ""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id::text, username, display_name, role, province, enabled, created_at,"
                f" last_login_at, version FROM rm.accounts{page_filters}"
                " ORDER BY username LIMIT %s",
                (*page_params, limit),
            )
            rows = [AccountRow(*r) for r in cur.fetchall()]
            cur.execute(f"SELECT count(*) FROM rm.accounts{filters}", params)
            total_row = cur.fetchone()
        return rows, int(total_row[0]) if total_row else 0
