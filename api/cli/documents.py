"""`spoa documents sweep [--dry-run]`: delete stored FAQ document bytes that no stored event
refers to (application/knowledge/document_sweep.py). The report goes to stdout."""

from __future__ import annotations

from typing import Annotated

import typer

from application.knowledge.ports import SweepReport
from infra.runtime import cli_runtime

TIME = "%Y-%m-%d %H:%M:%S%z"

documents_app = typer.Typer(help="FAQ documents: the stored bytes.", no_args_is_help=True)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def report_lines(report: SweepReport) -> list[str]:
    verb = "would remove" if report.dry_run else "removed"
    lines = [
        f"{verb} {d.sha256} {d.size_bytes} bytes {d.filename!r}"
        f" (stored {d.stored_at:{TIME}}, last claimed {d.claimed_at:{TIME}})"
        for d in report.removed
    ]
    count = len(report.removed)
    freed = "would free" if report.dry_run else "freed"
    lines.append(
        f"{verb} {count} orphan document{'' if count == 1 else 's'}, {freed}"
        f" {report.bytes_freed} bytes ({human_bytes(report.bytes_freed)});"
        f" {report.checked} unclaimed since {report.cutoff:{TIME}},"
        f" {report.referenced} of them referenced by stored events"
    )
    return lines


@documents_app.command("sweep")
def sweep(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be removed; remove nothing")
    ] = False,
) -> None:
    """Delete document bytes no stored event refers to, once unclaimed for the grace period
    (SPOA_BLOB_ORPHAN_GRACE_HOURS). Bytes of detached documents and removed FAQs stay: their
    earlier versions refer to them."""
    runtime = cli_runtime()
    try:
        report = runtime.container.document_sweeper.sweep(dry_run=dry_run)
    finally:
        runtime.close()
    for line in report_lines(report):
        typer.echo(line)
