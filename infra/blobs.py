"""Content-addressed document bytes in PostgreSQL, so every API replica serves every document.

A document is stored once per content (sha256 primary key) in chunks, so a download streams
chunk by chunk instead of loading the whole file. Events keep only the sha256 and metadata.
Stored bytes never change (a trigger refuses UPDATE), and nothing deletes them: every document
ever attached is referred to by some stored FAQ version, and versions are kept forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from application.knowledge import StoredDocument

CHUNK_BYTES = 512 * 1024

DOCUMENT_BLOBS_DDL = """
CREATE TABLE IF NOT EXISTS document_blobs (
    sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes bigint NOT NULL CHECK (size_bytes > 0),
    content_type text NOT NULL,
    filename text NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);
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
CREATE OR REPLACE TRIGGER document_blobs_immutable BEFORE UPDATE ON document_blobs
    FOR EACH ROW EXECUTE FUNCTION spoa_reject_document_update();
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
            # A concurrent upload of the same content waits here on the primary key until the
            # first one commits, then finds the row and stores nothing.
            cur.execute(
                "INSERT INTO document_blobs (sha256, size_bytes, content_type, filename)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING RETURNING sha256",
                (sha256, size, content_type, filename),
            )
            if cur.fetchone() is None:
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
