"""Content-addressed document bytes in PostgreSQL, so every API replica serves every document.

A document is stored once per content (sha256 primary key) in chunks, so a download streams
chunk by chunk instead of loading the whole file. Events keep only the sha256 and metadata.
Stored bytes never change (a trigger refuses every UPDATE but the claim below). Bytes that some
stored event attaches are never deleted: FAQ versions are kept forever, detached or removed
ones included. Bytes that no stored event attaches (the upload stored them, then its event was
never saved) are orphans, deleted by the sweep (application/knowledge/document_sweep.py) once
no upload has claimed them for the grace period: `claimed_at` is set when the bytes are stored
and again whenever an upload finds them stored already.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from application.knowledge.ports import StoredDocument, SweepReport, UnclaimedDocument

log = logging.getLogger(__name__)

CHUNK_BYTES = 512 * 1024

DOCUMENT_BLOBS_DDL = """
CREATE TABLE IF NOT EXISTS document_blobs (
    sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes bigint NOT NULL CHECK (size_bytes > 0),
    content_type text NOT NULL,
    filename text NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    claimed_at timestamptz NOT NULL DEFAULT now()
);
-- Tables from before the orphan sweep: everything stored counts as claimed at the upgrade, one
-- more grace period. Checked first, so a start-up takes no table lock once the column is there.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'document_blobs'::regclass
                   AND attname = 'claimed_at' AND NOT attisdropped) THEN
        ALTER TABLE document_blobs ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT now();
    END IF;
END
$$;
CREATE TABLE IF NOT EXISTS document_chunks (
    sha256 text NOT NULL REFERENCES document_blobs (sha256),
    seq int NOT NULL CHECK (seq >= 0),
    data bytea NOT NULL,
    PRIMARY KEY (sha256, seq)
);
-- Most documents are compressed formats already: store chunks without pglz compression.
ALTER TABLE document_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE OR REPLACE FUNCTION spoa_reject_document_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stored documents are immutable: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- An upload of content stored already claims it again (claimed_at); nothing else may change.
CREATE OR REPLACE FUNCTION spoa_reject_document_blob_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF to_jsonb(NEW) - 'claimed_at' = to_jsonb(OLD) - 'claimed_at' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'stored documents are immutable: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE OR REPLACE TRIGGER document_blobs_immutable BEFORE UPDATE ON document_blobs
    FOR EACH ROW EXECUTE FUNCTION spoa_reject_document_blob_update();
CREATE OR REPLACE TRIGGER document_chunks_immutable BEFORE UPDATE ON document_chunks
    FOR EACH ROW EXECUTE FUNCTION spoa_reject_document_update();
"""


class DocumentSizeMismatchError(RuntimeError):
    """The stream held a different number of bytes than measured (it changed underneath)."""


class PgDocumentStore:
    """The DocumentStore port on document_blobs / document_chunks."""

    def __init__(self, connect: Any, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._connect = connect
        self._chunk_bytes = chunk_bytes

    def put(
        self, sha256: str, content_type: str, filename: str, size: int, stream: BinaryIO
    ) -> bool:
        with self._connect() as conn, conn.transaction(), conn.cursor() as cur:
            while True:
                # A concurrent upload of the same content waits here on the primary key until
                # the first one commits, then finds the row and stores nothing.
                cur.execute(
                    "INSERT INTO document_blobs (sha256, size_bytes, content_type, filename)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING RETURNING sha256",
                    (sha256, size, content_type, filename),
                )
                if cur.fetchone() is not None:
                    break
                # Stored already: claim it, so the orphan sweep keeps it until this upload's
                # event is saved. No row: the sweep deleted it just now; store it again.
                cur.execute(
                    "UPDATE document_blobs SET claimed_at = now() WHERE sha256 = %s"
                    " RETURNING sha256",
                    (sha256,),
                )
                if cur.fetchone() is not None:
                    return False
            written = 0
            seq = 0
            while chunk := stream.read(self._chunk_bytes):
                cur.execute(
                    "INSERT INTO document_chunks (sha256, seq, data) VALUES (%s, %s, %s)",
                    (sha256, seq, chunk),
                )
                written += len(chunk)
                seq += 1
            if written != size:
                raise DocumentSizeMismatchError(f"expected {size} bytes, read {written}")
        return True

    def info(self, sha256: str) -> StoredDocument | None:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT size_bytes, content_type, filename FROM document_blobs WHERE sha256 = %s",
                (sha256,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return StoredDocument(sha256, int(row[0]), str(row[1]), str(row[2]))

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The bytes in order; each chunk borrows a pooled connection only while it is read."""
        seq = 0
        while True:
            with self._connect() as conn, conn.cursor() as cur:
                cur.execute(
                    "SELECT data FROM document_chunks WHERE sha256 = %s AND seq = %s",
                    (sha256, seq),
                )
                row = cur.fetchone()
            if row is None:
                return
            yield bytes(row[0])
            seq += 1

    def count(self) -> int:
        """How many distinct documents are stored (tests, operations)."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM document_blobs")
            row = cur.fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ orphan sweep
    def unclaimed_since(self, grace: timedelta) -> tuple[datetime, list[UnclaimedDocument]]:
        """The database's now() - grace, and the content last claimed before it (oldest
        first). The database's clock, the one that set `claimed_at`."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT c.cutoff, b.sha256, b.size_bytes, b.filename, b.stored_at, b.claimed_at"
                " FROM (SELECT now() - %s::interval AS cutoff) c"
                " LEFT JOIN document_blobs b ON b.claimed_at < c.cutoff"
                " ORDER BY b.stored_at, b.sha256",
                (grace,),
            )
            rows = cur.fetchall()
        cutoff: datetime = rows[0][0]
        return cutoff, [
            UnclaimedDocument(str(r[1]), int(r[2]), str(r[3]), r[4], r[5])
            for r in rows
            if r[1] is not None
        ]

    def delete_unclaimed(self, sha256: str, cutoff: datetime) -> bool:
        """Delete the content and its chunks unless claimed at or after `cutoff`.

        The row lock settles a race with an upload of the same content: an upload claiming it
        right now holds the row (SKIP LOCKED: keep it); one that commits its claim first makes
        the row fail the re-checked condition; one that comes after the delete finds no row
        and stores the content again.
        """
        with self._connect() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM document_blobs WHERE sha256 = %s AND claimed_at < %s"
                " FOR UPDATE SKIP LOCKED",
                (sha256, cutoff),
            )
            if cur.fetchone() is None:
                return False
            cur.execute("DELETE FROM document_chunks WHERE sha256 = %s", (sha256,))
            cur.execute("DELETE FROM document_blobs WHERE sha256 = %s", (sha256,))
        return True


FIRST_SWEEP_DELAY = 60.0  # seconds after the projections start


class PeriodicDocumentSweep:
    """Runs the orphan sweep every `interval` seconds in a process that runs projections,
    while `leading()` (this process leads the faqs projection, so one process sweeps)."""

    def __init__(
        self,
        sweep: Callable[[], SweepReport],
        interval: float,
        leading: Callable[[], bool],
        first_delay: float = FIRST_SWEEP_DELAY,
    ) -> None:
        self._sweep = sweep
        self._interval = interval
        self._first_delay = min(first_delay, interval)
        self._leading = leading
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spoa-document-sweep", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        delay = self._first_delay
        while not self._stop.wait(delay):
            delay = self._interval
            if not self._leading():
                continue
            try:
                report = self._sweep()
            except Exception:  # the next run tries again
                log.exception("document sweep failed")
                continue
            self.runs += 1
            if report.removed:
                log.info(
                    "document sweep removed %d orphan documents (%d bytes)",
                    len(report.removed),
                    report.bytes_freed,
                )
