"""Ports of the knowledge context: the document bytes store and what the orphan sweep needs."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class StoredDocument:
    sha256: str
    size_bytes: int
    content_type: str
    filename: str


class DocumentStore(Protocol):
    """Content-addressed document bytes, shared by every API replica."""

    def put(
        self, sha256: str, content_type: str, filename: str, size: int, stream: BinaryIO
    ) -> bool:
        """Store the bytes unless that content is stored already; True when stored now."""
        ...

    def info(self, sha256: str) -> StoredDocument | None: ...

    def chunks(self, sha256: str) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class UnclaimedDocument:
    """Stored document content that no upload has claimed since the cutoff."""

    sha256: str
    size_bytes: int
    filename: str
    stored_at: datetime
    claimed_at: datetime


class SweepableDocuments(Protocol):
    """The stored bytes, as the sweep sees them."""

    def unclaimed_since(self, grace: timedelta) -> tuple[datetime, list[UnclaimedDocument]]:
        """The store's clock minus `grace` (the cutoff), and the content last claimed (stored,
        or found stored by an upload) before it."""
        ...

    def delete_unclaimed(self, sha256: str, cutoff: datetime) -> bool:
        """Delete the content unless an upload has claimed it at or after `cutoff` or is
        claiming it now (checked under the row lock). True when deleted."""
        ...


class DocumentReferences(Protocol):
    """Which content some stored event refers to, history included."""

    def referenced(self, sha256s: Collection[str]) -> set[str]: ...


@dataclass(frozen=True)
class SweepReport:
    """What a sweep removed (or, with `dry_run`, would remove)."""

    dry_run: bool
    cutoff: datetime
    checked: int  # content unclaimed since the cutoff
    referenced: int  # of those, referred to by some stored event
    removed: tuple[UnclaimedDocument, ...]

    @property
    def bytes_freed(self) -> int:
        return sum(d.size_bytes for d in self.removed)
