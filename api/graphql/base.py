"""Shared GraphQL plumbing: context, error mapping, scalars, pagination types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NewType, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from api.blocking import run_blocking
from application.access.service import UnauthenticatedError
from application.authz import Principal
from application.consistency import ConsistencyTimeoutError
from domain.access.provinces import is_province
from domain.shared import DomainError, PermissionDeniedError, ValidationError
from infra.bootstrap import Container

T = TypeVar("T")


class ApiError(GraphQLError):
    """A GraphQL error with a stable extensions.code (and any details beside it)."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message, extensions={"code": code, **details})


def unauthenticated(message: str = "authentication required") -> ApiError:
    return ApiError("UNAUTHENTICATED", message)


def forbidden(message: str = "forbidden") -> ApiError:
    return ApiError("FORBIDDEN", message)


def bad_input(message: str) -> ApiError:
    return ApiError("BAD_USER_INPUT", message)


class Context(BaseContext):
    def __init__(
        self,
        container: Container,
        correlation_id: str | None,
        principal: Principal | None,
        auth_error: str | None,
    ) -> None:
        super().__init__()
        self.container = container
        self.correlation_id = correlation_id
        self._principal = principal
        self._auth_error = auth_error

    def principal(self) -> Principal:
        if self._principal is None:
            raise unauthenticated(self._auth_error or "authentication required")
        return self._principal


def ctx(info: Info[Context, Any]) -> Context:
    return info.context


async def invoke(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking application code in a worker thread, mapping auth errors for GraphQL."""
    try:
        return await run_blocking(fn, *args, **kwargs)
    except PermissionDeniedError as exc:
        raise forbidden(exc.message) from None
    except UnauthenticatedError as exc:
        raise unauthenticated(str(exc)) from None


async def query(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Like invoke, for queries: a broken rule in a query is bad input."""
    try:
        return await invoke(fn, *args, **kwargs)
    except DomainError as exc:
        raise bad_input(exc.message) from None


async def consistent(wait: Awaitable[None]) -> None:
    """Await an application's consistentWith step on the event loop, before the query runs in
    a worker thread (so a long wait holds no thread); a read model that stays behind is a
    CONSISTENCY_TIMEOUT error, never stale data."""
    try:
        await wait
    except ConsistencyTimeoutError as exc:
        raise ApiError(
            "CONSISTENCY_TIMEOUT", str(exc), projection=exc.projection, position=exc.position
        ) from None
    except PermissionDeniedError as exc:
        raise forbidden(exc.message) from None
    except DomainError as exc:
        raise bad_input(exc.message) from None


@strawberry.type
class PageInfo:
    end_cursor: str | None
    has_next_page: bool


@strawberry.type
class UserError:
    code: str
    message: str
    field: list[str] | None = None


def user_errors(exc: DomainError) -> list[UserError]:
    return [UserError(code=exc.code, message=exc.message, field=exc.field)]


async def mutate(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | list[UserError]:
    """Run a command; a broken business rule comes back as userErrors, not an exception."""
    try:
        return await invoke(fn, *args, **kwargs)
    except DomainError as exc:
        return user_errors(exc)


def _parse_province(value: Any) -> str:
    if not isinstance(value, str) or not is_province(value):
        raise ValueError(f"unknown province {value!r}: use an ISO 3166-2:CN code without CN-")
    return value


Province = NewType("Province", str)

# Custom scalars of the contract, registered on the schema config (strawberry's scalar_map).
SCALARS = {
    Province: strawberry.scalar(
        name="Province",
        description="ISO 3166-2:CN subdivision code without the CN- prefix, e.g. BJ, GD, SH",
        serialize=str,
        parse_value=_parse_province,
    ),
}


def int_cursor(container: Container, kind: str, after: str) -> int:
    """The number an `after` cursor of `kind` holds (a version or a position); a tampered or
    foreign cursor is BAD_USER_INPUT."""
    try:
        return int(container.cursors.decode(kind, after))
    except DomainError as exc:
        raise bad_input(exc.message) from None
    except (TypeError, ValueError):
        raise bad_input("invalid cursor") from None


def first_arg(container: Container, first: int | None) -> int:
    from application.pagination import page_size

    try:
        return page_size(first, container.settings.page_max)
    except ValidationError as exc:
        raise bad_input(exc.message) from None
