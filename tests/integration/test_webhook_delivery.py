"""Webhook delivery against a real HTTP receiver, signatures checked by the standardwebhooks
verifier: delivered once, retried with the same webhook-id, Retry-After, FAILED, DEAD,
redelivery, disabled endpoints, new endpoints and secret rotation."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import WebhookVerificationError

from domain.webhooks.rules import AllowedHosts
from tests.webhook_receiver import Received, Reply
from tests.webhook_world import webhook_world

GD = "13800138000"


def test_an_event_is_delivered_once_signed_as_standard_webhooks_says(database_url: str) -> None:
    with webhook_world(database_url) as w:
        _, secret = w.endpoint()
        position = w.register(GD)
        delivery = w.wait_status(position, "DELIVERED")
        time.sleep(0.3)  # (nothing more comes)
        (request,) = w.receiver.requests()
    payload = request.verified(secret)
    assert payload == {
        "type": "Subscriber.MailboxRegistered",
        "timestamp": payload["data"]["occurredAt"],
        "data": {
            "position": position,
            "streamType": "Subscriber",
            "streamId": GD,
            "version": 1,
            "type": "MailboxRegistered",
            "occurredAt": payload["data"]["occurredAt"],
            "actor": {"username": "webhook-tests", "role": "SUPER_ADMIN", "province": None},
            "reason": None,
            "ticketId": None,
            "data": payload["data"]["data"],
        },
    }
    assert payload["data"]["data"]["msisdn"] == GD
    assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
    assert request.headers["content-type"] == "application/json"
    assert request.msg_id == f"msg_{delivery.id.hex}"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 30
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, None)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None


def test_secrets_are_redacted_in_the_body(database_url: str) -> None:
    with webhook_world(database_url) as w:
        _, secret = w.endpoint(("Subscriber.PasswordChanged",))
        w.register(GD)
        result = w.container.subscribers.change_password(w.admin, GD, "abc12345")
        w.wait_status(result.position, "DELIVERED")
        (request,) = w.receiver.requests()
    data = request.verified(secret)["data"]["data"]
    assert data["password_hash"] == "[REDACTED]"
    assert b"argon2" not in request.body


def test_a_500_then_a_200_is_retried_with_the_same_webhook_id(database_url: str) -> None:
    def respond(request: Received, index: int) -> Reply:
        return Reply(500, b"busy") if index == 0 else Reply(200)

    with webhook_world(database_url, respond) as w:
        _, secret = w.endpoint()
        delivery = w.wait_status(w.register(GD), "DELIVERED")
        first, second = w.receiver.requests()
    assert first.msg_id == second.msg_id == f"msg_{delivery.id.hex}"
    assert first.body == second.body
    assert second.verified(secret) == first.verified(secret)
    assert delivery.attempts == 2 and delivery.last_status_code == 200


def test_429_with_retry_after_is_honoured(database_url: str) -> None:
    def respond(request: Received, index: int) -> Reply:
        return Reply(429, headers=(("Retry-After", "1"),)) if index == 0 else Reply(204)

    with webhook_world(database_url, respond) as w:
        w.endpoint()
        w.wait_status(w.register(GD), "DELIVERED")
        first, second = w.receiver.requests()
    # The backoff alone would have waited 0.05 s.
    assert second.at - first.at >= 0.95


def test_a_400_is_failed_with_the_answer_body_and_not_tried_again(database_url: str) -> None:
    body = b'{"error": "unknown subscriber"}' + b"." * 600

    with webhook_world(database_url, lambda r, i: Reply(400, body)) as w:
        w.endpoint()
        delivery = w.wait_status(w.register(GD), "FAILED")
        time.sleep(0.4)
        assert len(w.receiver.requests()) == 1
    assert delivery.last_status_code == 400
    assert delivery.last_error == body[:500].decode()
    assert delivery.next_attempt_at is None


def test_after_the_last_attempt_a_delivery_is_dead_and_can_be_sent_again(
    database_url: str,
) -> None:
    healthy = threading.Event()

    def respond(request: Received, index: int) -> Reply:
        return Reply(200) if healthy.is_set() else Reply(503, b"maintenance")

    with webhook_world(database_url, respond, webhook_max_attempts=3) as w:
        endpoint, _ = w.endpoint()
        position = w.register(GD)
        dead = w.wait_status(position, "DEAD")
        assert len(w.receiver.requests()) == 3
        assert (dead.attempts, dead.last_status_code, dead.last_error) == (3, 503, "maintenance")
        healthy.set()
        result = w.container.webhook_deliveries.redeliver(w.admin, dead.id)
        assert result.delivery.status == "PENDING"
        delivered = w.wait_status(position, "DELIVERED")
        requests = w.receiver.requests()
        trail = w.container.audit.trail(w.admin, "WebhookEndpoint", str(endpoint), 0, 10)
    assert delivered.attempts == 4
    assert {r.msg_id for r in requests} == {f"msg_{dead.id.hex}"}
    assert [e.type for e in trail][-1] == "RedeliveryRequested"
    assert trail[-1].data["previous_status"] == "DEAD"


def test_a_connection_error_is_retried_with_its_error(database_url: str) -> None:
    with webhook_world(database_url) as w:
        w.endpoint(url="http://127.0.0.1:9/nothing-listens-here")
        position = w.register(GD)
        assert w.wait_for(lambda: w.attempts(position) >= 2)
        delivery = w.delivery_at(position)
    assert delivery.status == "PENDING"
    assert delivery.last_status_code is None and delivery.last_error
    assert delivery.next_attempt_at is not None


def test_a_disabled_endpoint_receives_nothing_committed_meanwhile(database_url: str) -> None:
    with webhook_world(database_url) as w:
        endpoint, _ = w.endpoint()
        w.container.webhook_endpoints.disable(w.admin, endpoint)
        while_disabled = w.register(GD)
        w.container.engine.catch_up("accounts")  # (time passes: the follower's polls)
        time.sleep(0.5)
        w.container.webhook_endpoints.enable(w.admin, endpoint)
        after = w.change_plan(GD, "PLUS_5")
        w.wait_status(after, "DELIVERED")
        time.sleep(0.3)
        received = [r.payload["data"]["position"] for r in w.receiver.requests()]
        positions = [d.event_position for d in w.deliveries()]
    assert received == [after] and positions == [after]
    assert while_disabled not in positions


def test_a_new_endpoint_receives_what_is_committed_after_its_creation(database_url: str) -> None:
    with webhook_world(database_url) as w:
        before = w.register(GD)
        w.endpoint()
        after = w.change_plan(GD, "VIP_20")
        w.wait_status(after, "DELIVERED")
        time.sleep(0.3)
        received = [r.payload["data"]["position"] for r in w.receiver.requests()]
    assert received == [after] and before < after


def test_only_subscribed_event_types_are_delivered(database_url: str) -> None:
    with webhook_world(database_url) as w:
        w.endpoint(("Subscriber.PlanChanged",))
        w.register(GD)
        plan = w.change_plan(GD, "PLUS_5")
        w.container.subscribers.set_companion(w.admin, GD, True)
        w.wait_status(plan, "DELIVERED")
        time.sleep(0.3)
        types = [r.payload["type"] for r in w.receiver.requests()]
    assert types == ["Subscriber.PlanChanged"]


def test_after_a_rotation_both_secrets_sign_during_the_grace_then_the_new_one(
    database_url: str,
) -> None:
    with webhook_world(database_url, webhook_rotation_grace_seconds=1.5) as w:
        endpoint, old = w.endpoint()
        w.register(GD)
        new = w.container.webhook_endpoints.rotate_secret(w.admin, endpoint).secret
        assert new is not None and new != old
        during = w.change_plan(GD, "PLUS_5")
        w.wait_status(during, "DELIVERED")
        rotated_at = time.monotonic()
        time.sleep(max(0.0, 1.6 - (time.monotonic() - rotated_at)) + 0.2)
        after = w.change_plan(GD, "VIP_20")
        w.wait_status(after, "DELIVERED")
        by_position = {r.payload["data"]["position"]: r for r in w.receiver.requests()}
    signed_during, signed_after = by_position[during], by_position[after]
    assert len(signed_during.headers["webhook-signature"].split(" ")) == 2
    assert signed_during.verified(old) == signed_during.verified(new)
    assert signed_after.verified(new)["data"]["position"] == after
    with pytest.raises(WebhookVerificationError):
        signed_after.verified(old)


def test_the_timestamp_header_is_each_attempts_own(database_url: str) -> None:
    def respond(request: Received, index: int) -> Reply:
        return Reply(503, headers=(("Retry-After", "1"),)) if index == 0 else Reply(200)

    with webhook_world(database_url, respond) as w:
        _, secret = w.endpoint()
        w.wait_status(w.register(GD), "DELIVERED")
        first, second = w.receiver.requests()
    assert int(second.headers["webhook-timestamp"]) > int(first.headers["webhook-timestamp"])
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    assert second.verified(secret) == first.verified(secret)
    assert datetime.now(UTC).year >= 2024


def test_a_host_no_longer_allowed_is_failed_without_being_sent(database_url: str) -> None:
    with webhook_world(database_url, webhook_allowed_hosts="boss.example") as w:
        # Made before the setting changed (as the service allowed then).
        w.container.webhook_endpoints.allowed_hosts = AllowedHosts()
        w.endpoint()
        failed = w.wait_status(w.register(GD), "FAILED")
        assert w.receiver.requests() == []
    assert failed.attempts == 0 and failed.last_status_code is None
    assert failed.last_error == "host 127.0.0.1 is not in SPOA_WEBHOOK_ALLOWED_HOSTS"
