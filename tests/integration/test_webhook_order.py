"""Per-stream order while an earlier event is retried (other streams flow meanwhile), and
exactly-once creation of deliveries: steps that run again, and a rebuild of the follower."""

from __future__ import annotations

import threading
import time

from projections.runtime.rebuild import Rebuilds
from tests.webhook_receiver import Received, Reply
from tests.webhook_world import webhook_world

A, B = "13800138000", "13900139000"


def test_a_later_event_of_a_stream_waits_while_an_earlier_one_is_retried(
    database_url: str,
) -> None:
    gate = threading.Event()

    def respond(request: Received, index: int) -> Reply:
        data = request.payload["data"]
        if data["streamId"] == A and data["version"] == 1 and not gate.is_set():
            return Reply(500, b"not yet")
        return Reply(200)

    with webhook_world(database_url, respond) as w:
        w.endpoint()
        a = [w.register(A), w.change_plan(A, "PLUS_5"), w.change_plan(A, "VIP_20")]
        b = [w.register(B, "BJ"), w.change_plan(B, "PLUS_5"), w.change_plan(B, "VIP_20")]

        def received() -> list[tuple[str, int]]:
            return [
                (r.payload["data"]["streamId"], r.payload["data"]["position"])
                for r in w.receiver.requests()
            ]

        # B's events all arrive, in order, while A's first one keeps failing ...
        assert w.wait_for(lambda: [p for s, p in received() if s == B] == b)
        assert w.wait_for(lambda: w.attempts(a[0]) >= 3)
        assert {p for s, p in received() if s == A} == {a[0]}
        assert w.delivery_at(a[1]).status == "PENDING"
        gate.set()
        # ... then A's arrive, in their order, each after the one before was delivered.
        w.wait_status(a[2], "DELIVERED")
        arrivals = [p for s, p in received() if s == A]
    first_success = max(i for i, p in enumerate(arrivals) if p == a[0])
    assert arrivals[first_success:] == a
    assert all(p == a[0] for p in arrivals[:first_success])


def test_a_final_failure_releases_the_next_event_of_its_stream(database_url: str) -> None:
    def respond(request: Received, index: int) -> Reply:
        return Reply(422, b"rejected") if request.payload["data"]["version"] == 1 else Reply(200)

    with webhook_world(database_url, respond) as w:
        w.endpoint()
        first, second = w.register(A), w.change_plan(A, "PLUS_5")
        assert w.wait_status(first, "FAILED").last_status_code == 422
        w.wait_status(second, "DELIVERED")


def test_deliveries_are_created_once_however_often_the_follower_runs(database_url: str) -> None:
    with webhook_world(database_url) as w:
        endpoint, _ = w.endpoint()
        second, _ = w.endpoint(("Subscriber.PlanChanged",))
        positions = [w.register(A), w.change_plan(A, "PLUS_5"), w.change_plan(A, "VIP_20")]
        assert w.wait_for(lambda: [d.status for d in w.deliveries()] == ["DELIVERED"] * 5)
        assert len(w.receiver.requests()) == 5 and positions
        w.container.stop_webhooks()
        before = {(d.id, d.status, d.attempts) for d in w.deliveries()}
        # A blue/green rebuild applies every event again, into fresh endpoint tables.
        engine = w.container.webhook_adapters.follower_engine(w.container.engine.sources)
        assert Rebuilds(engine).rebuild("webhooks", page_size=2) == 2
        after = {(d.id, d.status, d.attempts) for d in w.deliveries()}
        endpoints = w.container.webhook_endpoints.list(w.admin)
    assert before == after and len(after) == 5  # 3 events to one, 2 plan changes to another
    assert {e.id for e in endpoints} == {endpoint, second}


def test_a_redelivery_applies_once_even_when_the_log_is_applied_again(database_url: str) -> None:
    with webhook_world(database_url, lambda r, i: Reply(410, b"gone")) as w:
        w.endpoint()
        position = w.register(A)
        failed = w.wait_status(position, "FAILED")
        w.container.webhook_deliveries.redeliver(w.admin, failed.id)
        assert w.wait_for(lambda: len(w.receiver.requests()) == 2)
        w.wait_status(position, "FAILED")
        w.container.stop_webhooks()
        engine = w.container.webhook_adapters.follower_engine(w.container.engine.sources)
        Rebuilds(engine).rebuild("webhooks")
        time.sleep(0.1)
        again = w.delivery_at(position)
    assert (again.status, again.attempts) == ("FAILED", 2)
