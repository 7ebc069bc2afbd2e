"""What a read model is: a name, the store it follows, its tables, and a pure batch handler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from eventsourcing.persistence import Mapper, StoredEvent
from psycopg import Cursor


@dataclass(frozen=True)
class RecordedEvent:
    """One decoded event with its global position in its store."""

    position: int
    event: Any
    #: the stored row as written (projections with `raw = True` get this and event=None)
    stored: StoredEvent | None = None
    #: the store's way back from stored bytes to the event's JSON (see `document`)
    plain_state: Callable[[bytes], bytes] | None = None

    def document(self) -> bytes:
        """The raw event's state as JSON, decrypted and decompressed as its store wrote it."""
        if self.stored is None:
            raise ValueError("only raw projections receive stored events")
        state = self.stored.state
        return state if self.plain_state is None else self.plain_state(state)


class Projection:
    """Base class for a read model.

    Tables live in a per-generation schema (`proj_<name>_g<N>`) and are exposed to queries as
    views in the `rm` schema, so a rebuild can fill fresh tables while the old ones serve and
    then swap the views in one transaction. `apply` must be a pure function of the events and
    its own tables: no clocks, no I/O besides the cursor it is given.

    `version` says what the tables hold. Bump it when `create_tables` or `apply` changes what
    the tables hold (DDL, collations, indexes queries rely on, what is written from which
    event); the registry records the version of the generation that serves, and a projection
    whose registered version is older than its code is rebuilt blue/green into a new
    generation by the projection runner's leader (or `spoa projections rebuild NAME`) while the
    old generation keeps serving. Until that swap the live runner keeps applying the new code
    to the previous version's tables, so `apply` should keep working on them (where it cannot,
    the projection only lags until the swap). A new projection starts at version 1.
    """

    name: ClassVar[str]
    store: ClassVar[str] = "core"  # "core" or "feed"
    #: event TOPICs the projection handles; others are skipped without decoding
    topics: ClassVar[frozenset[str]] = frozenset()
    #: tables exposed as views rm.<table>
    tables: ClassVar[tuple[str, ...]] = ()
    #: events per page, when the store's events are large (feed batches); None: the default
    page_size: ClassVar[int | None] = None
    #: receive stored rows undecoded (RecordedEvent.stored), e.g. to hash the bytes as written
    raw: ClassVar[bool] = False
    #: what the tables hold: bump it when create_tables or apply changes what the tables hold
    version: ClassVar[int] = 1
    #: tables the application's database role may only read and append to (`guarded`): the
    #: schema owner owns every generation of such a projection, so a stolen application
    #: password cannot rewrite them; the other tables of it may also be updated, never deleted
    append_only: ClassVar[tuple[str, ...]] = ()

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        raise NotImplementedError  # each read model defines its DDL

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        raise NotImplementedError  # each read model defines its handlers


@dataclass(frozen=True)
class StoreSource:
    """Where a store's events are and how to decode them."""

    table: str
    mapper: Mapper[Any]

    def plain_state(self, state: bytes) -> bytes:
        """A stored state as the transcoder wrote it: decrypted, then decompressed."""
        if self.mapper.cipher is not None:
            state = self.mapper.cipher.decrypt(state)
        if self.mapper.compressor is not None:
            state = self.mapper.compressor.decompress(state)
        return state
