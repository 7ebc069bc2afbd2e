"""GraphQL types of customer history: the record kinds, their connections, usage counts."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from api.graphql.base import PageInfo
from domain.history.records import RecordKind as DomainRecordKind

RecordKind = strawberry.enum(
    Enum("RecordKind", {k.value: k.value for k in DomainRecordKind}),  # type: ignore[misc]
    name="RecordKind",
)


@strawberry.enum
class Direction(Enum):
    SENT = "SENT"
    RECEIVED = "RECEIVED"


@strawberry.enum
class DeliveryStatus(Enum):
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    PENDING = "PENDING"


@strawberry.enum
class LoginChannel(Enum):
    WEB = "WEB"
    WAP = "WAP"
    POP = "POP"
    IMAP = "IMAP"
    CLIENT = "CLIENT"


def record_id(row: dict[str, Any]) -> strawberry.ID:
    # Stable across projection rebuilds: the feed position of the stored chunk and the
    # record's index within its batch.
    return strawberry.ID(f"{row['batch_pos']}.{row['idx']}")


@strawberry.type
class MessageRecord:
    id: strawberry.ID
    occurred_at: datetime
    direction: Direction
    peer: str
    status: DeliveryStatus
    fee_fen: int
    category: str = strawberry.field(
        description="e.g. SELF_WRITTEN, MAIL_ARRIVAL_NOTICE, LOGIN_REMINDER, MARKETING"
    )
    size_bytes: int | None

    @classmethod
    def of(cls, r: dict[str, Any]) -> MessageRecord:
        return cls(
            id=record_id(r),
            occurred_at=r["occurred_at"],
            direction=Direction(r["direction"]),
            peer=r["peer"],
            status=DeliveryStatus(r["status"]),
            fee_fen=r["fee_fen"],
            category=r["category"],
            size_bytes=r["size_bytes"],
        )


@strawberry.type
class WapPushRecord:
    id: strawberry.ID
    occurred_at: datetime
    title: str
    url: str
    status: DeliveryStatus
    fee_fen: int

    @classmethod
    def of(cls, r: dict[str, Any]) -> WapPushRecord:
        return cls(
            id=record_id(r),
            occurred_at=r["occurred_at"],
            title=r["title"],
            url=r["url"],
            status=DeliveryStatus(r["status"]),
            fee_fen=r["fee_fen"],
        )


@strawberry.type
class CampaignEntry:
    id: strawberry.ID
    occurred_at: datetime
    campaign_id: str
    campaign_name: str
    rank: int | None
    won: bool
    prize: str | None

    @classmethod
    def of(cls, r: dict[str, Any]) -> CampaignEntry:
        return cls(
            id=record_id(r),
            occurred_at=r["occurred_at"],
            campaign_id=r["campaign_id"],
            campaign_name=r["campaign_name"],
            rank=r["rank"],
            won=r["won"],
            prize=r["prize"],
        )


@strawberry.type
class Charge:
    id: strawberry.ID
    occurred_at: datetime
    amount_fen: int
    method: str = strawberry.field(description="e.g. PHONE_BILL, POINTS, PREPAID")
    item: str

    @classmethod
    def of(cls, r: dict[str, Any]) -> Charge:
        return cls(
            id=record_id(r),
            occurred_at=r["occurred_at"],
            amount_fen=r["amount_fen"],
            method=r["method"],
            item=r["item"],
        )


@strawberry.type
class LoginRecord:
    id: strawberry.ID
    occurred_at: datetime
    channel: LoginChannel
    ip: str | None
    success: bool

    @classmethod
    def of(cls, r: dict[str, Any]) -> LoginRecord:
        return cls(
            id=record_id(r),
            occurred_at=r["occurred_at"],
            channel=LoginChannel(r["channel"]),
            ip=r["ip"],
            success=r["success"],
        )


@strawberry.type
class UsageRecord:
    id: strawberry.ID
    occurred_at: datetime
    operation: str
    detail: str | None

    @classmethod
    def of(cls, r: dict[str, Any]) -> UsageRecord:
        return cls(
            id=record_id(r),
            occurred_at=r["occurred_at"],
            operation=r["operation"],
            detail=r["detail"],
        )


@strawberry.type
class SyncRecord:
    id: strawberry.ID
    occurred_at: datetime
    operation: str
    result: str
    boss_transaction_id: str | None

    @classmethod
    def of(cls, r: dict[str, Any]) -> SyncRecord:
        return cls(
            id=record_id(r),
            occurred_at=r["occurred_at"],
            operation=r["operation"],
            result=r["result"],
            boss_transaction_id=r["boss_transaction_id"],
        )


@strawberry.type
class PointsRecord:
    id: strawberry.ID
    occurred_at: datetime
    delta: int
    balance: int
    level: int
    reason: str

    @classmethod
    def of(cls, r: dict[str, Any]) -> PointsRecord:
        return cls(
            id=record_id(r),
            occurred_at=r["occurred_at"],
            delta=r["delta"],
            balance=r["balance"],
            level=r["level"],
            reason=r["reason"],
        )


@strawberry.type
class UsageCounts:
    from_: date = strawberry.field(name="from")
    to: date
    self_written_sms: int
    self_written_mms: int
    arrival_notifications: int


@strawberry.type
class MessageRecordConnection:
    nodes: list[MessageRecord]
    page_info: PageInfo


@strawberry.type
class WapPushRecordConnection:
    nodes: list[WapPushRecord]
    page_info: PageInfo


@strawberry.type
class CampaignEntryConnection:
    nodes: list[CampaignEntry]
    page_info: PageInfo


@strawberry.type
class ChargeConnection:
    nodes: list[Charge]
    page_info: PageInfo


@strawberry.type
class LoginRecordConnection:
    nodes: list[LoginRecord]
    page_info: PageInfo


@strawberry.type
class UsageRecordConnection:
    nodes: list[UsageRecord]
    page_info: PageInfo


@strawberry.type
class SyncRecordConnection:
    nodes: list[SyncRecord]
    page_info: PageInfo


@strawberry.type
class PointsRecordConnection:
    nodes: list[PointsRecord]
    page_info: PageInfo


# kind -> (node type, connection type)
HISTORY_TYPES: dict[DomainRecordKind, tuple[Any, Any]] = {
    DomainRecordKind.SMS: (MessageRecord, MessageRecordConnection),
    DomainRecordKind.MMS: (MessageRecord, MessageRecordConnection),
    DomainRecordKind.WAP_PUSH: (WapPushRecord, WapPushRecordConnection),
    DomainRecordKind.CAMPAIGN: (CampaignEntry, CampaignEntryConnection),
    DomainRecordKind.CHARGE: (Charge, ChargeConnection),
    DomainRecordKind.LOGIN: (LoginRecord, LoginRecordConnection),
    DomainRecordKind.USAGE: (UsageRecord, UsageRecordConnection),
    DomainRecordKind.SYNC: (SyncRecord, SyncRecordConnection),
    DomainRecordKind.POINTS: (PointsRecord, PointsRecordConnection),
}
