"""What demo data a database holds already, read from the core log through the audit service,
so that loading the demo twice adds nothing."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.audit.service import AuditService
from application.authz import Principal

PAGE = 500


@dataclass(frozen=True)
class DemoLedger:
    audit: AuditService
    auditor: Principal

    def created(self, event_type: str, field: str) -> dict[str, UUID]:
        """The stream id of every `event_type` event by the value of its `field` (first wins)."""
        found: dict[str, UUID] = {}
        after = 0
        while page := self.audit.events(self.auditor, after, PAGE, [event_type]):
            for entry in page:
                found.setdefault(str(entry.data.get(field)), UUID(entry.stream_id))
            after = page[-1].position
        return found

    def has_subscriber(self, msisdn: str) -> bool:
        return bool(self.audit.trail(self.auditor, "Subscriber", msisdn, 0, 1))
