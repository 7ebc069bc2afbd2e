"""Event metadata is a ChangeMeta in memory and, stored, the same JSON bytes as ever: events
stored before (with partial metadata or none) decode, and new ones hash and export alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from application.audit.service import to_entry
from application.ports import RecordedEvent
from domain.history.batch import PlatformBatch
from domain.history.records import RecordKind
from domain.shared import SYSTEM_ACTOR, Actor, ChangeMeta
from domain.subscribers.subscriber import Subscriber, subscriber_id_for
from infra.feed_codec import plain_state
from infra.stores import CoreStore, FeedStore
from projections.statistics.decode import Fact, StatisticsDecoder
from projections.statistics.proxy import staff_operator

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
CORE = CoreStore(env=POPO).mapper
FEED = FeedStore(env=POPO).mapper
AT = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
AGENT = Actor(
    account_id="0d6e1c1e-4a57-5d7b-9a0e-6f2f6c1d7a11",
    username="gd.agent",
    role="PROVINCE_AGENT",
    province="GD",
)
META = ChangeMeta(
    AGENT,
    correlation_id="req-42",
    reason='客户来电 "urgent"',
    ticket_id="5f1d2b8e-9c3a-4e6f-8b7d-2a1c0e9f4d3b",
)
REGISTERED = "spoa.subscribers:Subscriber.MailboxRegistered"
MSISDN = "13800138000"

# Captured from the stores' encoding while events still carried `meta` as a dict.
DATETIME = '{"_type_":"datetime_iso","_data_":"2024-05-06T07:08:09.123456+00:00"}'
REGISTERED_STATE = (
    '{"timestamp":' + DATETIME + ',"originator_topic":"spoa.subscribers:Subscriber",'
    '"msisdn":"13800138000","province":"GD","plan_code":"FREE","at":' + DATETIME + ","
    '"meta":{"actor":{"account_id":"0d6e1c1e-4a57-5d7b-9a0e-6f2f6c1d7a11",'
    '"username":"gd.agent","role":"PROVINCE_AGENT","province":"GD"},'
    '"correlation_id":"req-42","reason":"客户来电 \\"urgent\\"",'
    '"ticket_id":"5f1d2b8e-9c3a-4e6f-8b7d-2a1c0e9f4d3b"}}'
).encode()
BATCH_STATE = (
    '{"timestamp":' + DATETIME + ',"originator_topic":"spoa.history:PlatformBatch",'
    '"source":"gw","batch_id":"b1","kind":"SMS","columns":["msisdn","source_record_id",'
    '"occurred_at","direction","peer","status","fee_fen","category","size_bytes"],'
    '"record_count":0,"meta":{"actor":{"account_id":"","username":"system","role":"SYSTEM",'
    '"province":null},"correlation_id":null,"reason":null,"ticket_id":null}}'
).encode()


def registered(meta: ChangeMeta) -> Any:
    subscriber = Subscriber.register(
        msisdn=MSISDN, province="GD", plan_code="FREE", at=AT, meta=meta
    )
    (event,) = subscriber.collect_events()
    object.__setattr__(event, "timestamp", AT)  # a fixed time, for fixed bytes
    return event


def stored_registration(meta_json: str | None) -> StoredEvent:
    """A MailboxRegistered as an older release may have stored it (meta_json None: no key)."""
    meta = "" if meta_json is None else ',"meta":' + meta_json
    state = (
        '{"timestamp":' + DATETIME + ',"originator_topic":"spoa.subscribers:Subscriber",'
        '"msisdn":"13800138000","province":"GD","plan_code":"FREE","at":' + DATETIME + meta + "}"
    )
    return StoredEvent(subscriber_id_for(MSISDN), 1, REGISTERED, state.encode())


def test_a_core_event_stores_the_same_bytes_as_its_dict_metadata_did() -> None:
    event = registered(META)
    assert isinstance(event.meta, ChangeMeta)
    stored = CORE.to_stored_event(event)
    assert stored.state == REGISTERED_STATE
    assert event.meta is META  # encoding leaves the event as it was


def test_a_feed_event_stores_the_same_bytes_as_its_dict_metadata_did() -> None:
    batch = PlatformBatch.ingest(
        source="gw",
        batch_id="b1",
        kind=RecordKind.SMS,
        rows=[],
        meta=ChangeMeta(SYSTEM_ACTOR),
        digest="d",
        received=0,
    )
    event, _digested = batch.collect_events()
    object.__setattr__(event, "timestamp", AT)
    stored = FEED.to_stored_event(event)
    assert plain_state(stored.state) == BATCH_STATE
    assert FEED.to_domain_event(stored).meta == ChangeMeta(SYSTEM_ACTOR)


def test_an_event_round_trips_with_its_change_meta() -> None:
    event = registered(META)
    decoded = CORE.to_domain_event(CORE.to_stored_event(event))
    assert decoded.meta == META and isinstance(decoded.meta.actor, Actor)
    assert vars(decoded) == vars(event)


TEXT = st.none() | st.text(max_size=20)


@given(
    actor=st.builds(Actor, st.text(max_size=20), st.text(max_size=20), st.text(max_size=20), TEXT),
    correlation_id=TEXT,
    reason=TEXT,
    ticket_id=TEXT,
)
def test_any_metadata_is_stored_as_its_dict_and_read_back(
    actor: Actor, correlation_id: str | None, reason: str | None, ticket_id: str | None
) -> None:
    meta = ChangeMeta(actor, correlation_id, reason, ticket_id)
    event = registered(meta)
    as_dict = registered(META)
    object.__setattr__(as_dict, "meta", meta.as_dict())
    plain = Mapper(transcoder=CORE.transcoder)  # eventsourcing's own mapper: no conversion
    assert CORE.to_stored_event(event).state == plain.to_stored_event(as_dict).state
    assert CORE.to_domain_event(CORE.to_stored_event(event)).meta == meta


def test_events_stored_with_partial_metadata_decode_with_empty_defaults() -> None:
    cases = {
        '{"actor":{"username":"test"}}': ChangeMeta(Actor("", "test", "", None)),
        '{"actor":null,"reason":"promoted"}': ChangeMeta(
            Actor("", "", "", None), reason="promoted"
        ),
        '{"actor":{"id":"x"},"ticket_id":"GD-20260301-0001"}': ChangeMeta(
            Actor("", "", "", None), ticket_id="GD-20260301-0001"
        ),
        "{}": ChangeMeta(Actor("", "", "", None)),
    }
    for stored_meta, expected in cases.items():
        event = CORE.to_domain_event(stored_registration(stored_meta))
        assert event.meta == expected, stored_meta
        assert event.province == "GD" and event.at == AT


def test_events_stored_without_metadata_still_decode() -> None:
    no_key = CORE.to_domain_event(stored_registration(None))
    assert "meta" not in vars(no_key) and no_key.msisdn == MSISDN
    null = CORE.to_domain_event(stored_registration("null"))
    assert null.meta is None
    batch = PlatformBatch.ingest(
        source="gw", batch_id="b2", kind=RecordKind.SMS, rows=[["x"]], meta=META, digest="d",
        received=1,
    )  # fmt: skip
    _, _, added = batch.collect_events()
    assert "meta" not in vars(added)  # a chunk of records carries none
    assert vars(FEED.to_domain_event(FEED.to_stored_event(added))) == vars(added)


def test_the_readers_see_old_metadata_as_they_did() -> None:
    """The audit trail and the statistics read partial or missing metadata as empty."""
    partial = CORE.to_domain_event(stored_registration('{"actor":{"username":"test"}}'))
    entry = to_entry(RecordedEvent(1, REGISTERED, partial), MSISDN)
    assert (entry.actor_id, entry.actor_username, entry.reason) == (None, "test", None)
    bare = to_entry(
        RecordedEvent(1, REGISTERED, CORE.to_domain_event(stored_registration(None))), ""
    )
    assert (bare.actor_id, bare.actor_username, bare.ticket_id) == (None, None, None)
    staff = '{"actor":{"username":"gd.agent","role":"PROVINCE_AGENT"},"reason":null}'
    decode = StatisticsDecoder(CORE)
    for stored_meta in (staff, '{"actor":null}', "{}"):
        stored = stored_registration(stored_meta)
        fast, slow = decode(stored), CORE.to_domain_event(stored)
        assert isinstance(fast, Fact) and fast.meta == slow.meta
        assert staff_operator(fast.meta) == ("gd.agent" if stored_meta == staff else None)
