"""`spoa ingest`: platform history records from an NDJSON file, in batches, with progress."""

from __future__ import annotations

import getpass
import hashlib
import os
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from application.authz import operator_principal
from application.history.service import IngestResult
from domain.access.permissions import Role
from domain.history.records import RecordKind
from domain.shared import DomainError
from infra.runtime import Runtime, cli_runtime

console = Console(stderr=True)

SHOWN_ERRORS = 20


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
    file again stores nothing twice (every batch answers duplicate). A record is stored once
    whatever batch brings it (source, kind and sourceRecordId identify it): records stored
    before are counted as duplicate records. A rejected batch lists its errors by line number
    in the file.
    """
    try:
        record_kind = RecordKind(kind.upper())
    except ValueError:
        console.print(f"[red]unknown kind {kind}; one of {', '.join(RecordKind)}[/red]")
        raise typer.Exit(2) from None
    from_stdin = str(file) == "-"
    totals = {"accepted": 0, "duplicate_records": 0, "duplicate": 0, "rejected": 0}
    with ExitStack() as cleanup:
        try:
            stream: BinaryIO = (
                sys.stdin.buffer if from_stdin else cleanup.enter_context(file.open("rb"))
            )
        except OSError as exc:
            console.print(f"[red]cannot read {file}: {exc.strerror or exc}[/red]")
            raise typer.Exit(2) from None
        # The bar measures bytes read against the file's size; a pipe has no size to measure.
        total = None if from_stdin else _regular_size(stream)
        runtime = _runtime()
        cleanup.callback(runtime.close)
        history = runtime.container.history
        principal = operator_principal(f"cli:{getpass.getuser()}", Role.INTEGRATION)
        batch_size = max(1, min(batch_size, runtime.settings.ingest_max_records))
        try:
            with Progress(*_columns(record_kind, total), console=console) as progress:
                task = progress.add_task("ingest", total=total, records=0, rate=0.0)
                started = time.monotonic()
                records = number = 0
                for batch in _batches(stream, batch_size):
                    if batch.records:  # not just the blank lines that end a file
                        number += 1
                        validator = history.new_validator(record_kind)
                        # Index n is line n + 1 of the file: blank lines are skipped, but
                        # counted.
                        validator.add_json_lines(batch.lines, batch.first_line - 1)
                        result = history.ingest(
                            principal,
                            source=source,
                            batch_id=f"{file.name}:{batch.digest}",
                            validator=validator,
                        )
                        if result.errors:
                            totals["rejected"] += 1
                            _report_rejected(number, batch, result)
                        elif result.duplicate:
                            totals["duplicate"] += 1
                        totals["accepted"] += result.accepted
                        totals["duplicate_records"] += result.duplicate_records
                        records += batch.records
                    elapsed = max(time.monotonic() - started, 1e-6)
                    progress.update(
                        task, advance=batch.size, records=records, rate=records / elapsed
                    )
                if total is not None:  # the file changed size while read: end the bar full
                    progress.update(task, total=progress.tasks[0].completed)
        except DomainError as exc:
            console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(1) from None
    console.print(
        f"accepted {totals['accepted']:,} records;"
        f" {totals['duplicate_records']:,} duplicate records;"
        f" {totals['duplicate']} duplicate batches; {totals['rejected']} rejected batches"
    )
    if totals["rejected"]:
        raise typer.Exit(1)


def _report_rejected(number: int, batch: _Batch, result: IngestResult) -> None:
    console.print(
        f"[red]batch {number} (lines {batch.first_line}-{batch.last_line}) rejected:[/red]"
    )
    for error in result.errors[:SHOWN_ERRORS]:
        console.print(f"  line {error.index + 1}: {error.field or ''} {error.reason}")
    more = max(result.error_count, len(result.errors)) - SHOWN_ERRORS
    if more > 0:
        console.print(f"  … and {more:,} more")


def _columns(kind: RecordKind, total: int | None) -> list[ProgressColumn]:
    columns: list[ProgressColumn] = [
        TextColumn(f"ingesting {kind.value}"),
        BarColumn(),  # pulses while there is no total
        TaskProgressColumn(),
        TextColumn("{task.fields[records]:,} records"),
        TextColumn("{task.fields[rate]:,.0f} records/s"),
    ]
    columns.append(TimeElapsedColumn() if total is None else TimeRemainingColumn())
    return columns


def _regular_size(stream: BinaryIO) -> int | None:
    info = os.fstat(stream.fileno())
    return info.st_size if stat.S_ISREG(info.st_mode) else None


@dataclass(frozen=True, slots=True)
class _Batch:
    first_line: int  # the file's line number of lines[0], counting from 1
    lines: list[bytes]  # as read, blank lines included
    records: int  # the lines that are not blank
    size: int  # bytes of all the lines
    digest: str  # of the records only, so blank lines never change a batch id

    @property
    def last_line(self) -> int:
        return self.first_line + len(self.lines) - 1


def _batches(stream: BinaryIO, size: int) -> Iterator[_Batch]:
    """Batches of `size` records, with the blank lines among them; a last batch of blank
    lines only (records == 0) still counts its bytes."""
    first = 1
    lines: list[bytes] = []
    records = nbytes = 0
    digest = hashlib.sha256()
    for raw in stream:
        lines.append(raw)
        nbytes += len(raw)
        if raw.strip():
            records += 1
            digest.update(raw)
            if records >= size:
                yield _Batch(first, lines, records, nbytes, digest.hexdigest()[:24])
                first += len(lines)
                lines, records, nbytes, digest = [], 0, 0, hashlib.sha256()
    if lines:
        yield _Batch(first, lines, records, nbytes, digest.hexdigest()[:24])
