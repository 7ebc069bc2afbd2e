"""A world for webhook tests: a container on the test's database, a real HTTP receiver, the
dispatcher with the log follower that creates deliveries, and the steps tests take."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.authz import Principal, operator_principal
from application.webhooks.deliveries import DeliveryView
from application.webhooks.endpoints import EndpointInput
from domain.access.permissions import Role
from infra.bootstrap import Container
from tests.conftest import make_settings
from tests.webhook_receiver import Receiver, Responder

#: fast retries and polls, so that a retry takes a fraction of a second
FAST: dict[str, Any] = {
    "webhook_retry_initial_seconds": 0.05,
    "projection_poll_seconds": 0.1,
    "webhook_concurrency": 4,
}
ADMIN = operator_principal("webhook-tests", Role.SUPER_ADMIN)


@dataclass
class HookWorld:
    container: Container
    receiver: Receiver
    admin: Principal = ADMIN

    def endpoint(
        self, types: tuple[str, ...] = ("Subscriber.*",), url: str | None = None
    ) -> tuple[UUID, str]:
        """A new endpoint (its id and secret)."""
        result = self.container.webhook_endpoints.create(
            self.admin, EndpointInput(url or self.receiver.url, list(types), "test receiver")
        )
        assert result.secret is not None
        return result.endpoint.id, result.secret

    def register(self, msisdn: str, province: str = "GD") -> int:
        return self.container.subscribers.register(self.admin, msisdn, province, "FREE").position

    def change_plan(self, msisdn: str, plan: str) -> int:
        return self.container.subscribers.change_plan(self.admin, msisdn, plan).position

    def deliveries(self, endpoint_id: UUID | None = None) -> list[DeliveryView]:
        return self.container.webhook_deliveries.page(self.admin, None, endpoint_id, None, 500)

    def delivery_at(self, position: int) -> DeliveryView:
        (found,) = [d for d in self.deliveries() if d.event_position == position]
        return found

    def attempts(self, position: int) -> int:
        """Attempts of the delivery of this event so far (0 until it is created)."""
        return sum(d.attempts for d in self.deliveries() if d.event_position == position)

    def wait_for(self, done: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.02)
        return done()

    def wait_status(self, position: int, status: str, timeout: float = 10.0) -> DeliveryView:
        def reached() -> bool:
            found = [d for d in self.deliveries() if d.event_position == position]
            return bool(found) and found[0].status == status

        assert self.wait_for(reached, timeout), [
            (d.event_position, d.status, d.attempts) for d in self.deliveries()
        ]
        return self.delivery_at(position)


@contextmanager
def webhook_world(
    database_url: str,
    respond: Responder | None = None,
    dispatcher: bool = True,
    **settings: Any,
) -> Iterator[HookWorld]:
    container = Container(make_settings(database_url, **{**FAST, **settings}), database_url)
    receiver = Receiver(respond)
    try:
        if dispatcher:
            container.start_webhooks(with_projection=True)
        yield HookWorld(container, receiver)
    finally:
        container.close()
        receiver.close()
