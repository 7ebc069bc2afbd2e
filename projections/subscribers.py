"""Subscriber summary read model: one row per number with its current mailbox state.

For `subscribers(filter)` (find a customer by number, alias or address), counts and
statistics by province and status (the `subscriber(msisdn)` query reads the aggregate itself;
see application/subscribers/queries.py). Password hashes never land here. Numbers and
aliases sort and compare bytewise (COLLATE "C"), whatever the database's locale, so a prefix
is a range of a btree index and pages follow the numbers' order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Cursor, sql
from psycopg.rows import dict_row

from domain.subscribers.subscriber import Subscriber
from projections.runtime.base import Projection, RecordedEvent

COLUMNS = (
    "msisdn",
    "id",
    "province",
    "status",
    "plan_code",
    "registered_at",
    "deregistered_at",
    "frozen_at",
    "frozen_reason",
    "companion_enabled",
    "bill_delivery",
    "arrival_enabled",
    "arrival_mode",
    "arrival_window_start",
    "arrival_window_end",
    "login_reminder",
    "alias",
    "sms_blacklist_level",
    "password_changed_at",
    "version",
    "updated_at",
)

# The state of a freshly opened mailbox (registration and re-registration).
FRESH: dict[str, Any] = {
    "status": "ACTIVE",
    "deregistered_at": None,
    "frozen_at": None,
    "frozen_reason": None,
    "companion_enabled": False,
    "bill_delivery": False,
    "arrival_enabled": False,
    "arrival_mode": None,
    "arrival_window_start": None,
    "arrival_window_end": None,
    "login_reminder": False,
    "alias": None,
    "sms_blacklist_level": "NONE",
    "password_changed_at": None,
}

S = Subscriber


def changed_columns(e: Any) -> dict[str, Any]:
    """The columns an event sets (besides version and updated_at). Pure."""
    if isinstance(e, S.MailboxReregistered):
        return {**FRESH, "province": e.province, "plan_code": e.plan_code, "registered_at": e.at}
    if isinstance(e, S.MailboxDeregistered):
        return {
            "status": "DEREGISTERED",
            "deregistered_at": e.at,
            "alias": None,
            "frozen_at": None,
            "frozen_reason": None,
        }
    if isinstance(e, S.PlanChanged):
        return {"plan_code": e.plan_code}
    if isinstance(e, S.CompanionChanged):
        return {"companion_enabled": e.enabled}
    if isinstance(e, S.BillDeliveryChanged):
        return {"bill_delivery": e.subscribed}
    if isinstance(e, S.ArrivalNotificationChanged):
        return {
            "arrival_enabled": e.enabled,
            "arrival_mode": e.mode,
            "arrival_window_start": e.window_start,
            "arrival_window_end": e.window_end,
        }
    if isinstance(e, S.LoginReminderChanged):
        return {"login_reminder": e.enabled}
    if isinstance(e, S.AliasChanged):
        return {"alias": e.alias}
    if isinstance(e, S.PasswordChanged):
        return {"password_changed_at": e.at}
    if isinstance(e, S.MailboxFrozen):
        return {"status": "FROZEN", "frozen_at": e.at, "frozen_reason": e.reason}
    if isinstance(e, S.MailboxUnfrozen):
        return {"status": "ACTIVE", "frozen_at": None, "frozen_reason": None}
    if isinstance(e, S.SmsBlacklistChanged):
        return {"sms_blacklist_level": e.level}
    return {}


EVENT_CLASSES = (
    S.MailboxRegistered,
    S.MailboxReregistered,
    S.MailboxDeregistered,
    S.PlanChanged,
    S.CompanionChanged,
    S.BillDeliveryChanged,
    S.ArrivalNotificationChanged,
    S.LoginReminderChanged,
    S.AliasChanged,
    S.PasswordChanged,
    S.MailboxFrozen,
    S.MailboxUnfrozen,
    S.SmsBlacklistChanged,
)


class SubscribersProjection(Projection):
    name = "subscribers"
    store = "core"
    topics = frozenset(cls.TOPIC for cls in EVENT_CLASSES)
    tables = ("subscribers",)
    version = 2  # numbers and aliases COLLATE "C", with the indexes prefix searches use

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        s = sql.Identifier(schema)
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.subscribers ("
                ' msisdn text COLLATE "C" PRIMARY KEY,'
                " id uuid NOT NULL UNIQUE,"
                " province text NOT NULL,"
                " status text NOT NULL,"
                " plan_code text NOT NULL,"
                " registered_at timestamptz NOT NULL,"
                " deregistered_at timestamptz,"
                " frozen_at timestamptz,"
                " frozen_reason text,"
                " companion_enabled boolean NOT NULL,"
                " bill_delivery boolean NOT NULL,"
                " arrival_enabled boolean NOT NULL,"
                " arrival_mode text,"
                " arrival_window_start text,"
                " arrival_window_end text,"
                " login_reminder boolean NOT NULL,"
                ' alias text COLLATE "C",'
                " sms_blacklist_level text NOT NULL,"
                " password_changed_at timestamptz,"
                " version int NOT NULL,"
                " updated_at timestamptz NOT NULL)"
            ).format(s)
        )
        for index in (
            "(province, status, msisdn)",
            "(province, msisdn)",  # a scoped caller's pages, and number prefixes
            "(alias) WHERE alias IS NOT NULL",
            "(province, alias) WHERE alias IS NOT NULL",
        ):
            cur.execute(sql.SQL("CREATE INDEX ON {}.subscribers " + index).format(s))

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        # Fold the page per subscriber first: a busy page has many events per number, and one
        # statement per number is much cheaper than one per event.
        rows: dict[Any, dict[str, Any]] = {}
        new: set[Any] = set()
        for envelope in events:
            e = envelope.event
            key = e.originator_id
            if isinstance(e, S.MailboxRegistered):
                rows[key] = {
                    **FRESH,
                    "msisdn": e.msisdn,
                    "id": key,
                    "province": e.province,
                    "plan_code": e.plan_code,
                    "registered_at": e.at,
                }
                new.add(key)
            else:
                rows.setdefault(key, {}).update(changed_columns(e))
            rows[key].update(version=e.originator_version, updated_at=e.timestamp)
        table = sql.SQL("{}.subscribers").format(sql.Identifier(schema))
        inserts = [[row[c] for c in COLUMNS] for key, row in rows.items() if key in new]
        if inserts:
            cur.executemany(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    table,
                    sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
                    sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)),
                ),
                inserts,
            )
        # Updates grouped by the columns they set: one statement and one round trip per group.
        updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for key, row in rows.items():
            if key not in new:
                updates.setdefault(tuple(row), []).append((*row.values(), key))
        for columns, params in updates.items():
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns
            )
            cur.executemany(
                sql.SQL("UPDATE {} SET {} WHERE id = %s").format(table, assignments), params
            )


@dataclass(frozen=True)
class SubscriberSummary:
    msisdn: str
    province: str
    status: str
    plan_code: str
    alias: str | None
    registered_at: datetime
    version: int


# Spelled out in the queries too: tables of the previous version, which serve until a
# rebuild's swap, have the database's default collation.
_MSISDN, _ALIAS = 'msisdn COLLATE "C"', 'alias COLLATE "C"'
_LISTED = ", ".join(c for c in COLUMNS if c != "updated_at")


class SubscriberSummaries:
    """Reads rm.subscribers."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect

    def get(self, msisdn: str) -> SubscriberSummary | None:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT msisdn, province, status, plan_code, alias, registered_at, version"
                " FROM rm.subscribers WHERE msisdn = %s",
                (msisdn,),
                prepare=True,
            )
            row = cur.fetchone()
        return SubscriberSummary(*row) if row else None

    def search(self, q: Any, after_msisdn: str | None, limit: int) -> list[dict[str, Any]]:
        """Rows matching a checked query (application/subscribers/search.py), msisdn order.

        A prefix is a half-open range (`prefix` up to the prefix with its last character
        bumped), bytewise, which a btree index answers without reading other rows."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            (_MSISDN, q.handle and q.handle.msisdn),
            (_ALIAS, q.handle and q.handle.alias),
        ):
            if not value:
                continue
            if q.handle.exact:
                where.append(f"{column} = %s")
                params.append(value)
            else:
                where.append(f"{column} >= %s AND {column} < %s")
                params.extend([value, value[:-1] + chr(ord(value[-1]) + 1)])
        for column, value in (
            ("province", q.province),
            ("status", q.status),
            ("plan_code", q.plan_code),
        ):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if after_msisdn is not None:
            where.append(f"{_MSISDN} > %s")
            params.append(after_msisdn)
        filters = (" WHERE " + " AND ".join(where)) if where else ""
        with self._connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT {_LISTED} FROM rm.subscribers{filters} ORDER BY {_MSISDN} LIMIT %s",
                (*params, limit),
            )
            return cur.fetchall()

    def counts(self) -> dict[tuple[str, str], int]:
        """Subscribers per (province, status)."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT province, status, count(*) FROM rm.subscribers GROUP BY province, status"
            )
            return {(p, s): int(n) for p, s, n in cur.fetchall()}
