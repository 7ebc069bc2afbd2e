"""GraphQL for customer history: the platform feed mutation and the nine history fields."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.base import (
    Context,
    PageInfo,
    UserError,
    bad_input,
    ctx,
    first_arg,
    mutate,
    query,
)
from application.history import IngestResult
from domain.history.records import RecordKind as DomainRecordKind
from domain.shared import DomainError

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
_TYPES: dict[DomainRecordKind, tuple[Any, Any]] = {
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


def _instant(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise bad_input(f"`{name}` needs a UTC offset (ISO-8601, e.g. 2026-11-28T09:00:00+08:00)")
    return value


async def history_page(
    info: Info[Context, Any],
    kind: DomainRecordKind,
    msisdn: str,
    start: datetime | None,
    end: datetime | None,
    first: int | None,
    after: str | None,
    consistent_with: int | None,
    channel: str | None = None,
) -> Any:
    """One page of one kind of record for one subscriber (already authorised by its parent)."""
    c = ctx(info)
    limit = first_arg(c.container, first)
    start, end = _instant(start, "from"), _instant(end, "to")
    cursor_kind = f"history:{kind.value}:{msisdn}"
    keyset = None
    if after is not None:
        try:
            at, position, index = c.container.cursors.decode(cursor_kind, after)
            keyset = (str(at), int(position), int(index))
        except DomainError as exc:
            raise bad_input(exc.message) from None
        except (TypeError, ValueError):
            raise bad_input("invalid cursor") from None
    rows = await query(
        c.container.history.records,
        kind,
        msisdn,
        start,
        end,
        keyset,
        limit + 1,
        channel,
        consistent_with,
    )
    has_next = len(rows) > limit
    rows = rows[:limit]
    node_type, connection_type = _TYPES[kind]
    end_cursor = None
    if rows:
        last = rows[-1]
        end_cursor = c.container.cursors.encode(
            cursor_kind,
            [last["occurred_at"].astimezone(UTC).isoformat(), last["batch_pos"], last["idx"]],
        )
    return connection_type(
        nodes=[node_type.of(r) for r in rows],
        page_info=PageInfo(end_cursor=end_cursor, has_next_page=has_next),
    )


def _records_field(kind: DomainRecordKind) -> Any:
    """A `Subscriber` history field: one page of `kind` records, newest first."""
    connection_type = _TYPES[kind][1]

    async def resolve(
        self: Any,
        info: Info[Context, Any],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> Any:
        return await history_page(info, kind, self.msisdn, from_, to, first, after, consistent_with)

    # Annotations are strings under `from __future__ import annotations`; give strawberry
    # the real types (the connection type differs per kind).
    resolve.__annotations__.update(
        {
            "info": Info[Context, Any],
            "from_": Annotated[datetime | None, strawberry.argument(name="from")],
            "to": datetime | None,
            "first": int | None,
            "after": str | None,
            "consistent_with": int | None,
            "return": connection_type,
        }
    )
    return strawberry.field(resolver=resolve)


@strawberry.type
class SubscriberHistory:
    """The history fields of `Subscriber` (issue 4); the Subscriber type inherits them."""

    msisdn: str

    sms_records = _records_field(DomainRecordKind.SMS)
    mms_records = _records_field(DomainRecordKind.MMS)
    wap_push_records = _records_field(DomainRecordKind.WAP_PUSH)
    campaign_entries = _records_field(DomainRecordKind.CAMPAIGN)
    charges = _records_field(DomainRecordKind.CHARGE)
    usage_log = _records_field(DomainRecordKind.USAGE)
    sync_log = _records_field(DomainRecordKind.SYNC)
    points_log = _records_field(DomainRecordKind.POINTS)

    @strawberry.field
    async def logins(
        self,
        info: Info[Context, Any],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        channel: LoginChannel | None = None,
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> LoginRecordConnection:
        return await history_page(  # type: ignore[no-any-return]
            info,
            DomainRecordKind.LOGIN,
            self.msisdn,
            from_,
            to,
            first,
            after,
            consistent_with,
            channel.value if channel else None,
        )

    @strawberry.field
    async def usage_counts(
        self,
        info: Info[Context, Any],
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        consistent_with: int | None = None,
    ) -> UsageCounts:
        c = ctx(info)
        counts = await query(
            c.container.history.usage_counts, self.msisdn, from_, to, consistent_with
        )
        return UsageCounts(from_=from_, to=to, **counts)


@strawberry.input
class PlatformRecordBatchInput:
    source: str = strawberry.field(description="Which platform feed sent it, e.g. sms-gateway")
    batch_id: str = strawberry.field(
        description="Unique per source: a batch sent twice is stored once"
    )
    kind: RecordKind  # type: ignore[valid-type]
    records: list[JSON] = strawberry.field(
        description="One JSON object per record, fields as in the record type of that kind"
        " plus msisdn and sourceRecordId"
    )


@strawberry.type
class IngestPayload:
    accepted: int
    duplicate: bool
    position: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def ingest_errors(result: IngestResult) -> list[UserError]:
    errors = [
        UserError(
            code="INVALID_RECORD",
            message=e.message(),
            field=["records", str(e.index), *([e.field] if e.field else [])],
        )
        for e in result.errors
    ]
    hidden = result.error_count - len(result.errors)
    if hidden > 0:
        errors.append(
            UserError(code="MORE_ERRORS", message=f"{hidden} more invalid records not shown")
        )
    return errors


@strawberry.type
class HistoryMutation:
    @strawberry.mutation(
        description="Platform feeds: history records. INTEGRATION and SUPER_ADMIN accounts only;"
        " large volumes go through the bulk HTTP endpoint."
    )
    async def ingest_platform_records(
        self, info: Info[Context, Any], input: PlatformRecordBatchInput
    ) -> IngestPayload:
        c = ctx(info)
        result = await mutate(
            c.container.history.ingest_records,
            c.principal(),
            source=input.source,
            batch_id=input.batch_id,
            kind=DomainRecordKind(input.kind.value),
            records=input.records,
        )
        if isinstance(result, list):
            return IngestPayload(accepted=0, duplicate=False, user_errors=result)
        return IngestPayload(
            accepted=result.accepted,
            duplicate=result.duplicate,
            position=result.position,
            user_errors=ingest_errors(result),
        )
