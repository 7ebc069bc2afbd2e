"""Feed event states: orjson writes chunks byte for byte as eventsourcing's transcoder does,
and compressed states (and plain ones stored before compression) read back the same."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.history.batch import PlatformBatch
from domain.history.records import RecordKind
from domain.shared import SYSTEM_ACTOR, ChangeMeta
from infra.feed_codec import FeedCompressor, plain_state
from infra.stores import FeedStore
from projections.runtime.codec import EventMapper

feed = FeedStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
# eventsourcing's own transcoder, with the stores' mapper (event metadata as a plain dict)
standard = EventMapper(
    Application[Any](env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper.transcoder
)

VALUES = st.one_of(
    st.text(),
    st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
    st.booleans(),
    st.none(),
)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(VALUES, min_size=1, max_size=6), min_size=1, max_size=5))
def test_feed_states_are_eventsourcing_json_byte_for_byte(rows: list[list[Any]]) -> None:
    batch = PlatformBatch.ingest(
        source="gw",
        batch_id="b1",
        kind=RecordKind.SMS,
        rows=rows,
        meta=ChangeMeta(SYSTEM_ACTOR),
        digest="d",
        received=len(rows) + 1,
    )
    for event in batch.collect_events():
        ours = feed.mapper.to_stored_event(event)
        theirs = standard.to_stored_event(event)
        assert plain_state(ours.state) == theirs.state
        assert feed.mapper.to_domain_event(ours).__dict__ == event.__dict__


def test_plain_json_states_read_as_they_are() -> None:
    state = b'{"a":1}'
    assert plain_state(state) == state
    assert FeedCompressor().decompress(FeedCompressor().compress(state)) == state
    assert FeedCompressor().compress(state)[:1] == b"\x78"
