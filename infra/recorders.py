"""Event recorder: small saves in one statement, large ones without libpq pipeline mode.

eventsourcing's PostgreSQL recorder takes an EXCLUSIVE lock on the events table (so positions
are committed in order and a reader never passes over a gap that fills later), sends NOTIFY and
inserts, in one transaction. Both ways below keep exactly that; they differ in round trips.

- Every save calls a function that does SET LOCAL lock_timeout, LOCK TABLE, NOTIFY and the
  INSERT, as one autocommit statement: one round trip, and the table lock is held for the
  insert only, never across client round trips (eventsourcing's own database function,
  POSTGRES_ENABLE_DB_FUNCTIONS, omits the lock, so readers could miss events under concurrent
  writers; this one keeps it).
- A command's few events go as scalar parameters (the server builds the arrays); a platform
  batch's fifty events go as four arrays in binary format, so psycopg copies the megabytes of
  state as they are. eventsourcing's own insert sends an array of a composite type, which
  psycopg can only write as text: every state byte hex-escaped in Python, and its pipeline
  mode stalls on a large parameter, both sides waiting to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Composed, Identifier, Placeholder

SCALAR_EVENTS_MAX = 16


# The end of a function that appends events as one statement: the table lock eventsourcing's
# readers rely on, the wake-up of followers, and the insert of the arrays it was given.
LOCKED_INSERT = (
    "  LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;"
    "  NOTIFY {channel};"
    "  RETURN QUERY INSERT INTO {schema}.{table}"
    "   (originator_id, originator_version, topic, state)"
    "   SELECT * FROM unnest(ids, versions, topics, states)"
    "   RETURNING notification_id;"
    " END; $BODY$"
)


class UnpipelinedApplicationRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        function = Identifier(f"spoa_insert_{self.events_table_name.replace('.', '_')}")
        table = Identifier(self.events_table_name)
        # Created by `spoa db upgrade` with the table (recorder.create_table()).
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}("
                "ids {id_type}[], versions bigint[], topics text[], states bytea[])"
                " RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$"
                " BEGIN"
                "  SET LOCAL lock_timeout = '{lock_timeout}s';" + LOCKED_INSERT
            ).format(
                schema=schema,
                function=function,
                id_type=Identifier(self.datastore.originator_id_type),
                lock_timeout=self.datastore.lock_timeout,
                table=table,
                channel=Identifier(self.channel_name),
            )
        )
        self._insert_function = (schema, function, Identifier(self.datastore.originator_id_type))
        self._insert_calls: dict[int, Composed] = {}

    def _insert_call(self, count: int) -> Composed:
        """The function call for `count` events (0: passed as four arrays). Up to
        SCALAR_EVENTS_MAX the server builds the arrays from scalar parameters: psycopg's list
        adaptation costs more CPU than the rest of a command's save."""
        call = self._insert_calls.get(count)
        if call is None:
            schema, function, id_type = self._insert_function
            kinds = (id_type, SQL("bigint"), SQL("text"), SQL("bytea"))
            if count:
                items = SQL(", ").join([Placeholder()] * count)
                arrays = [SQL("ARRAY[{}]::{}[]").format(items, kind) for kind in kinds]
            else:
                arrays = [SQL("%s::{}[]").format(kind) for kind in kinds]
            call = SQL("SELECT * FROM {}.{}({})").format(schema, function, SQL(", ").join(arrays))
            self._insert_calls[count] = call
        return call

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return None
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            assert conn.autocommit  # the statement is its own transaction
            columns = (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            )
            if len(stored_events) <= SCALAR_EVENTS_MAX:
                call = self._insert_call(len(stored_events))
                curs.execute(call, [v for c in columns for v in c], prepare=True)
            else:
                curs.execute(self._insert_call(0), list(columns), prepare=True, binary=True)
            return [next(iter(row.values())) for row in curs.fetchall()]
