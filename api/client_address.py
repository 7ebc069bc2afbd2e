"""Who is calling, for the login throttle: the socket peer, or what a trusted proxy says.

X-Forwarded-For is believed only when the peer is one of `SPOA_TRUSTED_PROXIES`, and then the
client is the nearest address in it that is not a trusted proxy itself (each proxy appends the
address it saw, so anything further left may be made up by the client). uvicorn's
proxy_headers, which `spoa serve` ties to the same list, pick the same address; reading it
again here changes nothing then, and covers servers that do not.
"""

from __future__ import annotations

import ipaddress
from typing import Any

FORWARDED_FOR = b"x-forwarded-for"


def _host(value: str) -> str:
    """An X-Forwarded-For entry without its port ("1.2.3.4:80", "[::1]:80")."""
    value = value.strip()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


class ClientAddresses:
    def __init__(self, trusted_proxies: list[str]) -> None:
        self._networks = [ipaddress.ip_network(item, strict=False) for item in trusted_proxies]

    def _trusted(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def of(self, scope: Any) -> str | None:
        client = scope.get("client")
        peer: str | None = client[0] if client else None
        if not self._networks or peer is None or not self._trusted(peer):
            return peer
        values = [value for name, value in scope["headers"] if name == FORWARDED_FOR]
        if not values:
            return peer
        hosts = [_host(h) for h in b",".join(values).decode("latin-1").split(",")]
        hosts = [h for h in hosts if h]
        for host in reversed(hosts):
            if not self._trusted(host):
                return host
        return hosts[0] if hosts else peer
