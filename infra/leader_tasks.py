"""Work done now and then by the process that leads a projection, beside its runner: the
orphan document sweep (leader of faqs, whose read model the sweep's reference check reads)
and, with SPOA_AUDIT_ANCHOR_DIR, a signed anchor at each checkpoint (leader of audit)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from infra.anchors import CheckpointAnchors, signer_for
from infra.blobs import PeriodicDocumentSweep
from infra.settings import Settings


class LeaderTasks:
    def __init__(
        self,
        settings: Settings,
        sweep: Callable[[], Any],
        sealed_after: Callable[[int], Sequence[tuple[int, str]]],
        now: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._sweep = sweep
        self._sealed_after = sealed_after
        self._now = now
        self.document_sweep: PeriodicDocumentSweep | None = None
        self.anchor_writer: CheckpointAnchors | None = None

    def start(self, leads: Callable[[str], bool]) -> None:
        """Start them; `leads(name)`: whether this process leads that projection now. A
        signing key that cannot be read stops the start."""
        self.stop()
        interval = self._settings.blob_sweep_interval_hours * 3600
        if interval > 0:
            self.document_sweep = PeriodicDocumentSweep(
                self._sweep, interval, lambda: leads("faqs")
            )
            self.document_sweep.start()
        directory = self._settings.audit_anchor_dir
        if directory is not None:
            self.anchor_writer = CheckpointAnchors(
                directory,
                signer_for(self._settings.audit_signing_key),
                self._sealed_after,
                lambda: leads("audit"),
                self._settings.projection_poll_seconds,
                self._now,
            )
            self.anchor_writer.start()

    def stop(self) -> None:
        if self.document_sweep is not None:
            self.document_sweep.stop()
            self.document_sweep = None
        if self.anchor_writer is not None:
            self.anchor_writer.stop()
            self.anchor_writer = None
