"""Support-contact use cases (客服聯系人): list, add or update, remove."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application

from application.authz import Principal
from application.consistency import wait_until_applied
from application.ports import ReadModelWaiter
from application.unit_of_work import get_or_raise, run_command, save
from domain.access.permissions import Permission
from domain.knowledge.contact import ContactDetails, SupportContact

CONTACT_PROJECTIONS = ("support_contacts",)


@dataclass(frozen=True)
class ContactView:
    id: UUID
    name: str
    title: str | None
    phone: str | None
    email: str | None
    hours: str | None
    notes: str | None

    @classmethod
    def of(cls, contact: Any) -> ContactView:
        return cls(
            id=contact.id,
            name=contact.name,
            title=contact.title,
            phone=contact.phone,
            email=contact.email,
            hours=contact.hours,
            notes=contact.notes,
        )


@dataclass(frozen=True)
class ContactResult:
    contact: ContactView
    position: int


class SupportContactsReadModel(Protocol):
    def list(self) -> list[Any]:
        """Every current contact (id, name, title, phone, email, hours, notes), by name."""
        ...


class SupportContactService:
    def __init__(
        self,
        store: Application[UUID],
        contacts: SupportContactsReadModel,
        waiter: ReadModelWaiter,
    ) -> None:
        self.store = store
        self.contacts = contacts
        self.waiter = waiter

    def upsert(
        self,
        principal: Principal,
        contact_id: UUID | None,
        *,
        name: str,
        title: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        hours: str | None = None,
        notes: str | None = None,
    ) -> ContactResult:
        """Add a contact (no id) or update an existing one (its id; unknown ids are NOT_FOUND)."""
        principal.require(Permission.CONTACT_MANAGE)
        details = ContactDetails.parse(
            name=name, title=title, phone=phone, email=email, hours=hours, notes=notes
        )
        if contact_id is None:
            contact = SupportContact.add(details, principal.meta())
            return ContactResult(ContactView.of(contact), save(self.store, contact))

        def act(found: SupportContact) -> ContactResult:
            found.update(details, principal.meta())
            return ContactResult(ContactView.of(found), save(self.store, found))

        return run_command(lambda: self._contact(contact_id), act)

    def remove(self, principal: Principal, contact_id: UUID) -> ContactResult:
        principal.require(Permission.CONTACT_MANAGE)

        def act(found: SupportContact) -> ContactResult:
            found.remove(principal.meta())
            return ContactResult(ContactView.of(found), save(self.store, found))

        return run_command(lambda: self._contact(contact_id), act)

    def _contact(self, contact_id: UUID) -> SupportContact:
        return get_or_raise(self.store, contact_id, SupportContact, "contact")

    async def wait_for_list(self, principal: Principal, consistent_with: int | None) -> None:
        """Before `list`, for a caller who may read contacts: until the contacts read model
        has applied `consistent_with`."""
        principal.require(Permission.CONTACT_READ)
        await wait_until_applied(self.waiter, CONTACT_PROJECTIONS, consistent_with)

    def list(self, principal: Principal) -> list[ContactView]:
        principal.require(Permission.CONTACT_READ)
        return [ContactView.of(row) for row in self.contacts.list()]
