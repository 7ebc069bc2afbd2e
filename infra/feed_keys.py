"""Record keys of the feed store: each record stored once across batches.

A record is identified by (source, kind, sourceRecordId). The feed store's recorder writes a
batch's keys into `feed_record_keys` in the same statement (so the same transaction) as the
batch's events: one function call inserts the keys, in a fixed order, then takes the events
table's lock, notifies and inserts the events. A key stored before, or being stored by a
concurrent save (which it waits for), is a unique violation that aborts the whole call,
answered as `RecordsAlreadyStoredError`; the service then looks the batch's keys up (one
set-based query) and saves the new records only. The keys are inserted before the table
lock is taken, so the lock is held no longer than before, and concurrent batches insert
their keys side by side; the fixed order keeps two batches sharing records from
deadlocking.

Feed events stored before this table existed get their keys at the next schema upgrade
(`backfill_record_keys`), so a record stored then is not stored again either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from application.history.ports import RecordKeys, RecordsAlreadyStoredError
from infra.feed_codec import plain_state
from infra.recorders import LOCKED_INSERT, UnpipelinedApplicationRecorder

KEYS_TABLE = "feed_record_keys"
KEYS_PRIMARY_KEY = f"{KEYS_TABLE}_pkey"
# The feed events whose states name a batch's source, and carry its rows.
BATCH_RECEIVED = "spoa.history:PlatformBatch.BatchReceived"
RECORDS_ADDED = "spoa.history:PlatformBatch.RecordsAdded"
_BACKFILL_EVENTS = 50  # feed events (up to 2,000 records each) read and keyed at a time


class FeedRecorder(UnpipelinedApplicationRecorder):
    """The feed store's recorder: a save given `record_keys` writes them with its events."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        function = Identifier(f"spoa_insert_{self.events_table_name.replace('.', '_')}_keyed")
        keys = Identifier(KEYS_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{keys} ("
                ' source text COLLATE "C" NOT NULL,'
                ' kind text COLLATE "C" NOT NULL,'
                ' source_record_id text COLLATE "C" NOT NULL,'
                " PRIMARY KEY (source, kind, source_record_id))"
            ).format(schema=schema, keys=keys)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}("
                "ids {id_type}[], versions bigint[], topics text[], states bytea[],"
                " key_source text, key_kind text, key_ids json)"
                " RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$"
                " BEGIN"
                "  SET LOCAL lock_timeout = '{lock_timeout}s';"
                # Room to sort a large batch's keys in memory rather than on disk.
                "  SET LOCAL work_mem = '64MB';"
                "  INSERT INTO {schema}.{keys} (source, kind, source_record_id)"
                "   SELECT key_source, key_kind, k FROM json_array_elements_text(key_ids) AS k"
                '   ORDER BY k COLLATE "C";' + LOCKED_INSERT
            ).format(
                schema=schema,
                function=function,
                id_type=Identifier(self.datastore.originator_id_type),
                lock_timeout=self.datastore.lock_timeout,
                keys=keys,
                table=Identifier(self.events_table_name),
                channel=Identifier(self.channel_name),
            )
        )
        self._keyed_call = SQL(
            "SELECT * FROM {}.{}(%s::{}[], %s::bigint[], %s::text[], %s::bytea[],"
            " %s::text, %s::text, %s::json)"
        ).format(schema, function, Identifier(self.datastore.originator_id_type))

    def create_table(self) -> None:
        super().create_table()
        self.complete_upgrade()

    def complete_upgrade(self) -> None:
        """Once the tables exist (and the serving role may write them): keys for old records."""
        backfill_record_keys(self.datastore, self.events_table_name)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        keys = kwargs.get("record_keys")
        if keys is None or not stored_events:
            return super().insert_events(stored_events, **kwargs)
        return self._insert_keyed(stored_events, keys)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_keyed(self, stored_events: Sequence[StoredEvent], keys: RecordKeys) -> list[int]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            assert conn.autocommit  # the call is its own transaction
            values = [
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
                keys.source,
                keys.kind,
                # As JSON text: psycopg writes a list of 100,000 strings into an array
                # parameter several times slower than orjson writes it and the server parses it.
                orjson.dumps(list(keys.ids)).decode(),
            ]
            try:
                curs.execute(self._keyed_call, values, prepare=True, binary=True)
            except psycopg.errors.UniqueViolation as exc:
                if exc.diag.constraint_name == KEYS_PRIMARY_KEY:
                    raise RecordsAlreadyStoredError(str(exc)) from None
                raise
            return [next(iter(row.values())) for row in curs.fetchall()]


class PgRecordKeyIndex:
    """Which record keys are stored (RecordKeyIndex)."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self._datastore = datastore
        self._query = SQL(
            "SELECT k.id FROM json_array_elements_text(%s::json) AS k(id) JOIN {}.{} r"
            ' ON r.source = %s AND r.kind = %s AND r.source_record_id = k.id COLLATE "C"'
        ).format(Identifier(datastore.schema), Identifier(KEYS_TABLE))

    def known(self, source: str, kind: str, ids: Sequence[str]) -> set[str]:
        with self._datastore.get_connection() as conn, conn.cursor() as cur:
            cur.execute(self._query, (orjson.dumps(list(ids)).decode(), source, kind))
            return {row["id"] for row in cur.fetchall()}


def backfill_record_keys(datastore: PostgresDatastore, events_table: str) -> None:
    """Give the records of feed events stored before the keys table existed their keys: once,
    when the table is still empty but records are stored, in one transaction holding the
    events table's lock (no batch is stored meanwhile, and a failure leaves nothing half
    done). Records a platform sent twice then get one key."""
    schema = Identifier(datastore.schema)
    keys, table = Identifier(KEYS_TABLE), Identifier(events_table)
    with datastore.get_connection() as conn, conn.transaction():
        found = conn.execute(
            SQL(
                "SELECT EXISTS (SELECT 1 FROM {}.{}) AS keyed,"
                " EXISTS (SELECT 1 FROM {}.{} WHERE topic = %s) AS stored"
            ).format(schema, keys, schema, table),
            (RECORDS_ADDED,),
        ).fetchone()
        if found is None or found["keyed"] or not found["stored"]:
            return
        conn.execute(SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(schema, table))
        sources = {
            row["originator_id"]: orjson.loads(plain_state(bytes(row["state"])))["source"]
            for row in conn.execute(
                SQL("SELECT originator_id, state FROM {}.{} WHERE topic = %s").format(
                    schema, table
                ),
                (BATCH_RECEIVED,),
            )
        }
        insert = SQL(
            "INSERT INTO {}.{} (source, kind, source_record_id)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING"
        ).format(schema, keys)
        with conn.cursor(name="spoa_keys_backfill") as events, conn.cursor() as out:
            events.execute(
                SQL("SELECT originator_id, state FROM {}.{} WHERE topic = %s").format(
                    schema, table
                ),
                (RECORDS_ADDED,),
            )
            while rows := events.fetchmany(_BACKFILL_EVENTS):
                found: tuple[list[str], list[str], list[str]] = ([], [], [])
                for row in rows:
                    chunk = orjson.loads(plain_state(bytes(row["state"])))
                    at = chunk["columns"].index("source_record_id")
                    ids = [record[at] for record in chunk["records"]]
                    found[0].extend([sources[row["originator_id"]]] * len(ids))
                    found[1].extend([chunk["kind"]] * len(ids))
                    found[2].extend(ids)
                out.execute(insert, found, binary=True)
