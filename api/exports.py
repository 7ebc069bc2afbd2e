"""CSV exports of the statistics, for spreadsheets.

    GET /exports/statistics/proxy-operations.csv?from=2024-03-01&to=2024-03-31&groupBy=DAY,OPERATOR
    GET /exports/statistics/complaint-tickets.csv?from=...&to=...&province=GD&groupBy=CATEGORY
        &categories=COMPLAINT,FAULT

The parameters are the GraphQL ones (`groupBy` and `categories` comma-separated lists of
names, `groupBy` in order; `consistentWith` optional), with the same bearer authentication and
province scoping.
The body is UTF-8 with a byte-order mark (so Excel shows Chinese), CRLF line ends, a header row
of the dimension names in lower case and `count`, one row per StatRow; fields are quoted when
they hold a comma, a quote or a line break. A field that a spreadsheet would run as a formula
(starting with = + - @, a tab or a carriage return) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from application.access.service import UnauthenticatedError
from application.authz import Principal
from application.ports import ConsistencyTimeoutError, RateLimitedError
from application.statistics.service import ProxyDimension, StatRow, TicketDimension
from domain.access.permissions import Permission
from domain.access.provinces import is_province
from domain.shared import DomainError, PermissionDeniedError
from domain.support.values import TicketCategory
from infra.bootstrap import Container
from infra.logging import correlation_id

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
E = TypeVar("E", bound=StrEnum)


class ExportInputError(Exception):
    """A malformed query parameter (400)."""


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers or None,
    )


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection); everything else is kept as is."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(dimensions: Sequence[str], rows: Sequence[StatRow]) -> bytes:
    """The export body: BOM, header row, one line per row, RFC 4180 quoting, CRLF."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([*(d.lower() for d in dimensions), "count"])
    for row in rows:
        writer.writerow([*(safe_cell(k) for k in row.keys), row.count])
    return out.getvalue().encode("utf-8")


def _date(params: Any, name: str) -> date:
    raw = params.get(name)
    if not raw:
        raise ExportInputError(f"`{name}` is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ExportInputError(f"`{name}` must be a date (YYYY-MM-DD), not {raw!r}") from None


def parse_dimensions(params: Any, kind: type[E], parameter: str = "groupBy") -> list[E]:
    """`groupBy` (or another list of names) comma-separated; repeating the parameter works."""
    names = [n.strip() for raw in params.getlist(parameter) for n in raw.split(",")]
    allowed = ", ".join(kind)
    dimensions = []
    for name in filter(None, names):
        try:
            dimensions.append(kind(name.upper()))
        except ValueError:
            raise ExportInputError(f"unknown {parameter} value {name!r} ({allowed})") from None
    return dimensions


def _categories(params: Any) -> list[TicketCategory] | None:
    """The ticket categories counted: None (COMPLAINT) when the parameter is absent."""
    if "categories" not in params:
        return None
    return parse_dimensions(params, TicketCategory, "categories")


def _province(params: Any) -> str | None:
    raw = params.get("province") or None
    if raw is not None and not is_province(raw):
        raise ExportInputError(f"unknown province {raw!r}")
    return raw


def _consistent_with(params: Any) -> int | None:
    raw = params.get("consistentWith")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ExportInputError("`consistentWith` must be a position (a non-negative integer)")
    return int(raw)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def exports_router(container: Container) -> APIRouter:
    router = APIRouter()
    service = container.statistics

    async def export(
        request: Request,
        kind: type[StrEnum],
        fetch: Callable[..., list[StatRow]],
        filename: str,
    ) -> Response:
        token = _bearer(request)
        unauthenticated = {"WWW-Authenticate": "Bearer"}
        if token is None:
            return _error(401, "UNAUTHENTICATED", "authentication required", **unauthenticated)
        params = request.query_params

        def ask() -> tuple[Principal, date, date, list[Any], str | None, int | None]:
            # Who is asking comes first: a stranger learns nothing, not even about parameters.
            principal: Principal = container.access.authenticate(token, correlation_id.get())
            principal.require(Permission.STATISTICS_READ)
            first, last = _date(params, "from"), _date(params, "to")
            dimensions = parse_dimensions(params, kind)
            return principal, first, last, dimensions, _province(params), _consistent_with(params)

        try:
            asked = await anyio.to_thread.run_sync(ask)
            principal, first, last, dimensions, province, position = asked
            # Awaited on the event loop: waiting for the statistics holds no worker thread.
            await service.open(principal, position)

            def run() -> bytes:
                with container.expensive.hold(principal):
                    rows = fetch(principal, first, last, dimensions, province)
                    # Rendered in the worker thread too: up to SPOA_STATISTICS_MAX_ROWS rows.
                    return render_csv([d.value for d in dimensions], rows)

            body = await anyio.to_thread.run_sync(run)
        except ConsistencyTimeoutError as exc:
            return _error(503, "CONSISTENCY_TIMEOUT", str(exc), **{"Retry-After": "1"})
        except UnauthenticatedError as exc:
            return _error(401, "UNAUTHENTICATED", str(exc), **unauthenticated)
        except PermissionDeniedError as exc:
            return _error(403, "FORBIDDEN", exc.message)
        except RateLimitedError as exc:
            return _error(429, "RATE_LIMITED", exc.message, **{"Retry-After": str(exc.retry_after)})
        except ExportInputError as exc:
            return _error(400, "BAD_USER_INPUT", str(exc))
        except DomainError as exc:
            return _error(400, "BAD_USER_INPUT", exc.message)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}-{first}-{last}.csv"',
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @router.get("/exports/statistics/proxy-operations.csv")
    async def proxy_operations_csv(request: Request) -> Response:
        return await export(request, ProxyDimension, service.proxy_operations, "proxy-operations")

    @router.get("/exports/statistics/complaint-tickets.csv")
    async def complaint_tickets_csv(request: Request) -> Response:
        def fetch(*args: Any) -> list[StatRow]:
            # Read once the caller is known, like every other parameter.
            categories = _categories(request.query_params)
            return service.complaint_tickets(*args, categories=categories)

        return await export(request, TicketDimension, fetch, "complaint-tickets")

    return router


def install_exports(app: FastAPI, container: Container) -> None:
    app.include_router(exports_router(container))
