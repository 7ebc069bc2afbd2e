"""Bulk ingestion: `POST /ingest/{kind}?source=S&batchId=B` with an NDJSON body, streamed.

The body is parsed and validated chunk by chunk as it arrives (never read whole into memory
twice); the batch then goes through the same application path as the GraphQL mutation, and
the answer reports the same: `accepted`, `duplicate`, `duplicateRecords`, `position`. A batch
id sent before is only known to be a duplicate once its body has been compared, so every
body is read.
"""

from __future__ import annotations

import math
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from application.access.service import UnauthenticatedError
from domain.history.batch import validate_batch_key
from domain.history.records import RecordKind
from domain.shared import DomainError, PermissionDeniedError
from infra.logging import correlation_id

router = APIRouter()

VALIDATE_BYTES = 1 << 20
NDJSON = "application/x-ndjson"
# A refused batch whose problem is not its records: a batch id taken by other content is a
# conflict with what is stored; BUSY (concurrent batches kept taking its records) may be
# retried.
_STATUS = {"BATCH_ID_REUSED": 409, "BUSY": 503}


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body = {
        "accepted": 0,
        "duplicate": False,
        "duplicateRecords": 0,
        "position": None,
        "errors": [{"code": code, "message": message}],
        **extra,
    }
    return JSONResponse(body, status_code=status)


@router.post("/ingest/{kind}")
async def ingest(
    kind: str,
    request: Request,
    source: str = Query(..., description="Which platform feed sent it"),
    batch_id: str = Query(..., alias="batchId", description="Unique per source"),
) -> JSONResponse:
    container = request.app.state.container
    settings = container.settings
    history = container.history
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "UNAUTHENTICATED", "a bearer token is required")
    try:
        principal = await anyio.to_thread.run_sync(
            container.access.authenticate, token.strip(), correlation_id.get()
        )
        history.authorize_ingest(principal)
    except UnauthenticatedError as exc:
        return _error(401, "UNAUTHENTICATED", str(exc))
    except PermissionDeniedError as exc:
        return _error(403, "FORBIDDEN", exc.message)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != NDJSON:
        return _error(
            415, "UNSUPPORTED_MEDIA_TYPE", f"send the records as {NDJSON} (one JSON per line)"
        )
    try:
        record_kind = RecordKind(kind.upper())
    except ValueError:
        return _error(
            400, "BAD_USER_INPUT", f"unknown record kind {kind!r}; one of {', '.join(RecordKind)}"
        )
    try:
        validate_batch_key(source, batch_id)
    except DomainError as exc:
        return _error(400, "BAD_USER_INPUT", exc.message)

    # A slot before the body is read: a batch waiting for one holds no memory (its body stays
    # in the connection, which slows the sender down), and one that waits too long is BUSY.
    slots: anyio.Semaphore = request.app.state.ingest_slots
    try:
        with anyio.fail_after(settings.ingest_queue_seconds):
            await slots.acquire()
    except TimeoutError:
        busy = _error(
            503,
            "BUSY",
            f"{settings.ingest_max_concurrent} batches are being ingested; try again shortly",
        )
        busy.headers["Retry-After"] = str(max(1, math.ceil(settings.ingest_queue_seconds)))
        return busy
    try:
        return await _receive(request, principal, record_kind, source, batch_id)
    finally:
        slots.release()


async def _receive(
    request: Request, principal: Any, record_kind: RecordKind, source: str, batch_id: str
) -> JSONResponse:
    """Validate the body as it arrives, then store the batch (holding an ingest slot)."""
    container = request.app.state.container
    settings = container.settings
    history = container.history
    validator = history.new_validator(record_kind)
    pending = bytearray()
    received = 0
    line_number = 1
    async for chunk in request.stream():
        received += len(chunk)
        if received > settings.ingest_max_bytes:
            return _error(
                413, "BATCH_TOO_LARGE", f"a batch may be at most {settings.ingest_max_bytes} bytes"
            )
        pending.extend(chunk)
        if len(pending) < VALIDATE_BYTES:
            continue  # validate in pieces of about a megabyte: one thread hop each
        cut = pending.rfind(b"\n")
        if cut < 0:
            continue
        lines = bytes(pending[:cut]).split(b"\n")
        del pending[: cut + 1]
        await anyio.to_thread.run_sync(validator.add_json_lines, lines, line_number - 1)
        line_number += len(lines)
        if validator.count > settings.ingest_max_records:
            return _error(
                413,
                "BATCH_TOO_LARGE",
                f"a batch may hold at most {settings.ingest_max_records} records",
            )
    if pending.strip():
        lines = bytes(pending).split(b"\n")
        await anyio.to_thread.run_sync(validator.add_json_lines, lines, line_number - 1)
    if validator.count > settings.ingest_max_records:
        return _error(
            413,
            "BATCH_TOO_LARGE",
            f"a batch may hold at most {settings.ingest_max_records} records",
        )
    try:
        result = await anyio.to_thread.run_sync(
            lambda: history.ingest(principal, source=source, batch_id=batch_id, validator=validator)
        )
    except PermissionDeniedError as exc:
        return _error(403, "FORBIDDEN", exc.message)
    except DomainError as exc:
        refused = _error(_STATUS.get(exc.code, 422), exc.code, exc.message)
        if refused.status_code == 503:
            refused.headers["Retry-After"] = "1"
        return refused
    errors = [
        {
            "code": "INVALID_RECORD",
            "line": e.index + 1,
            "index": e.index,
            "field": e.field,
            "message": e.reason,
        }
        for e in result.errors
    ]
    body = {
        "accepted": result.accepted,
        "duplicate": result.duplicate,
        "duplicateRecords": result.duplicate_records,
        "position": result.position,
        "errors": errors,
        "errorCount": result.error_count,
    }
    return JSONResponse(body, status_code=422 if errors else 200)
