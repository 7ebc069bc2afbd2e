"""A batch of platform records, stored once per (source, batch id) in the feed store.

A record is identified by (source, kind, sourceRecordId) across batches: a batch stores only
the records no batch stored before (the application finds which, from the record keys its
store writes with the batch), and says what it received and skipped in `ContentDigested`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.history.records import RecordKind, columns_of
from domain.shared import ChangeMeta, ValidationError, natural_id

SOURCE_RE_MAX = 64
CHUNK_RECORDS = 2000  # rows per stored event


def batch_id_for(source: str, batch_id: str) -> UUID:
    return natural_id("platform-batch", f"{source}\x1f{batch_id}")


def validate_batch_key(source: str, batch_id: str) -> None:
    if not source or len(source) > SOURCE_RE_MAX or not source.isprintable():
        raise ValidationError(
            f"source must be 1-{SOURCE_RE_MAX} printable characters", field=["source"]
        )
    if not batch_id or len(batch_id) > 128 or not batch_id.isprintable():
        raise ValidationError("batchId must be 1-128 printable characters", field=["batchId"])


class PlatformBatch(Aggregate):
    """One delivery from a platform feed. Its records are rows in the kind's column order;
    `record_count` counts those stored (a batch before de-duplication stored all it got)."""

    TOPIC = "spoa.history:PlatformBatch"

    class Event(Aggregate.Event):
        TOPIC = "spoa.history:PlatformBatch.Event"

    @staticmethod
    def create_id(source: str, batch_id: str) -> UUID:
        return batch_id_for(source, batch_id)

    @event("BatchReceived", topic="spoa.history:PlatformBatch.BatchReceived")
    def __init__(
        self,
        source: str,
        batch_id: str,
        kind: str,
        columns: list[str],
        record_count: int,
        meta: ChangeMeta,
    ) -> None:
        self.source = source
        self.batch_id = batch_id
        self.kind = RecordKind(kind)
        self.columns = columns
        self.record_count = record_count
        self.stored = 0

    @event("RecordsAdded", topic="spoa.history:PlatformBatch.RecordsAdded")
    def _records_added(
        self, kind: str, columns: list[str], offset: int, records: list[list[Any]]
    ) -> None:
        # The rows live in the events only; the aggregate just counts them.
        self.stored += len(records)

    @event("ContentDigested", topic="spoa.history:PlatformBatch.ContentDigested")
    def _content_digested(self, digest: str, received: int, duplicates: int) -> None:
        """What was delivered: the digest of its records (kind and rows, in order), how many
        there were and how many of them earlier batches had stored already."""
        self.digest = digest
        self.received = received
        self.duplicates = duplicates

    @classmethod
    def ingest(
        cls,
        *,
        source: str,
        batch_id: str,
        kind: RecordKind,
        rows: list[list[Any]],
        meta: ChangeMeta,
        digest: str,
        received: int,
    ) -> PlatformBatch:
        """A received batch storing `rows` (the new ones among the `received`): a header
        event, the content's digest, then the rows in chunks of bounded size.

        Chunking keeps every stored event small (a single very large parameter stalls the
        PostgreSQL driver's pipeline mode) and lets projections page through big batches.
        """
        validate_batch_key(source, batch_id)
        columns = [c.column for c in columns_of(kind)]
        batch = cls(
            source=source,
            batch_id=batch_id,
            kind=kind.value,
            columns=columns,
            record_count=len(rows),
            meta=meta,
        )
        batch._content_digested(digest=digest, received=received, duplicates=received - len(rows))
        for offset in range(0, len(rows), CHUNK_RECORDS):
            batch._records_added(
                kind=kind.value,
                columns=columns,
                offset=offset,
                records=rows[offset : offset + CHUNK_RECORDS],
            )
        return batch
