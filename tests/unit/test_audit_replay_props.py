"""Replay from export lines reproduces the live state, for random subscriber histories in an
in-memory store that snapshots every 3 events (so the live state often comes from a snapshot,
the replayed one never does). Many examples, no database: the fast half of the property; the
integration half exports from PostgreSQL (tests/integration/test_audit_replay.py)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from application.audit.as_of import aggregate_state
from application.subscribers.commands import ChangeContext
from domain.audit.catalogue import NATURAL_KEYS, stream_type_of_topic
from domain.shared import DomainError
from domain.subscribers.rules import SmsBlacklistLevel
from domain.subscribers.subscriber import subscriber_id_for
from infra.audit_export import export_line, replay_export
from infra.bootstrap import offline_mapper
from projections.audit.chain import load_state
from tests.subscriber_helpers import PRINCIPALS, memory_commands

MAPPER = offline_mapper()
NUMBERS = ("13800138000", "13900139000")
ADMIN = PRINCIPALS["admin"]

commands = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "register",
                "plan",
                "companion",
                "bill",
                "reminder",
                "blacklist",
                "password",
                "freeze",
                "unfreeze",
                "alias",
                "deregister",
            ]
        ),
        st.sampled_from(NUMBERS),
        st.integers(0, 3),
    ),
    max_size=30,
)


def run(service: Any, command: str, msisdn: str, n: int) -> None:
    why = ChangeContext(reason=f"asked {n}")  # a cited ticket must exist: not part of this
    actions = {
        "register": lambda: service.register(ADMIN, msisdn, ("GD", "BJ")[n % 2], "FREE", why),
        "plan": lambda: service.change_plan(ADMIN, msisdn, ("FREE", "PLUS_5", "VIP_20")[n % 3]),
        "companion": lambda: service.set_companion(ADMIN, msisdn, n % 2 == 0, why),
        "bill": lambda: service.set_bill_delivery(ADMIN, msisdn, n % 2 == 1),
        "reminder": lambda: service.set_login_reminder(ADMIN, msisdn, n % 2 == 0),
        "blacklist": lambda: service.set_sms_blacklist(ADMIN, msisdn, list(SmsBlacklistLevel)[n]),
        "password": lambda: service.change_password(ADMIN, msisdn, f"Pw{n}secret"),
        "freeze": lambda: service.freeze(ADMIN, msisdn, f"fraud {n}"),
        "unfreeze": lambda: service.unfreeze(ADMIN, msisdn),
        "alias": lambda: service.set_alias(ADMIN, msisdn, None if n == 3 else f"a{msisdn[-4:]}{n}"),
        "deregister": lambda: service.deregister(ADMIN, msisdn),
    }
    with contextlib.suppress(DomainError):  # a refused command stores nothing
        actions[command]()


def export_all(store: Any) -> list[str]:
    """Export lines for every stored event, as `spoa audit export` writes them."""
    lines = []
    keys: dict[Any, str] = {}
    for position, notification in enumerate(store.recorder.select_notifications(1, 10_000), 1):
        state = load_state(notification.state)
        assert state is not None
        attribute = NATURAL_KEYS.get(stream_type_of_topic(notification.topic))
        if attribute and notification.originator_version == 1:
            keys[notification.originator_id] = state[attribute]
        line = export_line(
            position,
            notification.originator_id,
            notification.originator_version,
            notification.topic,
            state,
            keys.get(notification.originator_id),
        )
        lines.append(json.dumps(line, ensure_ascii=False))
    return lines


@settings(max_examples=60)
@given(history=commands)
def test_replaying_an_export_gives_the_live_state(history: list[tuple[str, str, int]]) -> None:
    service, store = memory_commands()
    for command, msisdn, n in history:
        run(service, command, msisdn, n)
    lines = export_all(store)
    assert "$fake$" not in "".join(lines)  # password hashes are redacted
    for msisdn in NUMBERS:
        result = replay_export(lines, f"Subscriber/{msisdn}", None, MAPPER)
        stored = list(store.events.get(subscriber_id_for(msisdn)))
        if not stored:
            assert result.aggregate is None
            continue
        live = store.repository.get(subscriber_id_for(msisdn))
        assert result.aggregate is not None
        assert aggregate_state(result.aggregate) == aggregate_state(live)
        assert result.version == live.version
