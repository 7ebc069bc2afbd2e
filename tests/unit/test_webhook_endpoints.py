"""Given events / when a command / then events (or an error code and nothing stored): webhook
endpoints and redelivery requests on an in-memory core store, and a state machine that checks
replay against the live endpoint after every step."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from application.audit.service import to_entry
from application.ports import RecordedEvent
from application.webhooks.deliveries import WebhookDeliveryService
from application.webhooks.endpoints import EndpointInput, WebhookEndpointService
from domain.audit.redaction import REDACTED
from domain.shared import DomainError, PermissionDeniedError
from domain.webhooks.endpoint import WebhookEndpoint
from domain.webhooks.rules import AllowedHosts
from tests.memory_store import FakeClock, memory_store, refused, stored
from tests.subscriber_helpers import PRINCIPALS

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ADMIN = PRINCIPALS["admin"]
HOOK = EndpointInput("https://boss.example/hooks", ["Subscriber.*"], "BOSS")


class FakeCipher:
    def encrypt(self, secret: str) -> str:
        return "enc:" + secret[::-1]

    def decrypt(self, ciphertext: str) -> str:
        return ciphertext.removeprefix("enc:")[::-1]


class FakeDeliveries:
    """The read model's delivery rows, as the tests set them."""

    def __init__(self) -> None:
        self.rows: dict[UUID, dict[str, Any]] = {}

    def add(self, endpoint_id: UUID, status: str, position: int = 7) -> UUID:
        delivery_id = uuid4()
        self.rows[delivery_id] = {
            "id": delivery_id, "endpoint_id": endpoint_id, "position": position,
            "event_type": "Subscriber.PlanChanged", "status": status, "attempts": 3,
            "last_status_code": 500, "last_error": "down", "last_attempt_at": T0,
            "next_attempt_at": None, "delivered_at": None, "endpoint_url": HOOK.url,
            "endpoint_event_types": ["Subscriber.*"], "endpoint_description": "BOSS",
            "endpoint_enabled": True, "endpoint_created_at": T0,
        }  # fmt: skip
        return delivery_id

    def delivery(self, delivery_id: UUID) -> dict[str, Any] | None:
        return self.rows.get(delivery_id)

    def endpoints(self) -> list[dict[str, Any]]:
        return []


class World:
    def __init__(self) -> None:
        self.store = memory_store()
        self.clock = FakeClock(T0)
        self.rows = FakeDeliveries()
        self.hooks = WebhookEndpointService(
            self.store, FakeCipher(), self.clock, self.rows,  # type: ignore[arg-type]
            waiter=None,  # type: ignore[arg-type]
            allowed_hosts=AllowedHosts(),
        )  # fmt: skip
        self.deliveries = WebhookDeliveryService(
            self.store,
            self.clock,
            self.rows,
            None,  # type: ignore[arg-type]
        )

    def endpoint(self, endpoint_id: UUID) -> WebhookEndpoint:
        found: WebhookEndpoint = self.store.repository.get(endpoint_id)
        return found

    def events(self, endpoint_id: UUID) -> list[Any]:
        return list(self.store.events.get(endpoint_id))


@pytest.fixture
def w() -> World:
    return World()


def test_create_returns_the_secret_once_and_stores_only_its_ciphertext(w: World) -> None:
    result = w.hooks.create(ADMIN, HOOK)
    assert result.secret is not None and result.secret.startswith("whsec_")
    assert len(base64.b64decode(result.secret.removeprefix("whsec_"))) == 32
    assert result.position > 0
    (created,) = w.events(result.endpoint.id)
    assert type(created).__name__ == "EndpointCreated"
    assert created.secret_ciphertext == FakeCipher().encrypt(result.secret)
    stored_bytes = b"".join(
        n.state for n in w.store.recorder.select_notifications(start=1, limit=100)
    )
    assert result.secret.encode() not in stored_bytes
    assert created.meta.actor.username == "admin"
    assert result.endpoint.enabled and result.endpoint.event_types == ["Subscriber.*"]


def test_audit_output_redacts_the_ciphertext(w: World) -> None:
    result = w.hooks.create(ADMIN, HOOK)
    w.hooks.rotate_secret(ADMIN, result.endpoint.id)
    for event in w.events(result.endpoint.id):
        entry = to_entry(RecordedEvent(1, type(event).TOPIC, event), "x")
        for key, value in entry.data.items():
            if key.endswith("ciphertext"):
                assert value == REDACTED


@pytest.mark.parametrize("role", ["second", "gd.agent", "viewer", "auditor", "platform"])
def test_only_super_admin_manages_endpoints(w: World, role: str) -> None:
    endpoint = w.hooks.create(ADMIN, HOOK).endpoint.id
    caller = PRINCIPALS[role]
    before = stored(w.store)
    for attempt in (
        lambda: w.hooks.create(caller, HOOK),
        lambda: w.hooks.update(caller, endpoint, EndpointInput(HOOK.url, ["Ticket.*"])),
        lambda: w.hooks.disable(caller, endpoint),
        lambda: w.hooks.enable(caller, endpoint),
        lambda: w.hooks.rotate_secret(caller, endpoint),
    ):
        with pytest.raises(PermissionDeniedError):
            attempt()
    assert stored(w.store) == before


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (EndpointInput("ftp://boss.example/x", ["Subscriber.*"]), "INVALID_URL_SCHEME"),
        (EndpointInput("https://u:p@boss.example/x", ["Subscriber.*"]), "URL_HAS_CREDENTIALS"),
        (EndpointInput(HOOK.url, ["Subscriber.Nope"]), "UNKNOWN_EVENT_TYPE"),
        (EndpointInput(HOOK.url, []), "EVENT_TYPES_REQUIRED"),
    ],
)
def test_bad_input_is_a_user_error_and_stores_nothing(
    w: World, data: EndpointInput, code: str
) -> None:
    refused(w.store, code, lambda: w.hooks.create(ADMIN, data))
    endpoint = w.hooks.create(ADMIN, HOOK).endpoint.id
    refused(w.store, code, lambda: w.hooks.update(ADMIN, endpoint, data))


def test_a_host_outside_the_allowed_hosts_is_refused(w: World) -> None:
    w.hooks.allowed_hosts = AllowedHosts.parse("*.operator.example")
    refused(w.store, "HOST_NOT_ALLOWED", lambda: w.hooks.create(ADMIN, HOOK))
    inside = EndpointInput("https://boss.operator.example/x", ["Subscriber.*"])
    assert w.hooks.create(ADMIN, inside).endpoint.url == inside.url


def test_update_records_before_and_after(w: World) -> None:
    endpoint = w.hooks.create(ADMIN, HOOK).endpoint.id
    new = EndpointInput("https://boss.example/v2", ["Ticket.TicketAnswered"], None)
    result = w.hooks.update(ADMIN, endpoint, new)
    assert result.secret is None
    updated = w.events(endpoint)[-1]
    assert (updated.previous_url, updated.url) == (HOOK.url, new.url)
    assert (updated.previous_event_types, updated.event_types) == (
        ["Subscriber.*"],
        ["Ticket.TicketAnswered"],
    )
    assert (updated.previous_description, updated.description) == ("BOSS", None)
    refused(w.store, "NO_CHANGE", lambda: w.hooks.update(ADMIN, endpoint, new))


def test_disable_and_enable_each_need_the_other_state(w: World) -> None:
    endpoint = w.hooks.create(ADMIN, HOOK).endpoint.id
    refused(w.store, "ALREADY_ENABLED", lambda: w.hooks.enable(ADMIN, endpoint))
    assert not w.hooks.disable(ADMIN, endpoint).endpoint.enabled
    refused(w.store, "ALREADY_DISABLED", lambda: w.hooks.disable(ADMIN, endpoint))
    assert w.hooks.enable(ADMIN, endpoint).endpoint.enabled
    refused(w.store, "NOT_FOUND", lambda: w.hooks.disable(ADMIN, uuid4()))


def test_rotation_keeps_the_previous_ciphertext_for_the_grace(w: World) -> None:
    created = w.hooks.create(ADMIN, HOOK)
    w.clock.advance(minutes=5)
    rotated = w.hooks.rotate_secret(ADMIN, created.endpoint.id)
    assert rotated.secret and rotated.secret != created.secret
    endpoint = w.endpoint(created.endpoint.id)
    cipher = FakeCipher()
    assert cipher.decrypt(endpoint.secret_ciphertext) == rotated.secret
    assert cipher.decrypt(endpoint.previous_secret_ciphertext or "") == created.secret
    assert endpoint.rotated_at == w.clock.current


def test_redelivery_of_a_failed_or_dead_delivery_is_an_event(w: World) -> None:
    endpoint = w.hooks.create(ADMIN, HOOK).endpoint.id
    for status in ("FAILED", "DEAD"):
        delivery = w.rows.add(endpoint, status)
        result = w.deliveries.redeliver(PRINCIPALS["second"], delivery)
        assert result.delivery.status == "PENDING" and result.position > 0
        event = w.events(endpoint)[-1]
        assert type(event).__name__ == "RedeliveryRequested"
        assert (event.delivery_id, event.event_position) == (str(delivery), 7)
        assert (event.previous_status, event.status) == (status, "PENDING")
        assert event.meta.actor.username == "second"


@pytest.mark.parametrize("status", ["PENDING", "DELIVERED"])
def test_only_failed_or_dead_deliveries_are_sent_again(w: World, status: str) -> None:
    delivery = w.rows.add(w.hooks.create(ADMIN, HOOK).endpoint.id, status)
    refused(w.store, "NOT_REDELIVERABLE", lambda: w.deliveries.redeliver(ADMIN, delivery))
    refused(w.store, "NOT_FOUND", lambda: w.deliveries.redeliver(ADMIN, uuid4()))


@pytest.mark.parametrize("role", ["gd.agent", "viewer", "auditor", "platform"])
def test_redelivery_is_for_super_admin_and_second_line(w: World, role: str) -> None:
    delivery = w.rows.add(w.hooks.create(ADMIN, HOOK).endpoint.id, "DEAD")
    before = stored(w.store)
    with pytest.raises(PermissionDeniedError):
        w.deliveries.redeliver(PRINCIPALS[role], delivery)
    assert stored(w.store) == before


# ---------------------------------------------------------------- state machine
URLS = st.sampled_from(["https://a.example/h", "https://b.example/h", "http://10.0.0.9:81/"])
TYPES = st.lists(
    st.sampled_from(["Subscriber.*", "Subscriber.PlanChanged", "Ticket.*", "Faq.FaqCreated"]),
    min_size=1,
    max_size=3,
)


class EndpointMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.w = World()
        self.id = self.w.hooks.create(ADMIN, HOOK).endpoint.id
        self.model: dict[str, Any] = {"url": HOOK.url, "types": ["Subscriber.*"], "on": True}

    def _try(self, command: Any, expected: str | None) -> None:
        before = stored(self.w.store)
        try:
            command()
        except DomainError as exc:
            assert exc.code == expected, exc.message
            assert stored(self.w.store) == before
            return
        assert expected is None

    @rule(url=URLS, types=TYPES)
    def update(self, url: str, types: list[str]) -> None:
        cleaned = list(dict.fromkeys(types))
        same = (url, cleaned) == (self.model["url"], self.model["types"])
        data = EndpointInput(url, types, "BOSS")
        self._try(lambda: self.w.hooks.update(ADMIN, self.id, data), "NO_CHANGE" if same else None)
        self.model.update(url=url, types=cleaned)

    @rule()
    def disable(self) -> None:
        on = self.model["on"]
        self._try(lambda: self.w.hooks.disable(ADMIN, self.id), None if on else "ALREADY_DISABLED")
        self.model["on"] = False

    @rule()
    def enable(self) -> None:
        on = self.model["on"]
        self._try(lambda: self.w.hooks.enable(ADMIN, self.id), "ALREADY_ENABLED" if on else None)
        self.model["on"] = True

    @rule()
    def rotate(self) -> None:
        self.w.clock.advance(seconds=1)
        self._try(lambda: self.w.hooks.rotate_secret(ADMIN, self.id), None)

    @invariant()
    def replay_gives_the_live_endpoint(self) -> None:
        live = self.w.endpoint(self.id)
        replayed = None
        for event in self.w.events(self.id):
            replayed = event.mutate(replayed)
        assert replayed is not None and vars(replayed) == vars(live)
        assert (live.url, live.event_types, live.enabled) == (
            self.model["url"],
            self.model["types"],
            self.model["on"],
        )


EndpointMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=15, deadline=None)
TestEndpointMachine = EndpointMachine.TestCase
