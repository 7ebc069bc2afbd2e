"""The statistics' own decoder reads exactly what eventsourcing's mapper would, or uses it."""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any

from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings

from projections.runtime.codec import EventMapper
from projections.statistics.decode import Fact, StatisticsDecoder, default_mapper
from projections.statistics.proxy import PROXY_TOPICS, REGISTRATIONS, fold_proxy
from projections.statistics.tickets import TICKET_TOPICS, fold_tickets
from tests.statistics_helpers import steps
from tests.unit.test_statistics_folds import run_world

MAPPER = default_mapper()
WANTED = PROXY_TOPICS | TICKET_TOPICS
SUBMITTED, ANSWERED, RESUBMITTED = (
    "spoa.support:Ticket.TicketSubmitted",
    "spoa.support:Ticket.TicketAnswered",
    "spoa.support:Ticket.TicketResubmitted",
)


def fields(e: Any) -> dict[str, Any]:
    """What the folds read of an event, whichever decoder made it."""
    topic = e.TOPIC
    out: dict[str, Any] = {"topic": topic, "id": e.originator_id, "v": e.originator_version}
    if topic in PROXY_TOPICS:
        out.update(timestamp=e.timestamp, meta=e.meta)
        if topic in REGISTRATIONS:
            out["province"] = e.province
    else:
        out["at"] = e.at
        if topic == SUBMITTED:
            out.update(province=e.province, category=e.category, due_at=e.due_at)
        if topic == RESUBMITTED:
            out["due_at"] = e.due_at
        if topic == ANSWERED:
            out["used"] = e.sla_used_seconds
    return out


@settings(max_examples=60)
@given(history=steps(60))
def test_the_fast_decoder_reads_what_the_mapper_reads(history: list[Any]) -> None:
    _, events = run_world(history)
    stored = [MAPPER.to_stored_event(e) for e in events if e.TOPIC in WANTED]
    decode = StatisticsDecoder()
    fast = [decode(s) for s in stored]
    slow = [MAPPER.to_domain_event(s) for s in stored]
    assert all(isinstance(f, Fact) for f in fast)
    assert [fields(f) for f in fast] == [fields(e) for e in slow]
    # and the folds count the same from either
    assert counted(fast) == counted(slow)


def counted(decoded: list[Any]) -> tuple[Any, ...]:
    proxy: Counter[Any] = Counter()
    fold_proxy([e for e in decoded if e.TOPIC in PROXY_TOPICS], {}, proxy)
    tickets: Counter[Any] = Counter()
    answers: list[Any] = []
    fold_tickets([e for e in decoded if e.TOPIC in TICKET_TOPICS], {}, tickets, answers)
    return proxy, +tickets, answers


def _one_event() -> Any:
    _, events = run_world([("sub", 0, "register", 0, 0, 0)])
    return events[0]


def test_stored_events_that_are_not_plain_json_go_through_the_mapper() -> None:
    compressed = EventMapper(transcoder=MAPPER.transcoder, compressor=ZlibCompressor())
    event = _one_event()
    stored = compressed.to_stored_event(event)
    assert zlib.decompress(stored.state).startswith(b"{")
    decoded = StatisticsDecoder(compressed)(stored)
    assert not isinstance(decoded, Fact)
    assert decoded.province == "GD" and decoded.timestamp == event.timestamp


def test_an_unexpected_field_shape_goes_through_the_mapper() -> None:
    event = _one_event()
    stored = MAPPER.to_stored_event(event)
    odd = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state.replace(b'"province":"GD"', b'"province":["GD"]'),
    )
    decoded = StatisticsDecoder()(odd)
    assert not isinstance(decoded, Fact)
    assert decoded.province == ["GD"]  # the mapper's reading, for the projection to judge


def test_versioned_states_go_through_the_mapper() -> None:
    """The mapper upcasts versioned states; the fast decoder never reads one itself."""
    decoder = StatisticsDecoder()
    stored = MAPPER.to_stored_event(_one_event())
    versioned = StoredEvent(
        stored.originator_id,
        stored.originator_version,
        stored.topic,
        stored.state.replace(b"{", b'{"class_version":2,', 1),
    )
    assert isinstance(decoder(stored), Fact)
    decoded = decoder(versioned)
    assert not isinstance(decoded, Fact) and decoded.province == "GD"
