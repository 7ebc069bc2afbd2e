"""Support contacts read model: the current contacts, for `supportContacts`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql

from domain.knowledge.contact import SupportContact
from projections.runtime.base import Projection, RecordedEvent

_FIELDS = ("name", "title", "phone", "email", "hours", "notes")


class SupportContactsProjection(Projection):
    name = "support_contacts"
    store = "core"
    topics = frozenset(
        cls.TOPIC
        for cls in (
            SupportContact.SupportContactAdded,
            SupportContact.SupportContactUpdated,
            SupportContact.SupportContactRemoved,
        )
    )
    tables = ("support_contacts",)

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.support_contacts ("
                " id uuid PRIMARY KEY,"
                " name text NOT NULL,"
                " title text, phone text, email text, hours text, notes text,"
                " created_at timestamptz NOT NULL,"
                " updated_at timestamptz NOT NULL,"
                " version int NOT NULL)"
            ).format(sql.Identifier(schema))
        )

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        table = sql.SQL("{}.support_contacts").format(sql.Identifier(schema))
        for envelope in events:
            e = envelope.event
            if isinstance(e, SupportContact.SupportContactRemoved):
                cur.execute(
                    sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (e.originator_id,)
                )
                continue
            values = {field: getattr(e, field) for field in _FIELDS}
            values.update(id=e.originator_id, at=e.timestamp, version=e.originator_version)
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (id, name, title, phone, email, hours, notes, created_at,"
                    " updated_at, version) VALUES (%(id)s, %(name)s, %(title)s, %(phone)s,"
                    " %(email)s, %(hours)s, %(notes)s, %(at)s, %(at)s, %(version)s)"
                    " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                    " title = excluded.title, phone = excluded.phone, email = excluded.email,"
                    " hours = excluded.hours, notes = excluded.notes,"
                    " updated_at = excluded.updated_at, version = excluded.version"
                ).format(table),
                values,
            )


@dataclass(frozen=True)
class ContactRow:
    id: UUID
    name: str
    title: str | None
    phone: str | None
    email: str | None
    hours: str | None
    notes: str | None


class SupportContactsQueries:
    def __init__(self, connect: Any) -> None:
        self._connect = connect

    def list(self) -> list[ContactRow]:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id, name, title, phone, email, hours, notes FROM rm.support_contacts"
                " ORDER BY name, created_at, id"
            )
            return [ContactRow(*r) for r in cur.fetchall()]
