"""GraphQL for customer history: the platform feed mutation and the nine history fields."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.base import (
    Context,
    PageInfo,
    UserError,
    bad_input,
    consistent,
    ctx,
    first_arg,
    mutate,
    query,
)
from api.graphql.history.types import (
    HISTORY_TYPES,
    LoginChannel,
    LoginRecordConnection,
    RecordKind,
    UsageCounts,
)
from application.history.service import IngestResult
from domain.history.records import RecordKind as DomainRecordKind
from domain.shared import DomainError
from domain.subscribers.periods import PeriodWindow


def _instant(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise bad_input(f"`{name}` needs a UTC offset (ISO-8601, e.g. 2026-11-28T09:00:00+08:00)")
    return value


async def history_page(
    info: Info[Context, Any],
    kind: DomainRecordKind,
    msisdn: str,
    window: PeriodWindow,
    start: datetime | None,
    end: datetime | None,
    first: int | None,
    after: str | None,
    consistent_with: int | None,
    channel: str | None = None,
) -> Any:
    """One page of one kind of record for one subscriber (already authorised by its parent),
    within the window of its registration periods."""
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
    await consistent(c.container.history.wait_for_records(consistent_with))
    rows = await query(
        c.container.history.records,
        kind,
        msisdn,
        start,
        end,
        keyset,
        limit + 1,
        channel,
        window=window,
    )
    has_next = len(rows) > limit
    rows = rows[:limit]
    node_type, connection_type = HISTORY_TYPES[kind]
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
    connection_type = HISTORY_TYPES[kind][1]

    async def resolve(
        self: Any,
        info: Info[Context, Any],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
        all_periods: bool | None = False,
    ) -> Any:
        window = await self.period_window(info, all_periods)
        return await history_page(
            info, kind, self.msisdn, window, from_, to, first, after, consistent_with
        )

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
            "all_periods": bool | None,
            "return": connection_type,
        }
    )
    return strawberry.field(resolver=resolve)


@strawberry.type
class SubscriberHistory:
    """The history fields of `Subscriber`; the Subscriber type inherits them."""

    msisdn: str

    async def period_window(
        self, info: Info[Context, Any], all_periods: bool | None
    ) -> PeriodWindow:
        """What a field of this view covers: the `Subscriber` type, which inherits these
        fields, answers it from its registration periods; this class is never served alone."""
        raise NotImplementedError

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
        all_periods: bool | None = False,
    ) -> LoginRecordConnection:
        window = await self.period_window(info, all_periods)
        return await history_page(  # type: ignore[no-any-return]
            info,
            DomainRecordKind.LOGIN,
            self.msisdn,
            window,
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
        all_periods: bool | None = False,
    ) -> UsageCounts:
        c = ctx(info)
        history = c.container.history
        window = await self.period_window(info, all_periods)
        await consistent(history.wait_for_usage_counts(from_, to, consistent_with, window))
        counts = await query(history.usage_counts, self.msisdn, from_, to, window=window)
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
    duplicate_records: int = strawberry.field(
        default=0,
        description="Records of this batch not stored because a batch had stored them before"
        " (a record is identified by source, kind and sourceRecordId)",
    )


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
            duplicate_records=result.duplicate_records,
        )
