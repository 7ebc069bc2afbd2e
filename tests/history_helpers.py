"""Builders for history records in the contract's field names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.history.records import RecordKind

GD_NUMBER = "13800138000"
BJ_NUMBER = "13900139000"

VALID: dict[RecordKind, dict[str, Any]] = {
    RecordKind.SMS: {
        "direction": "SENT",
        "peer": "13912345678",
        "status": "DELIVERED",
        "feeFen": 10,
        "category": "SELF_WRITTEN",
        "sizeBytes": None,
    },
    RecordKind.MMS: {
        "direction": "RECEIVED",
        "peer": "10658139",
        "status": "PENDING",
        "feeFen": 0,
        "category": "MAIL_ARRIVAL_NOTICE",
        "sizeBytes": 2048,
    },
    RecordKind.WAP_PUSH: {
        "title": "您有新邮件",
        "url": "http://wap.139.com/x",
        "status": "FAILED",
        "feeFen": 0,
    },
    RecordKind.CAMPAIGN: {
        "campaignId": "C1",
        "campaignName": "春季抽奖",
        "rank": 3,
        "won": True,
        "prize": "话费10元",
    },
    RecordKind.CHARGE: {"amountFen": 500, "method": "PHONE_BILL", "item": "PLUS_5"},
    RecordKind.LOGIN: {"channel": "POP", "ip": "10.0.0.1", "success": True},
    RecordKind.USAGE: {"operation": "SEND_MAIL", "detail": None},
    RecordKind.SYNC: {"operation": "OPEN_ACCOUNT", "result": "OK", "bossTransactionId": "B1"},
    RecordKind.POINTS: {"delta": 10, "balance": 110, "level": 1, "reason": "每日登录"},
}


def record(
    kind: RecordKind,
    n: int = 0,
    *,
    msisdn: str = GD_NUMBER,
    at: str | datetime = "2026-11-20T10:00:00+08:00",
    **fields: Any,
) -> dict[str, Any]:
    when = at.isoformat() if isinstance(at, datetime) else at
    return {
        "msisdn": msisdn,
        "sourceRecordId": f"r{n}",
        "occurredAt": when,
        **VALID[kind],
        **fields,
    }
