"""What an endpoint may be: an http(s) URL without credentials, on an allowed host, and the
event types it subscribes to. Each broken rule has its own stable code."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.shared import DomainError, ValidationError
from domain.text import Text, forbidden_character

MAX_URL = 2000
MAX_DESCRIPTION = 500
MAX_EVENT_TYPES = 100
WILDCARD = "*"
# One line of text (domain.text); an empty or overlong one keeps the code it always had.
DESCRIPTION = Text(
    "description",
    MAX_DESCRIPTION,
    line=True,
    path=("input", "description"),
    too_long_code="INVALID_INPUT",
    empty_code="INVALID_INPUT",
)


class InvalidUrlError(ValidationError):
    code = "INVALID_URL"


class InvalidUrlSchemeError(ValidationError):
    code = "INVALID_URL_SCHEME"


class UrlCredentialsError(ValidationError):
    code = "URL_HAS_CREDENTIALS"


class HostNotAllowedError(ValidationError):
    code = "HOST_NOT_ALLOWED"


class UnknownEventTypeError(ValidationError):
    code = "UNKNOWN_EVENT_TYPE"


class EventTypesRequiredError(ValidationError):
    code = "EVENT_TYPES_REQUIRED"


class AlreadyDisabledError(DomainError):
    code = "ALREADY_DISABLED"


class AlreadyEnabledError(DomainError):
    code = "ALREADY_ENABLED"


class NotRedeliverableError(DomainError):
    code = "NOT_REDELIVERABLE"


@dataclass(frozen=True)
class AllowedHosts:
    """SPOA_WEBHOOK_ALLOWED_HOSTS: exact host names, `*.example.com` (any subdomain) and IP
    addresses or networks; empty allows every host. Matched against the URL's host as
    written (no name is resolved)."""

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowedHosts:
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for item in (part.strip().lower() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if item.startswith("*."):
                suffixes.append(item[1:])
            elif item.startswith("."):
                suffixes.append(item)
            else:
                names.add(item)
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    @property
    def restricted(self) -> bool:
        return bool(self.names or self.suffixes or self.networks)

    def permits(self, host: str) -> bool:
        if not self.restricted:
            return True
        host = host.lower().strip("[]").rstrip(".")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in self.names or any(host.endswith(s) for s in self.suffixes)
        return any(address in network for network in self.networks) or host in self.names


def url_host(url: str) -> str:
    """The host of a URL as validated (lower case, IPv6 without brackets)."""
    return (urlsplit(url).hostname or "").lower()


def clean_url(value: str, allowed: AllowedHosts) -> str:
    field = ["input", "url"]
    url = value.strip()
    if (
        not url
        or len(url) > MAX_URL
        or any(c.isspace() for c in url)
        or forbidden_character(url, line=True) is not None
    ):
        raise InvalidUrlError(
            f"url must be an absolute http(s) URL of at most {MAX_URL} characters, without spaces",
            field=field,
        )
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidUrlSchemeError(
            f"url must start with http:// or https:// (not {parts.scheme or 'no scheme'}:)",
            field=field,
        )
    if "@" in parts.netloc:
        raise UrlCredentialsError(
            "url must not carry credentials (user:password@); receivers check the signature",
            field=field,
        )
    try:
        port = parts.port
    except ValueError:
        raise InvalidUrlError("url has an invalid port", field=field) from None
    host = parts.hostname
    if not host or port == 0:
        raise InvalidUrlError("url must name a host", field=field)
    if parts.fragment:
        raise InvalidUrlError("url must not have a #fragment (it is never sent)", field=field)
    if not allowed.permits(host):
        raise HostNotAllowedError(f"host {host} is not in SPOA_WEBHOOK_ALLOWED_HOSTS", field=field)
    return url


def clean_event_types(values: Iterable[str], known: Collection[str]) -> tuple[str, ...]:
    """`<streamType>.<type>` as the events feed names them, or `<streamType>.*`; in the order
    given, without repeats. `known` holds every deliverable type (wildcards included)."""
    cleaned: list[str] = []
    for index, value in enumerate(values):
        name = value.strip()
        if name not in known:
            raise UnknownEventTypeError(
                f"unknown event type {name!r}: use <streamType>.<type> as the events feed"
                " names them (e.g. Subscriber.PlanChanged) or <streamType>.*",
                field=["input", "eventTypes", str(index)],
            )
        if name not in cleaned:
            cleaned.append(name)
    if not cleaned:
        raise EventTypesRequiredError("name at least one event type", field=["input", "eventTypes"])
    if len(cleaned) > MAX_EVENT_TYPES:
        raise ValidationError(
            f"at most {MAX_EVENT_TYPES} event types", field=["input", "eventTypes"]
        )
    return tuple(cleaned)


@dataclass(frozen=True)
class EndpointSubscription:
    """Where an endpoint receives and what: validated url, event types and description."""

    url: str
    event_types: tuple[str, ...]
    description: str | None

    @classmethod
    def clean(
        cls,
        *,
        url: str,
        event_types: Iterable[str],
        description: str | None,
        allowed_hosts: AllowedHosts,
        known_event_types: Collection[str],
    ) -> EndpointSubscription:
        return cls(
            url=clean_url(url, allowed_hosts),
            event_types=clean_event_types(event_types, known_event_types),
            description=DESCRIPTION.optional(description),
        )


def subscribes_to(event_types: Collection[str], stream_type: str, event_type: str) -> bool:
    """Whether a subscription takes `<stream_type>.<event_type>`."""
    return (
        f"{stream_type}.{event_type}" in event_types or f"{stream_type}.{WILDCARD}" in event_types
    )
