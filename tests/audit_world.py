"""Random change histories over every core aggregate type, for the audit tests.

A step names an operation and which of the existing streams it acts on; steps that break a
business rule store nothing and are skipped (the history is still a real one). After every
step the touched stream's whole state is recorded with the time, so as-of answers and replays
can be compared with what the system really showed then.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from application.audit.as_of import aggregate_state
from application.authz import Principal
from application.subscribers.commands import ChangeContext
from application.support.announcements import AnnouncementInput
from domain.access.permissions import Role
from domain.shared import DomainError
from domain.support.values import AnnouncementSeverity, TicketCategory, TicketPriority
from infra.bootstrap import Container

OPERATIONS = (
    "account.create",
    "account.role",
    "account.disable",
    "account.enable",
    "account.reset",
    "subscriber.register",
    "subscriber.plan",
    "subscriber.companion",
    "subscriber.password",
    "subscriber.freeze",
    "subscriber.unfreeze",
    "subscriber.alias",
    "ticket.draft",
    "ticket.submit",
    "ticket.answer",
    "announcement.publish",
    "announcement.revise",
    "announcement.withdraw",
    "faq.create",
    "faq.revise",
    "faq.remove",
    "contact.add",
    "contact.update",
    "contact.remove",
)

_CREATE = {
    "account": "create",
    "subscriber": "register",
    "ticket": "draft",
    "announcement": "publish",
    "faq": "create",
    "contact": "add",
}

steps = st.lists(
    st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 5), st.integers(0, 3)),
    min_size=3,
    max_size=30,
)

_serial = itertools.count(1)


@dataclass
class Recorded:
    at: datetime
    stream_type: str
    stream_id: str
    originator_id: uuid.UUID
    state: dict[str, Any]


@dataclass
class History:
    """Drives the container's own services as a SUPER_ADMIN."""

    container: Container
    admin: Principal
    run: str = field(default_factory=lambda: f"{next(_serial)}{uuid.uuid4().hex[:4]}")
    streams: dict[str, list[tuple[str, uuid.UUID]]] = field(default_factory=dict)
    recorded: list[Recorded] = field(default_factory=list)
    refused: int = 0

    def play(self, plan: list[tuple[str, int, int]]) -> None:
        for operation, target, variant in plan:
            self.step(operation, target, variant)

    def step(self, operation: str, target: int, variant: int) -> None:
        kind, verb = operation.split(".")
        known = self.streams.get(kind, [])
        existing = known[target % len(known)] if known else None
        if existing is None:
            verb = _CREATE[kind]  # nothing to change yet: start one
        try:
            touched = getattr(self, f"_{kind}_{verb}")(existing, variant)
        except DomainError:
            self.refused += 1
            return
        for stream_type, stream_id, originator_id in touched:
            self.record(stream_type, stream_id, originator_id)

    def record(self, stream_type: str, stream_id: str, originator_id: uuid.UUID) -> None:
        store = self.container.feed if stream_type == "PlatformBatch" else self.container.core
        state = aggregate_state(store.repository.get(originator_id))
        time.sleep(0.001)  # the next change happens strictly later than this reading
        self.recorded.append(
            Recorded(datetime.now(UTC), stream_type, stream_id, originator_id, state)
        )

    def _new(self, kind: str, key: str, originator_id: uuid.UUID) -> None:
        self.streams.setdefault(kind, []).append((key, originator_id))

    # ------------------------------------------------------------------ accounts
    def _account_create(self, _: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        username = f"aud{self.run}x{len(self.streams.get('account', []))}"
        role = (Role.VIEWER, Role.AUDITOR, Role.SECOND_LINE_AGENT, Role.VIEWER)[variant]
        result = self.container.access.create_account(
            self.admin,
            username=username,
            display_name=f"User {variant}",
            role=role,
            province=None,
            initial_password="a-good-password-1",
        )
        self._new("account", username, result.account.id)
        return [("Account", username, result.account.id)]

    def _account_role(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        role, province = (
            (Role.VIEWER, None),
            (Role.PROVINCE_AGENT, "GD"),
            (Role.AUDITOR, None),
            (Role.PROVINCE_AGENT, "BJ"),
        )[variant]
        self.container.access.change_role(self.admin, existing[1], role, province, None)
        return [("Account", *existing)]

    def _account_disable(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.access.disable(self.admin, existing[1], f"reason {variant}")
        return [("Account", *existing)]

    def _account_enable(self, existing: Any, _: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.access.enable(self.admin, existing[1])
        return [("Account", *existing)]

    def _account_reset(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.access.reset_password(self.admin, existing[1], f"new-password-{variant}x")
        return [("Account", *existing)]

    # ------------------------------------------------------------------ subscribers
    def _subscriber_register(self, _: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        msisdn = f"138{uuid.uuid4().int % 10**8:08d}"
        result = self.container.subscribers.register(
            self.admin, msisdn, ("GD", "BJ", "SH", "GD")[variant], "FREE"
        )
        self._new("subscriber", msisdn, result.subscriber.id)
        return [("Subscriber", msisdn, result.subscriber.id)]

    def _subscriber_plan(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        plan = ("FREE", "PLUS_5", "VIP_20", "PLUS_5")[variant]
        context = ChangeContext(reason=f"customer asked {variant}", ticket_id=None)
        self.container.subscribers.change_plan(self.admin, existing[0], plan, context)
        return [("Subscriber", *existing)]

    def _subscriber_companion(
        self, existing: Any, variant: int
    ) -> list[tuple[str, str, uuid.UUID]]:
        self.container.subscribers.set_companion(self.admin, existing[0], variant % 2 == 0)
        return [("Subscriber", *existing)]

    def _subscriber_password(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.subscribers.change_password(self.admin, existing[0], f"Secret{variant}pw")
        return [("Subscriber", *existing)]

    def _subscriber_freeze(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.subscribers.freeze(self.admin, existing[0], f"suspicious {variant}")
        return [("Subscriber", *existing)]

    def _subscriber_unfreeze(self, existing: Any, _: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.subscribers.unfreeze(self.admin, existing[0])
        return [("Subscriber", *existing)]

    def _subscriber_alias(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        alias = None if variant == 3 else f"al{self.run}v{variant}"
        self.container.subscribers.set_alias(self.admin, existing[0], alias)
        return [("Subscriber", *existing)]

    # ------------------------------------------------------------------ tickets
    def _ticket_draft(self, _: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        result = self.container.tickets.save_draft(
            self.admin,
            ticket_id=None,
            title=f"Ticket {variant}",
            body="The customer cannot log in",
            category=list(TicketCategory)[variant],
            priority=list(TicketPriority)[variant],
            province="GD",
        )
        assert result.ticket is not None
        key = str(result.ticket.id)
        self._new("ticket", key, result.ticket.id)
        return [("Ticket", key, result.ticket.id)]

    def _ticket_submit(self, existing: Any, _: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.tickets.submit(self.admin, existing[1])
        return [("Ticket", *existing)]

    def _ticket_answer(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.tickets.answer(self.admin, existing[1], f"Answer {variant}")
        return [("Ticket", *existing)]

    # ------------------------------------------------------------------ announcements
    def _announcement_publish(self, _: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        result = self.container.announcements.publish(self.admin, _notice(variant))
        key = str(result.announcement.id)
        self._new("announcement", key, result.announcement.id)
        return [("Announcement", key, result.announcement.id)]

    def _announcement_revise(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.announcements.revise(self.admin, existing[1], _notice(variant + 1), None)
        return [("Announcement", *existing)]

    def _announcement_withdraw(
        self, existing: Any, variant: int
    ) -> list[tuple[str, str, uuid.UUID]]:
        self.container.announcements.withdraw(self.admin, existing[1], f"done {variant}")
        return [("Announcement", *existing)]

    # ------------------------------------------------------------------ knowledge
    def _faq_create(self, _: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        result = self.container.knowledge.create_faq(
            self.admin, title=f"如何找回密码 {variant}", body="步骤", category="账号", keywords=None
        )
        key = str(result.faq.id)
        self._new("faq", key, result.faq.id)
        return [("Faq", key, result.faq.id)]

    def _faq_revise(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.knowledge.revise_faq(
            self.admin,
            existing[1],
            title=f"修改 {variant}",
            body=f"新的步骤 {variant}",
            category="账号",
            keywords=["密码"],
        )
        return [("Faq", *existing)]

    def _faq_remove(self, existing: Any, _: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.knowledge.remove_faq(self.admin, existing[1])
        return [("Faq", *existing)]

    def _contact_add(self, _: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        result = self.container.contacts.upsert(
            self.admin, None, name=f"Desk {variant}", phone="10086"
        )
        key = str(result.contact.id)
        self._new("contact", key, result.contact.id)
        return [("SupportContact", key, result.contact.id)]

    def _contact_update(self, existing: Any, variant: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.contacts.upsert(
            self.admin, existing[1], name=f"Desk {variant}", hours=f"9-{17 + variant}"
        )
        return [("SupportContact", *existing)]

    def _contact_remove(self, existing: Any, _: int) -> list[tuple[str, str, uuid.UUID]]:
        self.container.contacts.remove(self.admin, existing[1])
        return [("SupportContact", *existing)]


def _notice(variant: int) -> AnnouncementInput:
    return AnnouncementInput(
        title=f"Maintenance {variant}",
        body="Mail may be slow tonight",
        severity=list(AnnouncementSeverity)[variant % 3],
        provinces=["GD"] if variant % 2 else None,
    )
