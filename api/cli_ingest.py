"""`spoa ingest`: platform history records from an NDJSON file, in batches, with progress."""

from __future__ import annotations

import getpass
import hashlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import Progress, TextColumn

from application.authz import operator_principal
from domain.access.permissions import Role
from domain.history.records import RecordKind
from domain.shared import DomainError
from infra.bootstrap import Runtime, cli_runtime

console = Console(stderr=True)


def _runtime() -> Runtime:
    return cli_runtime()


def ingest(
    file: Annotated[Path, typer.Argument(help="NDJSON file, one record per line ('-' for stdin)")],
    kind: Annotated[str, typer.Option(help="Record kind: " + ", ".join(RecordKind))],
    source: Annotated[str, typer.Option(help="Platform feed that produced the file")],
    batch_size: Annotated[int, typer.Option(help="Records per batch")] = 50_000,
) -> None:
    """Ingest platform history records from an NDJSON file, in batches, with progress.

    Batch ids are derived from the file name and each batch's content, so running the same
    file again stores nothing twice (every batch answers duplicate).
    """
    try:
        record_kind = RecordKind(kind.upper())
    except ValueError:
        console.print(f"[red]unknown kind {kind}; one of {', '.join(RecordKind)}[/red]")
        raise typer.Exit(2) from None
    runtime = _runtime()
    history = runtime.container.history
    principal = operator_principal(f"cli:{getpass.getuser()}", Role.INTEGRATION)
    batch_size = max(1, min(batch_size, runtime.settings.ingest_max_records))
    stream = sys.stdin.buffer if str(file) == "-" else file.open("rb")
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    try:
        with Progress(
            TextColumn(f"ingesting {record_kind.value}"),
            TextColumn("{task.completed:,.0f} records"),
            TextColumn("{task.fields[rate]:,.0f} records/s"),
            console=console,
        ) as progress:
            task = progress.add_task("ingest", total=None, rate=0.0)
            started = time.monotonic()
            for number, lines in enumerate(_batches(stream, batch_size), 1):
                digest = hashlib.sha256(b"".join(lines)).hexdigest()[:24]
                validator = history.new_validator(record_kind)
                for index, raw in enumerate(lines):
                    try:
                        validator.add(orjson.loads(raw), index)
                    except orjson.JSONDecodeError as exc:
                        validator.add_problem(index, f"is not valid JSON ({exc})")
                result = history.ingest(
                    principal,
                    source=source,
                    batch_id=f"{file.name}:{digest}",
                    validator=validator,
                )
                if result.errors:
                    totals["rejected"] += 1
                    console.print(f"[red]batch {number} rejected:[/red]")
                    for error in result.errors[:20]:
                        console.print(
                            f"  line {error.index + 1 + (number - 1) * batch_size}: "
                            f"{error.field or ''} {error.reason}"
                        )
                elif result.duplicate:
                    totals["duplicate"] += 1
                totals["accepted"] += result.accepted
                elapsed = max(time.monotonic() - started, 1e-6)
                progress.update(
                    task, advance=len(lines), rate=progress.tasks[0].completed / elapsed
                )
    except DomainError as exc:
        console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
        runtime.close()
    console.print(
        f"accepted {totals['accepted']:,} records; {totals['duplicate']} duplicate batches;"
        f" {totals['rejected']} rejected batches"
    )
    if totals["rejected"]:
        raise typer.Exit(1)


def _batches(stream: Any, size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for raw in stream:
        if not raw.strip():
            continue
        batch.append(raw)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
