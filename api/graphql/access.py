"""GraphQL for the access context: me, login, accounts and their administration."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.graphql.base import (
    Context,
    PageInfo,
    Province,
    UserError,
    bad_input,
    consistent,
    ctx,
    first_arg,
    invoke,
    mutate,
    query,
    user_errors,
)
from application.access.service import AccountResult
from domain.access.permissions import Role as DomainRole
from domain.shared import DomainError

Role = strawberry.enum(
    Enum("Role", {r.value: r.value for r in DomainRole}),  # type: ignore[misc]
    name="Role",
    description="What an account may do (permissions.md)",
)


def to_domain_role(role: Any) -> DomainRole:
    return DomainRole(role.value)


@strawberry.type
class Account:
    id: strawberry.ID
    username: str
    display_name: str
    role: Role  # type: ignore[valid-type]
    province: Province | None  # type: ignore[valid-type]
    enabled: bool
    created_at: datetime
    last_login_at: datetime | None
    version: int

    @classmethod
    def from_aggregate(cls, a: Any) -> Account:
        return cls(
            id=strawberry.ID(str(a.id)),
            username=a.username,
            display_name=a.display_name,
            role=Role[a.role.value],
            province=a.province,
            enabled=a.enabled,
            created_at=a.created_on,
            last_login_at=a.last_login_at,
            version=a.version,
        )

    @classmethod
    def from_row(cls, r: Any) -> Account:
        return cls(
            id=strawberry.ID(r.id),
            username=r.username,
            display_name=r.display_name,
            role=Role[r.role],
            province=r.province,
            enabled=r.enabled,
            created_at=r.created_at,
            last_login_at=r.last_login_at,
            version=r.version,
        )


@strawberry.type
class AccountConnection:
    nodes: list[Account]
    page_info: PageInfo
    total_count: int


@strawberry.type
class Session:
    token: str
    expires_at: datetime
    account: Account


@strawberry.type
class LoginPayload:
    session: Session | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AccountPayload:
    account: Account | None = None
    position: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateAccountInput:
    username: str
    display_name: str
    role: Role  # type: ignore[valid-type]
    province: Province | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Required for PROVINCE_AGENT; optional otherwise"
    )
    initial_password: str


def parse_id(value: str, what: str = "id") -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise bad_input(f"{what} is not a valid id") from None


def account_payload(result: AccountResult | list[UserError]) -> AccountPayload:
    if isinstance(result, list):
        return AccountPayload(user_errors=result)
    return AccountPayload(account=Account.from_aggregate(result.account), position=result.position)


@strawberry.type
class AccessQuery:
    @strawberry.field
    async def me(self, info: Info[Context, Any]) -> Account:
        c = ctx(info)
        account = await invoke(c.container.access.me, c.principal())
        return Account.from_aggregate(account)

    @strawberry.field
    async def accounts(
        self,
        info: Info[Context, Any],
        role: Role | None = None,  # type: ignore[valid-type]
        province: Province | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
        consistent_with: int | None = None,
    ) -> AccountConnection:
        c = ctx(info)
        limit = first_arg(c.container, first)
        await consistent(c.container.access.wait_for_accounts(c.principal(), consistent_with))
        after_username = None
        if after is not None:
            try:
                after_username = c.container.cursors.decode("accounts", after)
            except DomainError as exc:
                raise bad_input(exc.message) from None
        rows, total = await query(
            c.container.access.list_accounts,
            c.principal(),
            to_domain_role(role) if role else None,
            province,
            after_username,
            limit + 1,
        )
        has_next = len(rows) > limit
        rows = rows[:limit]
        end = c.container.cursors.encode("accounts", rows[-1].username) if rows else None
        return AccountConnection(
            nodes=[Account.from_row(r) for r in rows],
            page_info=PageInfo(end_cursor=end, has_next_page=has_next),
            total_count=total,
        )

    @strawberry.field
    async def account(self, info: Info[Context, Any], id: strawberry.ID) -> Account | None:
        c = ctx(info)
        found = await query(c.container.access.account, c.principal(), parse_id(id))
        return Account.from_aggregate(found) if found is not None else None


@strawberry.type
class AccessMutation:
    @strawberry.mutation
    async def login(self, info: Info[Context, Any], username: str, password: str) -> LoginPayload:
        c = ctx(info)
        try:
            session = await invoke(
                c.container.access.login, username, password, c.correlation_id, c.client_address
            )
        except DomainError as exc:
            return LoginPayload(user_errors=user_errors(exc))
        return LoginPayload(
            session=Session(
                token=session.token,
                expires_at=session.expires_at,
                account=Account.from_aggregate(session.account),
            )
        )

    @strawberry.mutation(description="End the caller's session: its token is refused from now on")
    async def logout(self, info: Info[Context, Any]) -> bool:
        c = ctx(info)
        try:
            return await invoke(c.container.access.logout, c.principal())
        except DomainError as exc:
            raise bad_input(exc.message) from None

    @strawberry.mutation(description="End every session of an account (SUPER_ADMIN)")
    async def revoke_sessions(
        self, info: Info[Context, Any], account_id: strawberry.ID
    ) -> AccountPayload:
        c = ctx(info)
        result = await mutate(
            c.container.access.revoke_sessions, c.principal(), parse_id(account_id, "accountId")
        )
        return account_payload(result)

    @strawberry.mutation
    async def change_my_password(
        self, info: Info[Context, Any], current_password: str, new_password: str
    ) -> AccountPayload:
        c = ctx(info)
        result = await mutate(
            c.container.access.change_my_password, c.principal(), current_password, new_password
        )
        return account_payload(result)

    @strawberry.mutation
    async def create_account(
        self, info: Info[Context, Any], input: CreateAccountInput
    ) -> AccountPayload:
        c = ctx(info)
        result = await mutate(
            c.container.access.create_account,
            c.principal(),
            username=input.username,
            display_name=input.display_name,
            role=to_domain_role(input.role),
            province=input.province,
            initial_password=input.initial_password,
        )
        return account_payload(result)

    @strawberry.mutation
    async def change_account_role(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        role: Role,  # type: ignore[valid-type]
        province: Province | None = None,  # type: ignore[valid-type]
        expected_version: int | None = None,
    ) -> AccountPayload:
        c = ctx(info)
        result = await mutate(
            c.container.access.change_role,
            c.principal(),
            parse_id(id),
            to_domain_role(role),
            province,
            expected_version,
        )
        return account_payload(result)

    @strawberry.mutation
    async def disable_account(
        self, info: Info[Context, Any], id: strawberry.ID, reason: str | None = None
    ) -> AccountPayload:
        c = ctx(info)
        result = await mutate(c.container.access.disable, c.principal(), parse_id(id), reason)
        return account_payload(result)

    @strawberry.mutation
    async def enable_account(self, info: Info[Context, Any], id: strawberry.ID) -> AccountPayload:
        c = ctx(info)
        result = await mutate(c.container.access.enable, c.principal(), parse_id(id))
        return account_payload(result)

    @strawberry.mutation
    async def reset_account_password(
        self, info: Info[Context, Any], id: strawberry.ID, new_password: str
    ) -> AccountPayload:
        c = ctx(info)
        result = await mutate(
            c.container.access.reset_password, c.principal(), parse_id(id), new_password
        )
        return account_payload(result)


__all__ = ["AccessMutation", "AccessQuery", "Account", "Annotated"]
