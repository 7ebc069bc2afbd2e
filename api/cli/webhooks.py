"""`spoa webhooks list | deliveries | redeliver ID | run`: the webhook endpoints, their
deliveries, a redelivery (audited, as the operator `cli:<user>`), and the dispatcher on its
own (with the log follower that creates deliveries; run several: one leads each endpoint)."""

from __future__ import annotations

import getpass
import time
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from application.authz import Principal, operator_principal
from domain.access.permissions import Role
from domain.shared import DomainError
from domain.webhooks.delivery import WebhookDeliveryStatus
from infra.runtime import cli_runtime

webhooks_app = typer.Typer(help="Webhook endpoints and deliveries.", no_args_is_help=True)
console = Console(stderr=True)
TIME = "%Y-%m-%d %H:%M:%S%z"


def _operator(role: Role = Role.SUPER_ADMIN) -> Principal:
    return operator_principal(f"cli:{getpass.getuser()}", role)


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        console.print(f"[red]{what} {value!r} is not an id[/red]")
        raise typer.Exit(2) from None


@webhooks_app.command("list")
def list_endpoints() -> None:
    """Every endpoint, with its deliveries waiting, failed and dead."""
    runtime = cli_runtime()
    try:
        container = runtime.container
        endpoints = container.webhook_endpoints.list(_operator())
        counts = {(e, s): n for e, s, n in container.webhook_adapters.read_model.counts()}
    finally:
        runtime.close()
    table = Table("id", "url", "event types", "enabled", "pending", "failed", "dead")
    for e in endpoints:
        table.add_row(
            str(e.id),
            e.url,
            ", ".join(e.event_types),
            "yes" if e.enabled else "no",
            *(str(counts.get((e.id, s), 0)) for s in ("PENDING", "FAILED", "DEAD")),
        )
    Console().print(table)


@webhooks_app.command("deliveries")
def deliveries(
    status: Annotated[
        WebhookDeliveryStatus | None, typer.Option(help="Only deliveries in this status")
    ] = None,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint's (its id)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first")] = 50,
) -> None:
    """Deliveries, newest event first."""
    endpoint_id = _uuid(endpoint, "endpoint") if endpoint is not None else None
    runtime = cli_runtime()
    try:
        views = runtime.container.webhook_deliveries.page(
            _operator(),
            status,
            endpoint_id,
            None,
            limit,
        )
    finally:
        runtime.close()
    table = Table("id", "position", "event", "endpoint", "status", "attempts", "last", "error")
    for v in views:
        last = (
            f"{v.last_status_code or '-'} at {v.last_attempt_at:{TIME}}"
            if v.last_attempt_at
            else ""
        )
        table.add_row(
            str(v.id),
            str(v.event_position),
            v.event_type,
            v.endpoint.url,
            v.status,
            str(v.attempts),
            last,
            (v.last_error or "")[:80],
        )
    Console().print(table)


@webhooks_app.command("redeliver")
def redeliver(delivery_id: Annotated[str, typer.Argument(help="The delivery's id")]) -> None:
    """Send a FAILED or DEAD delivery again (recorded as an event, by `cli:<user>`)."""
    target = _uuid(delivery_id, "delivery")
    runtime = cli_runtime()
    try:
        result = runtime.container.webhook_deliveries.redeliver(
            _operator(),
            target,
        )
    except DomainError as exc:
        console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    typer.echo(f"{target} is PENDING again (event at position {result.position})")


@webhooks_app.command("run")
def run() -> None:
    """The dispatcher on its own, with the log follower that creates deliveries (for
    SPOA_WEBHOOKS_IN_PROCESS=0 deployments; one process leads each endpoint)."""
    runtime = cli_runtime()
    dispatcher = runtime.container.start_webhooks(with_projection=True)
    console.print("webhook dispatcher started; Ctrl-C to stop")
    try:
        while dispatcher.healthy:
            time.sleep(1)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how an operator stops it; closing the runtime stops the dispatcher
    finally:
        runtime.close()
