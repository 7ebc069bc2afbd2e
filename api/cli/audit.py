"""`spoa audit ...`: export an event store as NDJSON, replay a stream from an export, verify the
hash chain, sign anchors of it. Data goes to stdout, progress and messages to stderr."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from application.audit.as_of import aggregate_state
from domain.shared import DomainError
from infra.bootstrap import (
    AnchorKeyError,
    NothingChainedError,
    append_anchor,
    generate_key_pair,
    load_anchors,
    load_public_key,
    offline_mapper,
    read_signed_anchors,
    replay_export,
)
from infra.runtime import Runtime, cli_runtime

audit_app = typer.Typer(
    help="Audit: export an event store, replay a stream offline, verify the hash chain, sign"
    " anchors of it.",
    no_args_is_help=True,
)
console = Console(stderr=True)


def _runtime() -> Runtime:
    return cli_runtime()


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Any]:
    """A progress bar on stderr; yields report(done, total)."""
    started = time.monotonic()
    with Progress(
        TextColumn(label),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,.0f} events"),
        TextColumn("{task.fields[rate]:,.0f} events/s"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=None, rate=0.0)

        def report(done: int, total: int | None) -> None:
            rate = done / max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=done, total=total, rate=rate)

        yield report


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        console.print(f"[red]--at must be an ISO-8601 time, got {value!r}[/red]")
        raise typer.Exit(2) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@audit_app.command("export")
def audit_export(
    store: Annotated[str | None, typer.Option(help="core (default) or feed")] = None,
    from_position: Annotated[
        int | None, typer.Option("--from-position", help="First position (inclusive)")
    ] = None,
    to_position: Annotated[
        int | None, typer.Option("--to-position", help="Last position (inclusive)")
    ] = None,
    stream: Annotated[
        str | None, typer.Option(help="Only one stream: TYPE/ID, e.g. Subscriber/13800138000")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
) -> None:
    """Stream events as NDJSON to stdout, in position order, secrets redacted."""
    runtime = _runtime()
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
    started = time.monotonic()
    try:
        with _progress("exporting", quiet) as report:
            summary = runtime.container.audit_exporter.export(
                out,
                store=store,
                from_position=from_position,
                to_position=to_position,
                stream=stream,
                progress=report,
            )
    except DomainError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    except BrokenPipeError:  # `spoa audit export | head`: the reader has had enough
        raise typer.Exit(0) from None
    finally:
        try:
            out.flush()
            out.detach()
        except (BrokenPipeError, ValueError):
            pass
        runtime.close()
    elapsed = time.monotonic() - started
    span = (
        f" (positions {summary.first_position}..{summary.last_position})" if summary.events else ""
    )
    console.print(f"exported {summary.events:,} events{span} in {elapsed:.1f}s")


@audit_app.command("replay")
def audit_replay(
    file: Annotated[str, typer.Argument(help="An export from `spoa audit export`; - for stdin")],
    stream: Annotated[str, typer.Option(help="TYPE/ID, e.g. Account/alice")],
    at: Annotated[
        str | None, typer.Option(help="ISO-8601 time; the state as it was then (default: last)")
    ] = None,
) -> None:
    """Rebuild one stream's state from an export alone and print it as JSON (no database)."""
    moment = _parse_time(at)
    try:
        if file == "-":
            lines = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8")
            result = replay_export(lines, stream, moment, offline_mapper())
        else:
            with Path(file).open(encoding="utf-8") as export:
                result = replay_export(export, stream, moment, offline_mapper())
    except DomainError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    except OSError as exc:
        console.print(f"[red]cannot read {file}: {exc.strerror}[/red]")
        raise typer.Exit(2) from None
    if result.aggregate is None:
        when = f" at {moment.isoformat()}" if moment else ""
        console.print(f"{stream} has no events in this export{when}")
        typer.echo("null")
        raise typer.Exit(1)
    state = aggregate_state(result.aggregate)
    typer.echo(json.dumps(state, ensure_ascii=False, indent=2, sort_keys=True))
    console.print(f"{stream}: version {result.version} rebuilt from the export")


@audit_app.command("keygen")
def audit_keygen(
    private_key: Annotated[Path, typer.Option("--private-key", help="Private key file to write")],
    public_key: Annotated[Path, typer.Option("--public-key", help="Public key file to write")],
) -> None:
    """Make an Ed25519 key pair (PEM) for signing anchors; the private key readable by its
    owner only. Existing files are never overwritten."""
    try:
        generate_key_pair(private_key, public_key)
    except (FileExistsError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"wrote {private_key} (keep it secret; SPOA_AUDIT_SIGNING_KEY names it) and"
        f" {public_key} (for `spoa audit verify --public-key`)"
    )


@audit_app.command("anchor")
def audit_anchor(
    out: Annotated[
        Path | None, typer.Option(help="Append the anchor to this file (default: stdout)")
    ] = None,
) -> None:
    """Sign the chain's latest link with SPOA_AUDIT_SIGNING_KEY: one JSON line
    {position, chainHash, at, signature}, to keep outside the system."""
    runtime = _runtime()
    try:
        line = runtime.container.anchors.head_line()
    except AnchorKeyError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except NothingChainedError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    if out is None:
        typer.echo(line)
    else:
        append_anchor(out, line)
        console.print(f"appended to {out}: {line}")


def _kept_anchors(anchors: Path | None, public_key: Path | None) -> tuple[Any, list[Any]]:
    """The anchors to check, and the signed lines refused (with a public key)."""
    if anchors is None:
        if public_key is not None:
            console.print("[red]--public-key checks the signatures of --anchors FILE[/red]")
            raise typer.Exit(2)
        return None, []
    try:
        text = anchors.read_text(encoding="utf-8")
        if public_key is None:
            return load_anchors(text), []
        return read_signed_anchors(text, load_public_key(public_key))
    except (OSError, AnchorKeyError, ValueError) as exc:
        console.print(f"[red]cannot read the anchors: {exc}[/red]")
        raise typer.Exit(2) from None


@audit_app.command("verify")
def audit_verify(
    anchors: Annotated[
        Path | None,
        typer.Option(help="Checkpoints kept outside (an auditCheckpoints response or NDJSON)"),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Refuse every anchor line whose signature does not verify with this key",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
) -> None:
    """Recompute the hash chain over the core store; exit 1 at the first disagreement, or
    when an anchor line is refused."""
    kept, refused = _kept_anchors(anchors, public_key)
    for anchor in refused:
        typer.echo(f"REFUSED: anchor line {anchor.line}: {anchor.reason}")
    runtime = _runtime()
    started = time.monotonic()
    try:
        with _progress("verifying", quiet) as report:
            result = runtime.container.audit_verifier.verify(kept, report)
    finally:
        runtime.close()
    elapsed = time.monotonic() - started
    if not result.intact:
        typer.echo(
            f"TAMPERED: first disagreement at position {result.first_bad_position}:"
            f" {result.problem}"
        )
        raise typer.Exit(1)
    lag = f"; {result.unchained:,} newer events not chained yet" if result.unchained else ""
    typer.echo(
        f"intact: {result.events_checked:,} events checked, chain through position"
        f" {result.chained_through}, {result.checkpoints_checked} checkpoints,"
        f" {result.anchors_checked} anchors{lag} ({elapsed:.1f}s)"
    )
    if refused:
        typer.echo(f"{len(refused)} anchor lines refused")
        raise typer.Exit(1)
