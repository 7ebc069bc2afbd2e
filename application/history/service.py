"""Customer history use cases: ingesting platform batches, and the history queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from application.authz import Principal
from application.consistency import wait_until_applied
from application.history.content import content_digest
from application.history.ports import RecordKeyIndex, RecordKeys, RecordsAlreadyStoredError
from application.history.validation import BatchValidator, RecordError
from application.ports import EventLog, ReadModelWaiter
from application.unit_of_work import save
from domain.access.permissions import Permission
from domain.history.batch import PlatformBatch, batch_id_for, validate_batch_key
from domain.history.records import RecordKind
from domain.shared import DomainError
from domain.subscribers.periods import PeriodWindow, Span

_DIGESTED = PlatformBatch.ContentDigested.TOPIC  # type: ignore[attr-defined]
_RECORDS_ADDED = PlatformBatch.RecordsAdded.TOPIC  # type: ignore[attr-defined]
_ID = 1  # a row's sourceRecordId: every kind's columns start msisdn, source_record_id
_CHUNKS_MAX = 1_000_000  # more events than any batch has

HISTORY_PROJECTION = "history"
USAGE_PROJECTION = "history_usage"


# Saves of one batch that may find their records taken by concurrent batches, each time
# dropping those, before the batch is refused as BUSY (each attempt stores nothing).
SAVE_ATTEMPTS = 8


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicate: bool  # this batch id with this content was stored before
    position: int | None
    errors: list[RecordError] = field(default_factory=list)
    error_count: int = 0
    # Records not stored because a batch (an earlier one, or this one before) stored them.
    duplicate_records: int = 0


class HistoryReadModel(Protocol):
    """The history read models; `spans` are the record times a read may cover (None: all)."""

    def page(
        self,
        kind: RecordKind,
        msisdn: str,
        spans: Sequence[Span] | None,
        after: tuple[str, int, int] | None,
        limit: int,
        channel: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def usage_counts(
        self, msisdn: str, first_day: date, last_day: date, spans: Sequence[Span] | None
    ) -> dict[str, int]: ...

    def points(self, msisdns: Sequence[str]) -> dict[str, tuple[int, int]]: ...

    def points_within(self, msisdn: str, spans: Sequence[Span]) -> tuple[int, int] | None: ...


class HistoryService:
    def __init__(
        self,
        feed: Application[UUID],
        feed_log: EventLog,
        read_model: HistoryReadModel,
        waiter: ReadModelWaiter,
        record_keys: RecordKeyIndex,
        max_records: int = 100_000,
    ) -> None:
        self.feed = feed
        self.feed_log = feed_log
        self.read_model = read_model
        self.waiter = waiter
        self.record_keys = record_keys
        self.max_records = max_records

    # ------------------------------------------------------------------ ingestion
    def authorize_ingest(self, principal: Principal) -> None:
        principal.require(Permission.INGEST_RECORDS)

    def new_validator(self, kind: RecordKind) -> BatchValidator:
        return BatchValidator(kind)

    def ingest(
        self,
        principal: Principal,
        *,
        source: str,
        batch_id: str,
        validator: BatchValidator,
    ) -> IngestResult:
        """Store a validated batch's new records once. Any invalid record rejects the whole
        batch; records stored before (by any batch of the same source and kind) are counted,
        not stored; a batch id stored before answers `duplicate` for the same content and
        BATCH_ID_REUSED for any other."""
        principal.require(Permission.INGEST_RECORDS)
        validate_batch_key(source, batch_id)
        existing = self._stored_position(source, batch_id)
        if existing is not None:
            return self._sent_again(source, batch_id, validator, existing)
        if not validator.valid:
            return IngestResult(
                accepted=0,
                duplicate=False,
                position=None,
                errors=list(validator.errors),
                error_count=validator.error_count,
            )
        if validator.count == 0:
            raise DomainError(
                "a batch needs at least one record", code="EMPTY_BATCH", field=["records"]
            )
        if validator.count > self.max_records:
            raise DomainError(
                f"a batch may hold at most {self.max_records} records",
                code="BATCH_TOO_LARGE",
                field=["records"],
            )
        return self._store_new(principal, source, batch_id, validator)

    def _store_new(
        self, principal: Principal, source: str, batch_id: str, validator: BatchValidator
    ) -> IngestResult:
        """Save the batch with its record keys. The first save assumes every record is new
        (the common case costs no look-up); when the store finds a key taken it stores
        nothing, and the next save leaves out the records found stored."""
        kind, received = validator.kind, validator.count
        digest = content_digest(kind, validator.rows)
        rows = validator.rows
        for _ in range(SAVE_ATTEMPTS):
            batch = PlatformBatch.ingest(
                source=source,
                batch_id=batch_id,
                kind=kind,
                rows=rows,
                meta=principal.meta(),
                digest=digest,
                received=received,
            )
            keys = RecordKeys(source, kind.value, [row[_ID] for row in rows])
            try:
                position = save(self.feed, batch, record_keys=keys)
            except RecordsAlreadyStoredError:
                existing = self._stored_position(source, batch_id)
                if existing is not None:  # this very batch, sent twice at once
                    return self._sent_again(source, batch_id, validator, existing)
                known = self.record_keys.known(source, kind.value, keys.ids)
                rows = [row for row in rows if row[_ID] not in known]
                if not rows:
                    return IngestResult(
                        accepted=0, duplicate=False, position=None, duplicate_records=received
                    )
                continue
            except IntegrityError:
                # The batch id was stored concurrently, with records other than these.
                existing = self._stored_position(source, batch_id)
                return self._sent_again(source, batch_id, validator, existing)
            return IngestResult(
                accepted=len(rows),
                duplicate=False,
                position=position,
                duplicate_records=received - len(rows),
            )
        raise DomainError(
            "concurrent batches kept storing records of this one; send it again",
            code="BUSY",
        )

    def _sent_again(
        self, source: str, batch_id: str, validator: BatchValidator, position: int | None
    ) -> IngestResult:
        """A batch id stored before: the same content is a duplicate, anything else (other
        records, another kind, invalid records) a reused batch id; nothing is stored."""
        stored = self._stored_content(source, batch_id)
        if (
            validator.valid
            and validator.count
            and stored == (validator.kind, content_digest(validator.kind, validator.rows))
        ):
            return IngestResult(
                accepted=0, duplicate=True, position=position, duplicate_records=validator.count
            )
        raise DomainError(
            f"batchId {batch_id!r} of source {source!r} was stored before with other content;"
            " a new batch needs a new batchId",
            code="BATCH_ID_REUSED",
            field=["batchId"],
        )

    def _stored_content(self, source: str, batch_id: str) -> tuple[RecordKind, str] | None:
        """(kind, digest) of a stored batch. A batch stored before digests were recorded
        stored every record it got, so its rows give its digest."""
        stream = batch_id_for(source, batch_id)
        head = self.feed_log.stream(stream, 0, 2)
        if not head:
            return None
        kind = RecordKind(head[0].event.kind)
        digested = [r.event for r in head if r.topic == _DIGESTED]
        if digested:
            return kind, str(digested[0].digest)
        rows: list[Any] = []
        for recorded in self.feed_log.stream(stream, 0, _CHUNKS_MAX):
            if recorded.topic == _RECORDS_ADDED:
                rows += recorded.event.records
        return kind, content_digest(kind, rows)

    def ingest_records(
        self,
        principal: Principal,
        *,
        source: str,
        batch_id: str,
        kind: RecordKind,
        records: Sequence[Any],
    ) -> IngestResult:
        principal.require(Permission.INGEST_RECORDS)
        if len(records) > self.max_records:
            raise DomainError(
                f"a batch may hold at most {self.max_records} records",
                code="BATCH_TOO_LARGE",
                field=["records"],
            )
        validator = BatchValidator(kind)
        validator.add_all(records)
        return self.ingest(principal, source=source, batch_id=batch_id, validator=validator)

    def _stored_position(self, source: str, batch_id: str) -> int | None:
        return self.feed_log.last_position(batch_id_for(source, batch_id))

    # ------------------------------------------------------------------ queries
    async def wait_for_records(self, consistent_with: int | None) -> None:
        """Before `records`: until the history read model has applied the feed position."""
        await wait_until_applied(self.waiter, [HISTORY_PROJECTION], consistent_with)

    async def wait_for_usage_counts(
        self,
        first_day: date,
        last_day: date,
        consistent_with: int | None,
        window: PeriodWindow,
    ) -> None:
        """Before `usage_counts`: a bad range is refused at once, else wait until the daily
        counts (and, where a period boundary cuts a day, the records) have applied the feed
        position."""
        _check_range(first_day, last_day)
        projections = [USAGE_PROJECTION]
        if not window.everything:
            projections.append(HISTORY_PROJECTION)
        await wait_until_applied(self.waiter, projections, consistent_with)

    def records(
        self,
        kind: RecordKind,
        msisdn: str,
        start: datetime | None,
        end: datetime | None,
        after: tuple[str, int, int] | None,
        limit: int,
        channel: str | None = None,
        *,
        window: PeriodWindow,
    ) -> list[dict[str, Any]]:
        """One page, newest first, of the records in [start, end) within the window. The
        caller already resolved (and authorised) the subscriber and its window."""
        spans = window.clip(start, end)
        if spans == ():
            return []
        return self.read_model.page(kind, msisdn, spans, after, limit, channel)

    def usage_counts(
        self, msisdn: str, first_day: date, last_day: date, *, window: PeriodWindow
    ) -> dict[str, int]:
        _check_range(first_day, last_day)
        return self.read_model.usage_counts(msisdn, first_day, last_day, window.spans)

    def points(self, msisdn: str, *, window: PeriodWindow) -> tuple[int, int]:
        """(balance, level) from the subscriber's latest points record within the window;
        (0, 0) when none."""
        if window.spans is None:
            return self.read_model.points([msisdn]).get(msisdn, (0, 0))
        return self.read_model.points_within(msisdn, window.spans) or (0, 0)


def _check_range(first_day: date, last_day: date) -> None:
    if last_day < first_day:
        raise DomainError("`to` must not be before `from`", code="INVALID_RANGE", field=["to"])
    if (last_day - first_day).days > 3660:
        raise DomainError(
            "the range may span at most ten years", code="INVALID_RANGE", field=["to"]
        )
