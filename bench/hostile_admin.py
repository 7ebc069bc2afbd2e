"""The well-behaved client of bench/hostile_clients.py: an admin sending `{ me }` and a
setCompanion toggle on its own mailbox, one after the other on one keep-alive connection,
timing every answer."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_attacks import call
from serving import KeepAliveConnection

OWN_MAILBOX = "19900001390"  # the admin's own: no other client touches it
MAX_ADMIN_ROUNDS = 1_000_000  # per phase, on top of its deadline
SETTLE_LIMIT = 60.0


@dataclass
class Tally:
    me: list[float] = field(default_factory=list)
    mutation: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


@dataclass
class Admin:
    """The well-behaved client: one connection, `{ me }` then a setCompanion toggle."""

    connection: KeepAliveConnection
    companion: bool = False
    head: int = 0  # the newest core position it has seen (its mutations' `position`)

    async def me(self) -> tuple[str, float]:
        began = time.monotonic()
        key, _ = await call(self.connection, {"query": "{ me { username } }"})
        return key, time.monotonic() - began

    async def toggle(self) -> tuple[str, float]:
        wanted = not self.companion
        document = (
            "mutation($i: SetCompanionInput!) { setCompanion(input: $i)"
            " { position userErrors { code } } }"
        )
        variables = {"i": {"msisdn": OWN_MAILBOX, "enabled": wanted}}
        began = time.monotonic()
        key, body = await call(self.connection, {"query": document, "variables": variables})
        took = time.monotonic() - began
        result = ((body or {}).get("data") or {}).get("setCompanion") or {}
        if result:
            # A userError most likely means an earlier, timed-out toggle did land.
            self.companion = wanted
            self.head = max(self.head, result.get("position") or 0)
            if result.get("userErrors"):
                key = "200 " + "+".join(str(e.get("code")) for e in result["userErrors"])
        return key, took

    async def loop(self, start_at: float, stop_at: float, tally: Tally) -> None:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        for _ in range(MAX_ADMIN_ROUNDS):
            if time.monotonic() >= stop_at:
                return
            # Every answer's time counts, errors' too: it is what the admin waited.
            key, took = await self.me()
            tally.me.append(took)
            if key != "200 OK":
                tally.error(f"me: {key}")
            key, took = await self.toggle()
            tally.mutation.append(took)
            if key != "200 OK":
                tally.error(f"setCompanion: {key}")

    async def settle(self) -> float:
        """Seconds until `{ me }` answers quickly three times running (the server has drained
        what the attackers left queued), at most SETTLE_LIMIT."""
        began = time.monotonic()
        quick = 0
        while quick < 3 and time.monotonic() - began < SETTLE_LIMIT:
            key, took = await self.me()
            quick = quick + 1 if key == "200 OK" and took < 0.1 else 0
            await asyncio.sleep(0.2)
        return time.monotonic() - began


async def own_mailbox(admin: Admin) -> None:
    register = (
        "mutation($i: RegisterMailboxInput!) { registerMailbox(input: $i) { userErrors { code } } }"
    )
    variables = {"i": {"msisdn": OWN_MAILBOX, "province": "GD", "planCode": "FREE"}}
    await admin.connection.post({"query": register, "variables": variables})  # or already there
    found = await admin.connection.post(
        {"query": f'{{ subscriber(msisdn: "{OWN_MAILBOX}") {{ status companionEnabled }} }}'}
    )
    subscriber = (found.get("data") or {}).get("subscriber")
    if not subscriber or subscriber["status"] != "ACTIVE":
        raise RuntimeError(f"the admin's own mailbox {OWN_MAILBOX} is not active: {found}")
    admin.companion = subscriber["companionEnabled"]
