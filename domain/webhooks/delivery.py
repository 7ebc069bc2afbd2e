"""The rules of delivering one event to one endpoint: statuses, what an answer means, when to
try again (Standard Webhooks: retry with exponential backoff and jitter, honour Retry-After).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from uuid import UUID

from domain.shared import natural_id

MAX_BACKOFF_SECONDS = 3600.0
MAX_ERROR_BYTES = 500


class WebhookDeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # the receiver refused it for good (a 4xx other than 408/429)
    DEAD = "DEAD"  # every attempt allowed failed


FINAL_STATUSES = frozenset(
    {WebhookDeliveryStatus.DELIVERED, WebhookDeliveryStatus.FAILED, WebhookDeliveryStatus.DEAD}
)


def delivery_id_for(endpoint_id: UUID, position: int) -> UUID:
    """One delivery per event and endpoint: the same id however often it is created."""
    return natural_id("webhook-delivery", f"{endpoint_id}:{position}")


def message_id(delivery_id: UUID) -> str:
    """The `webhook-id` header: stable per event and endpoint, so receivers deduplicate."""
    return f"msg_{delivery_id.hex}"


@dataclass(frozen=True)
class Answer:
    """What one attempt came to: the receiver's status code, the first bytes of its body and
    its Retry-After, or (no status) the transport error."""

    status_code: int | None
    body: bytes = b""
    retry_after: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Decision:
    status: WebhookDeliveryStatus
    last_error: str | None
    next_attempt_at: datetime


def retryable(status_code: int | None) -> bool:
    """Timeouts and connection errors (no status), 3xx (redirects are not followed), 408,
    429 and 5xx are tried again; 2xx is delivered; any other 4xx is final."""
    if status_code is None:
        return True
    if 200 <= status_code < 300:
        return False
    return not (400 <= status_code < 500) or status_code in (408, 429)


def backoff_seconds(failed_attempts: int, initial: float, jitter: float) -> float:
    """The wait after the n-th failed attempt: initial · 2^(n-1) up to an hour, spread by
    ±25% (`jitter` in [0, 1)) so that retries of many deliveries do not arrive together."""
    base = min(initial * 2.0 ** max(failed_attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return min(base * (0.75 + 0.5 * jitter), MAX_BACKOFF_SECONDS)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), capped at an hour; None when
    absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_BACKOFF_SECONDS)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return min(max((when - now).total_seconds(), 0.0), MAX_BACKOFF_SECONDS)


def error_text(body: bytes) -> str | None:
    """The first 500 bytes of an answer's body as text a column can hold (no NUL or other
    control characters but newline and tab)."""
    text = body[:MAX_ERROR_BYTES].decode("utf-8", "replace")
    text = "".join(c if c in "\n\t" or unicodedata.category(c) != "Cc" else "\ufffd" for c in text)
    return text or None


def decide(
    answer: Answer,
    attempts: int,
    max_attempts: int,
    initial_backoff: float,
    now: datetime,
    jitter: float,
) -> Decision:
    """The delivery's state after its `attempts`-th attempt (counted since it was last
    queued) came to `answer`."""
    code = answer.status_code
    last_error = answer.error[:MAX_ERROR_BYTES] if code is None and answer.error else None
    if code is not None and not 200 <= code < 300:
        last_error = error_text(answer.body)
    if code is not None and 200 <= code < 300:
        return Decision(WebhookDeliveryStatus.DELIVERED, None, now)
    if not retryable(code):
        return Decision(WebhookDeliveryStatus.FAILED, last_error, now)
    if attempts >= max_attempts:
        return Decision(WebhookDeliveryStatus.DEAD, last_error, now)
    wait = retry_after_seconds(answer.retry_after, now)
    if wait is None:
        wait = backoff_seconds(attempts, initial_backoff, jitter)
    return Decision(WebhookDeliveryStatus.PENDING, last_error, now + timedelta(seconds=wait))
