"""How feed event states are stored: eventsourcing's JSON, compressed with zlib at level 1.

A platform batch is megabytes of JSON rows: its chunks of rows are written by orjson (in C,
far cheaper than the json module's encoder) in eventsourcing's own format, which its
transcoder reads back unchanged. Compressed in the client, a batch reaches PostgreSQL at a
fraction of the size, so the insert, the WAL and the projection's read all move less, and the
server spends no CPU on pglz (the column is STORAGE EXTERNAL: PostgreSQL stores the bytes as
they come).

States stored before compression was switched on are plain JSON and are read as they are: a
JSON object starts with `{`, a zlib stream never does (its first byte is 0x78).
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from eventsourcing.persistence import Compressor, JSONTranscoder

LEVEL = 1  # zlib's fastest: most of level 6's ratio on these rows at a fraction of the CPU


def plain_state(data: bytes) -> bytes:
    """The JSON of a stored feed state, compressed or not."""
    return data if data[:1] == b"{" else zlib.decompress(data)


class FeedCompressor(Compressor):
    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data, LEVEL)

    def decompress(self, data: bytes) -> bytes:
        return plain_state(data)


class FeedTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder; a chunk of records is written by orjson.

    Only a state of exactly a chunk's fields takes that path: its rows are plain values
    (validated strings, integers, booleans and nulls) and its timestamp goes through the
    registered transcodings as usual (OPT_PASSTHROUGH_DATETIME hands it to `_encode_obj`).
    Any other state, where orjson and the json module could differ (orjson writes a UUID as a
    plain string, where the json module calls the UUID transcoding), uses the json module.
    """

    CHUNK_FIELDS = frozenset({"timestamp", "kind", "columns", "offset", "records"})

    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, dict) and obj.keys() == self.CHUNK_FIELDS:
            return orjson.dumps(
                obj, default=self._encode_obj, option=orjson.OPT_PASSTHROUGH_DATETIME
            )
        return super().encode(obj)
