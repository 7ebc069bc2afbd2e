"""What the history use cases need from the feed store beyond saving events: record keys.

A record is identified by (source, kind, sourceRecordId) across batches. The feed store
writes the keys of a batch's records in the same transaction as the batch's events, and
refuses the whole save when one of them was stored before (by an earlier or a concurrent
batch), so a record is stored once however batches race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RecordKeys:
    """The keys of the records a save stores; given to the store's save as `record_keys`."""

    source: str
    kind: str
    ids: Sequence[str]  # sourceRecordIds, each once


class RecordsAlreadyStoredError(Exception):
    """A save found one of its record keys taken: it stored nothing."""


class RecordKeyIndex(Protocol):
    def known(self, source: str, kind: str, ids: Sequence[str]) -> set[str]:
        """Those of the ids stored before for (source, kind): one set-based query."""
        ...
