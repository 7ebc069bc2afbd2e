"""The SupportContact aggregate: how staff reach the vendor's support centre (客服聯系人)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.shared import ChangeMeta, DomainError, NoChangeError, ValidationError
from domain.text import Text

MAX_NAME = 64
MAX_TITLE = 64
MAX_PHONE = 40
MAX_EMAIL = 254
MAX_HOURS = 100
MAX_NOTES = 1000

# A contact's free text (domain.text): all but the notes are one line. An empty or overlong
# value keeps the code it always had.
_text = partial(Text, too_long_code="INVALID_INPUT", empty_code="INVALID_INPUT")
NAME = _text("name", MAX_NAME, line=True)
TITLE = _text("title", MAX_TITLE, line=True)
PHONE = _text("phone", MAX_PHONE, line=True)
EMAIL = _text("email", MAX_EMAIL, line=True)
HOURS = _text("hours", MAX_HOURS, line=True)
NOTES = _text("notes", MAX_NOTES)

# Digits with the usual separators, an optional +country code and an extension written as
# "ext", "x", "转" or "分机" (e.g. "+86 20 0000 1390 转 2").
PHONE_RE = re.compile(r"\+?[0-9][0-9 ()\-./]*(?:\s*(?:ext\.?|x|转|轉|分机|分機)\s*[0-9]+)?", re.I)
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")


class SupportContactRemovedError(DomainError):
    code = "CONTACT_REMOVED"


@dataclass(frozen=True)
class ContactDetails:
    """A contact's fields, validated: a name, and optional title, phone, email, hours, notes."""

    name: str
    title: str | None = None
    phone: str | None = None
    email: str | None = None
    hours: str | None = None
    notes: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        name: str,
        title: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        hours: str | None = None,
        notes: str | None = None,
    ) -> ContactDetails:
        clean_phone = PHONE.optional(phone)
        if clean_phone is not None and not PHONE_RE.fullmatch(clean_phone):
            raise ValidationError(
                "phone must be digits with spaces, dashes or brackets, e.g. +86 20 0000 1390",
                code="INVALID_PHONE",
                field=["phone"],
            )
        clean_email = EMAIL.optional(email)
        if clean_email is not None and not EMAIL_RE.fullmatch(clean_email):
            raise ValidationError(
                "email must look like name@example.com", code="INVALID_EMAIL", field=["email"]
            )
        return cls(
            name=NAME.clean(name, required=True),
            title=TITLE.optional(title),
            phone=clean_phone,
            email=clean_email,
            hours=HOURS.optional(hours),
            notes=NOTES.optional(notes),
        )

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


class SupportContact(Aggregate):
    """One way to reach the support centre: a person, a desk or a hotline."""

    TOPIC = "spoa.knowledge:SupportContact"

    class Event(Aggregate.Event):
        TOPIC = "spoa.knowledge:SupportContact.Event"

    @event("SupportContactAdded", topic="spoa.knowledge:SupportContact.SupportContactAdded")
    def __init__(
        self,
        name: str,
        title: str | None,
        phone: str | None,
        email: str | None,
        hours: str | None,
        notes: str | None,
        meta: ChangeMeta,
    ) -> None:
        self._set(name, title, phone, email, hours, notes)
        self.removed = False

    def _set(
        self,
        name: str,
        title: str | None,
        phone: str | None,
        email: str | None,
        hours: str | None,
        notes: str | None,
    ) -> None:
        self.name = name
        self.title = title
        self.phone = phone
        self.email = email
        self.hours = hours
        self.notes = notes

    @classmethod
    def add(cls, details: ContactDetails, meta: ChangeMeta) -> SupportContact:
        fields: dict[str, Any] = {**details.as_dict(), "meta": meta}
        return cls(**fields)

    @property
    def details(self) -> ContactDetails:
        return ContactDetails(self.name, self.title, self.phone, self.email, self.hours, self.notes)

    def update(self, details: ContactDetails, meta: ChangeMeta) -> None:
        if self.removed:
            raise SupportContactRemovedError("this contact was removed")
        if details == self.details:
            raise NoChangeError("the contact already reads like this")
        self._updated(
            name=details.name,
            title=details.title,
            phone=details.phone,
            email=details.email,
            hours=details.hours,
            notes=details.notes,
            meta=meta,
        )

    @event("SupportContactUpdated", topic="spoa.knowledge:SupportContact.SupportContactUpdated")
    def _updated(
        self,
        name: str,
        title: str | None,
        phone: str | None,
        email: str | None,
        hours: str | None,
        notes: str | None,
        meta: ChangeMeta,
    ) -> None:
        self._set(name, title, phone, email, hours, notes)

    def remove(self, meta: ChangeMeta) -> None:
        if self.removed:
            raise SupportContactRemovedError("this contact was removed already")
        self._removed(meta=meta)

    @event("SupportContactRemoved", topic="spoa.knowledge:SupportContact.SupportContactRemoved")
    def _removed(self, meta: ChangeMeta) -> None:
        self.removed = True
