"""Generated platform history (every record kind) for demo subscribers and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from application.authz import Principal
from application.history.service import HistoryService
from domain.history.records import RecordKind

DEMO_SOURCE = "demo-platform"

# Records per subscriber per kind over the window (on average).
DEMO_RATES: dict[RecordKind, int] = {
    RecordKind.SMS: 24,
    RecordKind.MMS: 6,
    RecordKind.WAP_PUSH: 3,
    RecordKind.CAMPAIGN: 1,
    RecordKind.CHARGE: 3,
    RecordKind.LOGIN: 15,
    RecordKind.USAGE: 10,
    RecordKind.SYNC: 2,
    RecordKind.POINTS: 4,
}

_CATEGORIES = ["SELF_WRITTEN", "MAIL_ARRIVAL_NOTICE", "LOGIN_REMINDER", "MARKETING"]
_CAMPAIGNS = [
    ("C2026-SPRING", "春季邮箱抽奖"),
    ("C2026-139", "139邮箱十周年"),
    ("C2026-PUSH", "手机报订阅"),
]
_OPERATIONS = ["SEND_MAIL", "READ_MAIL", "DELETE_MAIL", "ADD_CONTACT", "SET_SIGNATURE"]
_SYNC = ["OPEN_ACCOUNT", "CHANGE_PLAN", "SUSPEND", "RESUME"]


def record_for(
    kind: RecordKind, rng: random.Random, msisdn: str, source_id: str, at: datetime
) -> dict[str, Any]:
    """One realistic record of a kind, in the contract's field names."""
    base: dict[str, Any] = {
        "msisdn": msisdn,
        "sourceRecordId": source_id,
        "occurredAt": at.isoformat(),
    }
    if kind in (RecordKind.SMS, RecordKind.MMS):
        category = rng.choice(_CATEGORIES)
        base |= {
            "direction": "SENT" if category == "SELF_WRITTEN" else "RECEIVED",
            "peer": "10658139" if category != "SELF_WRITTEN" else f"13{rng.randrange(10**9):09d}",
            "status": rng.choices(["DELIVERED", "FAILED", "PENDING"], [90, 7, 3])[0],
            "feeFen": 10 if category == "SELF_WRITTEN" else 0,
            "category": category,
            "sizeBytes": rng.randrange(200, 300_000) if kind is RecordKind.MMS else None,
        }
    elif kind is RecordKind.WAP_PUSH:
        base |= {
            "title": rng.choice(["您有新邮件", "139邮箱账单", "活动通知"]),
            "url": f"http://wap.139.com/m/{rng.randrange(10**6)}",
            "status": rng.choice(["DELIVERED", "DELIVERED", "FAILED"]),
            "feeFen": 0,
        }
    elif kind is RecordKind.CAMPAIGN:
        campaign_id, name = rng.choice(_CAMPAIGNS)
        won = rng.random() < 0.1
        base |= {
            "campaignId": campaign_id,
            "campaignName": name,
            "rank": rng.randrange(1, 5000),
            "won": won,
            "prize": "话费10元" if won else None,
        }
    elif kind is RecordKind.CHARGE:
        base |= {
            "amountFen": rng.choice([500, 2000, 100]),
            "method": rng.choice(["PHONE_BILL", "POINTS", "PREPAID"]),
            "item": rng.choice(["PLUS_5 月费", "VIP_20 月费", "彩信包"]),
        }
    elif kind is RecordKind.LOGIN:
        base |= {
            "channel": rng.choice(["WEB", "WAP", "POP", "IMAP", "CLIENT"]),
            "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "success": rng.random() > 0.05,
        }
    elif kind is RecordKind.USAGE:
        base |= {"operation": rng.choice(_OPERATIONS), "detail": None}
    elif kind is RecordKind.SYNC:
        base |= {
            "operation": rng.choice(_SYNC),
            "result": rng.choice(["OK", "OK", "OK", "RETRY"]),
            "bossTransactionId": f"BOSS{rng.randrange(10**10):010d}",
        }
    else:  # POINTS is filled in by points_records, which keeps a running balance
        raise ValueError(kind)
    return base


def points_records(
    rng: random.Random, msisdn: str, moments: Sequence[datetime]
) -> Iterator[dict[str, Any]]:
    balance = 0
    for n, at in enumerate(sorted(moments)):
        delta = rng.choice([10, 20, 50, -30])
        balance = max(0, balance + delta)
        yield {
            "msisdn": msisdn,
            "sourceRecordId": f"{msisdn}-pts-{n}",
            "occurredAt": at.isoformat(),
            "delta": delta,
            "balance": balance,
            "level": min(5, balance // 100),
            "reason": "每日登录" if delta > 0 else "积分兑换",
        }


def generate_history(
    msisdns: Sequence[str], now: datetime, days: int = 90, seed: int = 139
) -> dict[RecordKind, list[dict[str, Any]]]:
    """Records of every kind for the numbers, spread over the last `days` days."""
    rng = random.Random(seed)
    window = timedelta(days=days).total_seconds()
    by_kind: dict[RecordKind, list[dict[str, Any]]] = {kind: [] for kind in RecordKind}
    for msisdn in msisdns:
        for kind, rate in DEMO_RATES.items():
            count = rng.randint(max(0, rate // 2), rate + rate // 2)
            moments = [now - timedelta(seconds=rng.random() * window) for _ in range(count)]
            if kind is RecordKind.POINTS:
                by_kind[kind].extend(points_records(rng, msisdn, moments))
                continue
            for n, at in enumerate(moments):
                source_id = f"{msisdn}-{kind.value.lower()}-{n}"
                by_kind[kind].append(record_for(kind, rng, msisdn, source_id, at))
    return by_kind


def load_demo_history(
    history: HistoryService, platform: Principal, msisdns: Sequence[str], now: datetime
) -> int:
    """Ingest generated history through the normal path; re-running stores nothing twice
    (the records' ids repeat, so a later run's records are duplicates; its batches, whose
    records' times move with `now`, have batch ids of their own)."""
    stored = 0
    now = now.astimezone(UTC)
    generated = generate_history(msisdns, now)
    for kind, records in generated.items():
        if not records:
            continue
        result = history.ingest_records(
            platform,
            source=DEMO_SOURCE,
            batch_id=f"demo-{kind.value.lower()}-{now:%Y%m%dT%H%M%S}",
            kind=kind,
            records=records,
        )
        stored += result.accepted
    return stored
