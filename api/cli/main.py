"""The `spoa` command line: serve, accounts, db, projections, demo."""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from api.cli.audit import audit_app
from api.cli.documents import documents_app
from api.cli.ingest import ingest
from api.cli.webhooks import webhooks_app
from demo.loader import (
    load_demo_accounts,
    load_demo_knowledge_base,
    load_demo_platform_history,
    load_demo_subscribers,
    load_demo_support_desk,
    load_demo_ticket_changes,
)
from demo.subscribers import DEMO_SHOWCASE
from domain.access.permissions import Role
from domain.shared import DomainError
from infra.bootstrap import load_settings
from infra.logging import configure_logging
from infra.metrics import MULTIPROC_DIR_ENV, multiprocess_dir, release_process
from infra.runtime import Runtime, cli_runtime

app = typer.Typer(
    help="SPOA: customer-service support backend for the 139 mailbox.", no_args_is_help=True
)
accounts_app = typer.Typer(help="Manage staff accounts.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
projections_app = typer.Typer(help="Read-model projections.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(audit_app, name="audit")
app.add_typer(documents_app, name="documents")
app.command()(ingest)
app.add_typer(db_app, name="db")
app.add_typer(projections_app, name="projections")
app.add_typer(demo_app, name="demo")
app.add_typer(webhooks_app, name="webhooks")

console = Console(stderr=True)


def _runtime() -> Runtime:
    return cli_runtime()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8000,
    demo: Annotated[bool, typer.Option(help="Load demo data if the database is empty")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes; the projection runners of all of them elect one leader"
            " per projection",
        ),
    ] = 1,
) -> None:
    """Run the API (and, by default, the projection runners) until stopped."""
    import uvicorn

    from api.app import create_app

    started = time.monotonic()
    if demo and not load_settings().dev_mode:
        # Demo accounts have published passwords: never on a real deployment.
        console.print("[red]--demo is for dev mode only (SPOA_DEV_MODE=1)[/red]")
        raise typer.Exit(2)
    runtime = _runtime()
    # X-Forwarded-For is believed from the same proxies as the login throttle believes it.
    trusted = runtime.settings.trusted_proxy_list
    proxies: dict[str, Any] = {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}
    # A WebSocket message is a GraphQL body: uvicorn refuses a larger one before it is whole.
    proxies["ws_max_size"] = runtime.settings.graphql_max_body_bytes
    try:
        if demo:
            _load_demo(runtime, quiet_if_present=True)
        if workers > 1:
            # Each worker builds its own runtime (served_app) on the database this one set up
            # (and keeps running, when it is the embedded one).
            runtime.container.close()
            os.environ["SPOA_DATABASE_URL"] = runtime.database_url
            # /metrics sums the request metrics of all workers: prometheus-client's
            # multiprocess mode, in a fresh private directory the (spawned) workers inherit
            # and that goes when they have stopped.
            metrics_dir = tempfile.mkdtemp(prefix="spoa-metrics-")
            os.environ[MULTIPROC_DIR_ENV] = metrics_dir
            console.print(f"SPOA starting {workers} workers: http://{host}:{port}/graphql")
            try:
                uvicorn.run(
                    "api.cli.main:served_app",
                    factory=True,
                    workers=workers,
                    host=host,
                    port=port,
                    log_config=None,
                    access_log=False,
                    **proxies,
                )
            finally:
                os.environ.pop(MULTIPROC_DIR_ENV, None)
                shutil.rmtree(metrics_dir, ignore_errors=True)
            return
        app_ = create_app(runtime.container, on_shutdown=runtime.close)
        _freeze_start_up_objects()
        console.print(
            f"SPOA ready in {time.monotonic() - started:.1f}s: http://{host}:{port}/graphql"
        )
        uvicorn.run(app_, host=host, port=port, log_config=None, access_log=False, **proxies)
    finally:
        runtime.close()


def _freeze_start_up_objects() -> None:
    """Keep what start-up built (modules, schema, app) out of the garbage collector's full
    collections, which otherwise walk it all every few thousand requests: stalls that showed
    in the p99 of bench/subscribers_mutations.py. Only for a serving process: frozen objects
    are never collected."""
    gc.collect()
    gc.freeze()


def served_app() -> Any:
    """The app of one `spoa serve --workers N` worker process (a uvicorn factory)."""
    from api.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    if os.environ.get(MULTIPROC_DIR_ENV) and multiprocess_dir() is None:
        # Not a directory, or prometheus-client was imported before the variable was set:
        # /metrics would show this worker's requests only.
        raise RuntimeError(f"{MULTIPROC_DIR_ENV} is set but multiprocess metrics are not on")
    runtime = Runtime(settings)

    def stop() -> None:
        try:
            runtime.close()
        finally:
            release_process()

    app_ = create_app(runtime.container, on_shutdown=stop)
    _freeze_start_up_objects()
    return app_


@accounts_app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="Login name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    display_name: Annotated[str | None, typer.Option(help="Shown name")] = None,
) -> None:
    """Create a SUPER_ADMIN account (the first one, or a rescue one)."""
    if not password_stdin:
        console.print("[red]pass the password on standard input with --password-stdin[/red]")
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\n")
    runtime = _runtime()
    try:
        result = runtime.container.access.create_account(
            None,
            username=username,
            display_name=display_name or username,
            role=Role.SUPER_ADMIN,
            province=None,
            initial_password=password,
        )
        console.print(f"created SUPER_ADMIN {username} ({result.account.id})")
    except DomainError as exc:
        console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        runtime.close()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update every table, trigger and read model (idempotent).

    A projection whose tables are of an older version than its code is not rebuilt here (that
    can take minutes, and this runs at every start): the projection runner's leader rebuilds
    it blue/green, or `spoa projections rebuild NAME` does.
    """
    runtime = _runtime()
    try:
        code = {name: p.version for name, p in runtime.container.engine.projections.items()}
        registered = runtime.container.projection_status.registered_versions()
    finally:
        runtime.close()
    console.print("database schema is up to date")
    for name, version in code.items():
        tables = registered.get(name, version)
        if tables < version:
            console.print(
                f"{name}: tables are version {tables}, the code's is {version}: rebuild needed"
                f" (the projection runner rebuilds it while the old tables serve, or run"
                f" `spoa projections rebuild {name}`)"
            )
        elif tables > version:
            console.print(
                f"[red]{name}: tables are version {tables}, newer than this code's {version}[/red]"
            )


@projections_app.command("status")
def projections_status() -> None:
    """Position, lag and version of every projection, any rebuild under way or needed, and
    any projection failing (since when, with its last error)."""
    runtime = _runtime()
    try:
        table = Table(
            "projection",
            "store",
            "generation",
            "version",
            "position",
            "lag",
            "updated",
            "building",
            "failing",
        )
        for s in runtime.container.projection_status.status():
            building = (
                f"g{s.building_generation} @ {s.building_position}" if s.building_generation else ""
            )
            version = str(s.version)
            if s.rebuild_needed:
                version = f"{s.version} → {s.code_version}: rebuild needed"
            elif s.version > s.code_version:
                version = f"{s.version} (newer than this code's {s.code_version})"
            table.add_row(
                s.name,
                s.store,
                str(s.generation),
                version,
                str(s.position),
                str(s.lag),
                str(s.updated_at or ""),
                building,
                # (Text: an error's own brackets are not markup)
                Text(f"since {s.failing_since:%Y-%m-%d %H:%M:%S%z}: {s.last_error}", style="red")
                if s.failing
                else "",
            )
        Console().print(table)
    finally:
        runtime.close()


@projections_app.command("run")
def projections_run() -> None:
    """Follow the stores and keep every projection up to date (leader per projection)."""
    runtime = _runtime()
    runner = runtime.container.start_projections()
    console.print("projection runners started; Ctrl-C to stop")
    try:
        while runner.healthy:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[str, typer.Argument(help="Projection to rebuild")],
    restart: Annotated[
        bool, typer.Option(help="Drop an interrupted rebuild and start over")
    ] = False,
) -> None:
    """Blue/green rebuild from position 0 while the old tables keep serving, then swap."""
    runtime = _runtime()
    engine = runtime.container.engine
    if name not in engine.projections:
        console.print(
            f"[red]unknown projection {name}; one of {', '.join(engine.projections)}[/red]"
        )
        runtime.close()
        raise typer.Exit(2)
    started = time.monotonic()
    with Progress(
        TextColumn(f"rebuilding {name}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} events"),
        TextColumn("{task.fields[rate]:,.0f} events/s"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        # A number from the start: the events column cannot format a missing total.
        head = runtime.container.projection_status.store_head(engine.projections[name].store)
        task = progress.add_task(name, total=head, rate=0.0)
        first: list[int] = []

        def report(done: int, total: int) -> None:
            if not first:
                first.append(done)
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=done, total=total, rate=(done - first[0]) / elapsed)

        try:
            generation = runtime.container.rebuilds.rebuild(name, restart=restart, progress=report)
        finally:
            runtime.close()
    console.print(f"{name}: generation {generation} is live ({time.monotonic() - started:.1f}s)")


def _load_demo(runtime: Runtime, quiet_if_present: bool = False) -> None:
    results = load_demo_accounts(runtime.container.access)
    numbers = load_demo_subscribers(
        runtime.container.access, runtime.container.subscribers, runtime.container.audit
    )
    if numbers:
        console.print(
            f"demo subscribers: {len(numbers)} across provinces with change histories"
            f" (try {', '.join(f'{n} ({p})' for n, p in DEMO_SHOWCASE[:3])})"
        )
        records = load_demo_platform_history(
            runtime.container.access,
            runtime.container.history,
            numbers,
            runtime.container.clock.now(),
        )
        console.print(f"demo platform history: {records} records of every kind, last 90 days")
    kb = load_demo_knowledge_base(
        runtime.container.access,
        runtime.container.knowledge,
        runtime.container.contacts,
        runtime.container.audit,
    )
    if kb.faqs_created or kb.contacts_created:
        console.print(
            f"demo knowledge base: {kb.faqs_created} FAQs, {kb.documents_attached} documents,"
            f' {kb.contacts_created} support contacts (try searchFaqs(query: "密码"))'
        )
    desk = load_demo_support_desk(
        runtime.container.access,
        runtime.container.tickets,
        runtime.container.announcements,
        runtime.container.audit,
    )
    if desk.tickets_created or desk.announcements_created:
        states = ", ".join(f"{n} {status}" for status, n in sorted(desk.statuses.items()))
        console.print(
            f"demo support desk: {desk.tickets_created} tickets ({states}),"
            f" {desk.announcements_created} announcements"
        )
    if desk.tickets_created:
        linked = load_demo_ticket_changes(
            runtime.container.access, runtime.container.subscribers, desk.ticket_ids
        )
        console.print(f"demo changes citing tickets: {linked} (Subscriber.changes → ticketId)")
    created = [d for d, new in results if new]
    if quiet_if_present and not created:
        return
    table = Table("username", "role", "province", "password", title="demo accounts (dev only)")
    for demo, _ in results:
        table.add_row(demo.username, demo.role.value, demo.province or "", demo.password)
    console.print(table)


@demo_app.command("load")
def demo_load() -> None:
    """Load demo data (dev mode only): accounts for every role, with the passwords printed."""
    runtime = _runtime()
    try:
        if not runtime.settings.dev_mode:
            console.print("[red]demo data is for dev mode only (SPOA_DEV_MODE=1)[/red]")
            raise typer.Exit(2)
        _load_demo(runtime)
    finally:
        runtime.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
