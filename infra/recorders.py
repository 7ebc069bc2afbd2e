"""Event recorder that writes without libpq pipeline mode.

eventsourcing's PostgreSQL recorder sends its LOCK, NOTIFY and INSERT in one pipeline. With a
large parameter (the INSERT passes every stored event of a save as one array, and a platform
batch of 100,000 records is megabytes) psycopg's pipeline stalls: both sides wait to read.
Writing the same statements in an ordinary transaction costs two extra local round trips and
never stalls. Everything else (table lock, NOTIFY, returned positions) is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry


class UnpipelinedApplicationRecorder(PostgresApplicationRecorder):
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
