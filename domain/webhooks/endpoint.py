"""The WebhookEndpoint aggregate: a receiver of the core log's events, managed by SUPER_ADMIN.

Guards run in the public command methods; the private @event methods only record and apply.
Every event carries `meta` (who, why) and the values before and after the change. The signing
secret is never in an event in the clear: events hold only its ciphertext (the application
encrypts it with a key derived from SPOA_SECRET_KEY), which audit output redacts. A
redelivery request is an event too, so requeuing a delivery is audited like any change.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate, event

from domain.shared import ChangeMeta, NoChangeError
from domain.webhooks.rules import (
    AlreadyDisabledError,
    AlreadyEnabledError,
    EndpointSubscription,
    NotRedeliverableError,
)

_TOPIC = "spoa.webhooks:WebhookEndpoint"
#: delivery statuses a redelivery may start from
REDELIVERABLE = frozenset({"FAILED", "DEAD"})


class WebhookEndpoint(Aggregate):
    """An http(s) URL that receives signed POSTs of the event types it subscribes to."""

    TOPIC = _TOPIC

    class Event(Aggregate.Event):
        TOPIC = f"{_TOPIC}.Event"

    @classmethod
    def create(
        cls,
        subscription: EndpointSubscription,
        secret_ciphertext: str,
        at: datetime,
        meta: ChangeMeta,
    ) -> WebhookEndpoint:
        return cls(
            url=subscription.url,
            event_types=list(subscription.event_types),
            description=subscription.description,
            secret_ciphertext=secret_ciphertext,
            meta=meta,
            timestamp=at,
        )

    @event("EndpointCreated", topic=f"{_TOPIC}.EndpointCreated")
    def __init__(
        self,
        url: str,
        event_types: list[str],
        description: str | None,
        secret_ciphertext: str,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.url = url
        self.event_types = list(event_types)
        self.description = description
        self.enabled = True
        self.secret_ciphertext = secret_ciphertext
        self.previous_secret_ciphertext: str | None = None
        self.rotated_at: datetime | None = None

    @property
    def subscription(self) -> EndpointSubscription:
        return EndpointSubscription(self.url, tuple(self.event_types), self.description)

    # ------------------------------------------------------------------ update
    def update(self, subscription: EndpointSubscription, at: datetime, meta: ChangeMeta) -> None:
        """Replace url, event types and description (disabled endpoints too)."""
        if subscription == self.subscription:
            raise NoChangeError("the endpoint already has this url, event types and description")
        self._updated(
            previous_url=self.url,
            url=subscription.url,
            previous_event_types=list(self.event_types),
            event_types=list(subscription.event_types),
            previous_description=self.description,
            description=subscription.description,
            meta=meta,
            timestamp=at,
        )

    @event("EndpointUpdated", topic=f"{_TOPIC}.EndpointUpdated")
    def _updated(
        self,
        previous_url: str,
        url: str,
        previous_event_types: list[str],
        event_types: list[str],
        previous_description: str | None,
        description: str | None,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.url = url
        self.event_types = list(event_types)
        self.description = description

    # ------------------------------------------------------------------ enabled
    def disable(self, at: datetime, meta: ChangeMeta) -> None:
        """Stop sending; events committed while disabled are never delivered to it."""
        if not self.enabled:
            raise AlreadyDisabledError("the endpoint is disabled already")
        self._disabled(previous_enabled=True, enabled=False, meta=meta, timestamp=at)

    @event("EndpointDisabled", topic=f"{_TOPIC}.EndpointDisabled")
    def _disabled(
        self, previous_enabled: bool, enabled: bool, meta: ChangeMeta, timestamp: datetime
    ) -> None:
        self.enabled = False

    def enable(self, at: datetime, meta: ChangeMeta) -> None:
        if self.enabled:
            raise AlreadyEnabledError("the endpoint is enabled already")
        self._enabled(previous_enabled=False, enabled=True, meta=meta, timestamp=at)

    @event("EndpointEnabled", topic=f"{_TOPIC}.EndpointEnabled")
    def _enabled(
        self, previous_enabled: bool, enabled: bool, meta: ChangeMeta, timestamp: datetime
    ) -> None:
        self.enabled = True

    # ------------------------------------------------------------------ secret
    def rotate_secret(self, secret_ciphertext: str, at: datetime, meta: ChangeMeta) -> None:
        """A new signing secret; the previous one still signs during the grace period."""
        self._secret_rotated(
            previous_secret_ciphertext=self.secret_ciphertext,
            secret_ciphertext=secret_ciphertext,
            meta=meta,
            timestamp=at,
        )

    @event("SecretRotated", topic=f"{_TOPIC}.SecretRotated")
    def _secret_rotated(
        self,
        previous_secret_ciphertext: str,
        secret_ciphertext: str,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        self.previous_secret_ciphertext = previous_secret_ciphertext
        self.secret_ciphertext = secret_ciphertext
        self.rotated_at = timestamp

    # ------------------------------------------------------------------ redelivery
    def request_redelivery(
        self,
        delivery_id: str,
        event_position: int,
        status: str,
        at: datetime,
        meta: ChangeMeta,
    ) -> None:
        """Send a FAILED or DEAD delivery again (it becomes PENDING, with a fresh budget of
        attempts, when the dispatcher's log follower reaches this event)."""
        if status not in REDELIVERABLE:
            raise NotRedeliverableError(
                f"only a FAILED or DEAD delivery can be sent again; this one is {status}"
            )
        self._redelivery_requested(
            delivery_id=delivery_id,
            event_position=event_position,
            previous_status=status,
            status="PENDING",
            meta=meta,
            timestamp=at,
        )

    @event("RedeliveryRequested", topic=f"{_TOPIC}.RedeliveryRequested")
    def _redelivery_requested(
        self,
        delivery_id: str,
        event_position: int,
        previous_status: str,
        status: str,
        meta: ChangeMeta,
        timestamp: datetime,
    ) -> None:
        pass  # the delivery's state lives with the dispatcher; this event is its record
