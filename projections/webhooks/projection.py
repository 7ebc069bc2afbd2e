"""Creating deliveries: a projection over the core log (tracked, exactly once, one leader).

Each page folds the endpoints' own events in log order and creates a delivery for every event
an endpoint subscribes to while it is enabled, so a new endpoint receives what is committed
after its creation and a disabled one nothing committed meanwhile. Endpoints are a read model
like any other (`rm.webhook_endpoints`, rebuilt blue/green). Deliveries are not: their outcomes
(attempts, DELIVERED, ...) come from the receivers, not from the log, so they live in the
one table `webhook_deliveries` outside the generations, and re-applying an event (a rebuild)
changes nothing there: a delivery's id is derived from its endpoint and position
(`ON CONFLICT DO NOTHING`), and a redelivery request applies once (`requeue_position`).
The dispatcher (application.webhooks.dispatcher) sends what this creates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql

from domain.audit.catalogue import event_type_of_topic, stream_type_of_topic
from domain.audit.replay import event_time
from domain.webhooks.delivery import delivery_id_for
from domain.webhooks.endpoint import WebhookEndpoint
from domain.webhooks.rules import subscribes_to
from projections.runtime.base import Projection, RecordedEvent

DELIVERIES_TABLE = "webhook_deliveries"

DELIVERIES_DDL = """
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id uuid PRIMARY KEY,
    endpoint_id uuid NOT NULL,
    position bigint NOT NULL,
    stream_type text NOT NULL,
    originator_id uuid NOT NULL,
    stream_version int NOT NULL,
    event_type text NOT NULL,
    status text NOT NULL DEFAULT 'PENDING',
    -- held back: an earlier event of its stream is not yet final at this endpoint
    parked boolean NOT NULL DEFAULT false,
    attempts int NOT NULL DEFAULT 0,
    attempts_at_requeue int NOT NULL DEFAULT 0,
    last_status_code int,
    last_error text,
    last_attempt_at timestamptz,
    next_attempt_at timestamptz NOT NULL,
    delivered_at timestamptz,
    requeue_position bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries
    (endpoint_id, next_attempt_at, position) WHERE status = 'PENDING' AND NOT parked;
CREATE INDEX IF NOT EXISTS webhook_deliveries_stream ON webhook_deliveries
    (endpoint_id, originator_id, position) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS webhook_deliveries_position ON webhook_deliveries (position);
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries
    (endpoint_id, position);
CREATE INDEX IF NOT EXISTS webhook_deliveries_status ON webhook_deliveries (status, position);
"""

_INSERT = sql.SQL(
    "INSERT INTO webhook_deliveries (id, endpoint_id, position, stream_type, originator_id,"
    " stream_version, event_type, next_attempt_at)"
    " SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::bigint[], %s::text[], %s::uuid[],"
    " %s::int[], %s::text[], %s::timestamptz[])"
    " ON CONFLICT (id) DO NOTHING"
)
_REQUEUE = sql.SQL(
    "UPDATE webhook_deliveries SET status = 'PENDING', parked = false,"
    " attempts_at_requeue = attempts, next_attempt_at = %(at)s, requeue_position = %(position)s"
    " WHERE id = %(id)s AND status IN ('FAILED', 'DEAD') AND requeue_position < %(position)s"
)

_E = WebhookEndpoint
_ENDPOINT_UPSERTS: dict[type[Any], str] = {
    _E.EndpointCreated: (
        "INSERT INTO {} (id, url, event_types, description, enabled, created_at, updated_at,"
        " secret_ciphertext, version) VALUES (%(id)s, %(url)s, %(event_types)s,"
        " %(description)s, true, %(at)s, %(at)s, %(secret_ciphertext)s, %(version)s)"
        " ON CONFLICT (id) DO NOTHING"
    ),
    _E.EndpointUpdated: (
        "UPDATE {} SET url = %(url)s, event_types = %(event_types)s,"
        " description = %(description)s, updated_at = %(at)s, version = %(version)s"
        " WHERE id = %(id)s"
    ),
    _E.EndpointDisabled: (
        "UPDATE {} SET enabled = false, updated_at = %(at)s, version = %(version)s"
        " WHERE id = %(id)s"
    ),
    _E.EndpointEnabled: (
        "UPDATE {} SET enabled = true, updated_at = %(at)s, version = %(version)s WHERE id = %(id)s"
    ),
    _E.SecretRotated: (
        "UPDATE {} SET previous_secret_ciphertext = %(previous_secret_ciphertext)s,"
        " secret_ciphertext = %(secret_ciphertext)s, rotated_at = %(at)s,"
        " updated_at = %(at)s, version = %(version)s WHERE id = %(id)s"
    ),
    _E.RedeliveryRequested: "UPDATE {} SET version = %(version)s WHERE id = %(id)s",
}


class Subscription:
    """An endpoint as the fold knows it at some point of the log."""

    __slots__ = ("enabled", "event_types")

    def __init__(self, event_types: Sequence[str], enabled: bool) -> None:
        self.event_types = frozenset(event_types)
        self.enabled = enabled


class WebhooksProjection(Projection):
    name = "webhooks"
    store = "core"
    tables = ("webhook_endpoints",)

    def __init__(self) -> None:
        self._names: dict[type[Any], tuple[str, str]] = {}

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.webhook_endpoints ("
                " id uuid PRIMARY KEY,"
                " url text NOT NULL,"
                " event_types text[] NOT NULL,"
                " description text,"
                " enabled boolean NOT NULL,"
                " created_at timestamptz NOT NULL,"
                " updated_at timestamptz NOT NULL,"
                " secret_ciphertext text NOT NULL,"
                " previous_secret_ciphertext text,"
                " rotated_at timestamptz,"
                " version int NOT NULL)"
            ).format(sql.Identifier(schema))
        )
        cur.execute(DELIVERIES_DDL)

    def _name(self, cls: type[Any]) -> tuple[str, str]:
        """(stream type, event type) as the events feed names them."""
        found = self._names.get(cls)
        if found is None:
            topic = cls.TOPIC
            found = (stream_type_of_topic(topic), event_type_of_topic(topic))
            self._names[cls] = found
        return found

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        table = sql.SQL("{}.webhook_endpoints").format(sql.Identifier(schema))
        cur.execute(sql.SQL("SELECT id, event_types, enabled FROM {}").format(table))
        endpoints = {row[0]: Subscription(row[1], row[2]) for row in cur.fetchall()}
        columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [])
        requeues: list[dict[str, Any]] = []
        for recorded in events:
            e = recorded.event
            stream_type, event_type = self._name(type(e))
            # Matched against the endpoints as they were before this event: an endpoint does
            # not receive its own creation, nor anything while it is disabled.
            for endpoint_id, subscription in endpoints.items():
                if subscription.enabled and subscribes_to(
                    subscription.event_types, stream_type, event_type
                ):
                    for column, value in zip(
                        columns,
                        (
                            delivery_id_for(endpoint_id, recorded.position),
                            endpoint_id,
                            recorded.position,
                            stream_type,
                            e.originator_id,
                            e.originator_version,
                            f"{stream_type}.{event_type}",
                            event_time(e),
                        ),
                        strict=True,
                    ):
                        column.append(value)
            if isinstance(e, WebhookEndpoint.Event):
                self._endpoint_event(cur, table, e, endpoints)
                if isinstance(e, WebhookEndpoint.RedeliveryRequested):
                    requeues.append(
                        {
                            "id": UUID(e.delivery_id),
                            "position": recorded.position,
                            "at": e.timestamp,
                        }
                    )
        if columns[0]:
            cur.execute(_INSERT, columns)
        for requeue in requeues:
            cur.execute(_REQUEUE, requeue)

    def _endpoint_event(
        self, cur: Cursor[Any], table: sql.Composable, e: Any, endpoints: dict[UUID, Subscription]
    ) -> None:
        statement = _ENDPOINT_UPSERTS.get(type(e))
        if statement is None:
            return
        values = {
            "id": e.originator_id,
            "at": e.timestamp,
            "version": e.originator_version,
            **{
                key: getattr(e, key, None)
                for key in (
                    "url",
                    "event_types",
                    "description",
                    "secret_ciphertext",
                    "previous_secret_ciphertext",
                )
            },
        }
        cur.execute(sql.SQL(statement).format(table), values)
        known = endpoints.get(e.originator_id)
        if isinstance(e, _E.EndpointCreated):
            endpoints[e.originator_id] = Subscription(e.event_types, True)
        elif known is not None and isinstance(e, _E.EndpointUpdated):
            endpoints[e.originator_id] = Subscription(e.event_types, known.enabled)
        elif known is not None and isinstance(e, _E.EndpointDisabled | _E.EndpointEnabled):
            known.enabled = isinstance(e, _E.EndpointEnabled)
