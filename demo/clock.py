"""The clock the demo's services read: set to the time each demo command happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class DemoClock:
    """A `Clock` (application/ports.py) that says whatever time the demo set last."""

    at: datetime

    def now(self) -> datetime:
        return self.at
