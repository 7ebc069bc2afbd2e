"""The webhooks context's rules: what an endpoint URL and its event types may be, what an
answer means, and when to try again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.shared import DomainError
from domain.webhooks.delivery import (
    MAX_BACKOFF_SECONDS,
    Answer,
    WebhookDeliveryStatus,
    backoff_seconds,
    decide,
    delivery_id_for,
    error_text,
    message_id,
    retry_after_seconds,
)
from domain.webhooks.event_types import deliverable_event_types
from domain.webhooks.rules import AllowedHosts, EndpointSubscription, subscribes_to

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ANY_HOST = AllowedHosts()


def clean(
    url: str = "https://boss.example/hooks",
    types: list[str] | None = None,
    hosts: AllowedHosts = ANY_HOST,
    description: str | None = None,
) -> EndpointSubscription:
    return EndpointSubscription.clean(
        url=url,
        event_types=types if types is not None else ["Subscriber.PlanChanged"],
        description=description,
        allowed_hosts=hosts,
        known_event_types=deliverable_event_types(),
    )


def code_of(**kwargs: object) -> str:
    with pytest.raises(DomainError) as caught:
        clean(**kwargs)  # type: ignore[arg-type]
    return caught.value.code


# ---------------------------------------------------------------- urls
@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3:8080/spoa",  # the operator's network: internal addresses are fine
        "https://mail-platform.internal/hooks?src=spoa",
        "HTTPS://BOSS.example/x",
        "http://[fd00::1]:9000/hook",
        "http://localhost/hook",
    ],
)
def test_http_and_https_urls_are_taken(url: str) -> None:
    assert clean(url).url == url


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://boss.example/x", "INVALID_URL_SCHEME"),
        ("file:///etc/passwd", "INVALID_URL_SCHEME"),
        ("javascript:alert(1)", "INVALID_URL_SCHEME"),
        ("boss.example/hooks", "INVALID_URL_SCHEME"),
        ("https://user:secret@boss.example/x", "URL_HAS_CREDENTIALS"),
        ("https://token@boss.example/x", "URL_HAS_CREDENTIALS"),
        ("https:///nohost", "INVALID_URL"),
        ("https://boss.example:99999/x", "INVALID_URL"),
        ("https://boss.example/x#part", "INVALID_URL"),
        ("https://boss.example/a b", "INVALID_URL"),
        ("https://boss.example/a\x9bb", "INVALID_URL"),  # a C1 control
        ("https://boss.example/gpj.\u202eexe", "INVALID_URL"),  # a bidi override
        ("", "INVALID_URL"),
        ("https://boss.example/" + "x" * 2000, "INVALID_URL"),
    ],
)
def test_other_urls_are_refused_with_their_code(url: str, code: str) -> None:
    assert code_of(url=url) == code


def test_a_refused_url_names_the_input_field() -> None:
    with pytest.raises(DomainError) as caught:
        clean("ftp://x")
    assert caught.value.field == ["input", "url"]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("boss.example", True),
        ("BOSS.example", True),
        ("hooks.platform.example", True),
        ("platform.example", False),  # *.platform.example: subdomains only
        ("10.20.30.40", True),
        ("10.99.0.1", False),
        ("evil.example", False),
        ("boss.example.evil.example", False),
    ],
)
def test_allowed_hosts_restrict_urls(host: str, allowed: bool) -> None:
    hosts = AllowedHosts.parse("boss.example, *.platform.example, 10.20.0.0/16")
    if allowed:
        assert clean(f"https://{host}/x", hosts=hosts).url
    else:
        assert code_of(url=f"https://{host}/x", hosts=hosts) == "HOST_NOT_ALLOWED"


def test_no_allowed_hosts_means_every_host() -> None:
    assert not AllowedHosts.parse(" , ").restricted
    assert AllowedHosts.parse("").permits("anything.example")


# ---------------------------------------------------------------- event types
def test_event_types_are_named_as_the_events_feed_names_them() -> None:
    known = deliverable_event_types()
    assert {"Subscriber.PlanChanged", "Subscriber.*", "Ticket.TicketAnswered"} <= known
    assert "WebhookEndpoint.RedeliveryRequested" in known
    # Platform batches are in the feed store, which the dispatcher does not follow.
    assert not any(t.startswith("PlatformBatch.") for t in known)
    assert not any(t.endswith(".Event") for t in known)


def test_event_types_keep_their_order_without_repeats() -> None:
    types = ["Subscriber.*", "Ticket.TicketAnswered", "Subscriber.*"]
    assert clean(types=types).event_types == ("Subscriber.*", "Ticket.TicketAnswered")


@pytest.mark.parametrize(
    ("types", "code"),
    [
        (["Subscriber.PlanChange"], "UNKNOWN_EVENT_TYPE"),
        (["PlanChanged"], "UNKNOWN_EVENT_TYPE"),
        (["PlatformBatch.*"], "UNKNOWN_EVENT_TYPE"),
        (["*"], "UNKNOWN_EVENT_TYPE"),
        ([], "EVENT_TYPES_REQUIRED"),
    ],
)
def test_unknown_or_missing_event_types_are_refused(types: list[str], code: str) -> None:
    assert code_of(types=types) == code


def test_an_unknown_type_names_its_index() -> None:
    with pytest.raises(DomainError) as caught:
        clean(types=["Subscriber.*", "Nope.Nothing"])
    assert caught.value.field == ["input", "eventTypes", "1"]


def test_subscriptions_match_types_and_wildcards() -> None:
    assert subscribes_to({"Subscriber.*"}, "Subscriber", "PlanChanged")
    assert subscribes_to({"Subscriber.PlanChanged"}, "Subscriber", "PlanChanged")
    assert not subscribes_to({"Subscriber.PlanChanged"}, "Subscriber", "AliasChanged")
    assert not subscribes_to({"Ticket.*"}, "Subscriber", "PlanChanged")


def test_a_description_is_one_clean_line() -> None:
    assert clean(description="  BOSS 同步  ").description == "BOSS 同步"
    assert clean(description="   ").description is None
    for bad in ("a\x00b", "two\nlines", "gpj.\u202eexe", "x" * 501):
        with pytest.raises(DomainError) as caught:
            clean(description=bad)
        assert caught.value.field == ["input", "description"]
        assert caught.value.code == ("INVALID_INPUT" if len(bad) > 500 else "INVALID_TEXT")


# ---------------------------------------------------------------- answers
@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (Answer(200), "DELIVERED"),
        (Answer(204), "DELIVERED"),
        (Answer(None, error="connection refused"), "PENDING"),
        (Answer(301), "PENDING"),  # redirects are not followed: tried again
        (Answer(408), "PENDING"),
        (Answer(429), "PENDING"),
        (Answer(500), "PENDING"),
        (Answer(503), "PENDING"),
        (Answer(400, b"bad"), "FAILED"),
        (Answer(401), "FAILED"),
        (Answer(404), "FAILED"),
        (Answer(410), "FAILED"),
    ],
)
def test_what_an_answer_means(answer: Answer, status: str) -> None:
    assert decide(answer, 1, 20, 1.0, NOW, 0.5).status == status


def test_a_retryable_answer_at_the_limit_is_dead() -> None:
    assert decide(Answer(500), 19, 20, 1.0, NOW, 0.5).status is WebhookDeliveryStatus.PENDING
    assert decide(Answer(500), 20, 20, 1.0, NOW, 0.5).status is WebhookDeliveryStatus.DEAD
    assert decide(Answer(None, error="x"), 20, 20, 1.0, NOW, 0.5).last_error == "x"


def test_last_error_is_the_first_500_bytes_of_the_body() -> None:
    decision = decide(Answer(400, b"e" * 600 + b"tail"), 1, 20, 1.0, NOW, 0.5)
    assert decision.last_error == "e" * 500
    assert decide(Answer(200, b"ok"), 1, 20, 1.0, NOW, 0.5).last_error is None


def test_error_text_holds_no_control_characters() -> None:
    assert error_text(b"a\x00b\nc\td\x1b") == "a\ufffdb\nc\td\ufffd"
    assert error_text(b"") is None
    assert error_text("密码".encode()[:4]) == "密\ufffd"  # a character cut at byte 500


def test_retry_after_is_honoured_as_seconds_or_a_date() -> None:
    assert retry_after_seconds("7", NOW) == 7
    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(later, NOW) == 90
    assert retry_after_seconds("99999", NOW) == MAX_BACKOFF_SECONDS
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None
    decision = decide(Answer(429, retry_after="7"), 1, 20, 0.01, NOW, 0.5)
    assert decision.next_attempt_at == NOW + timedelta(seconds=7)


@given(
    failed=st.integers(min_value=1, max_value=40),
    initial=st.floats(min_value=0.01, max_value=60),
    jitter=st.floats(min_value=0, max_value=0.999),
)
def test_backoff_doubles_within_a_quarter_either_way_up_to_an_hour(
    failed: int, initial: float, jitter: float
) -> None:
    base = min(initial * 2 ** (failed - 1), MAX_BACKOFF_SECONDS)
    wait = backoff_seconds(failed, initial, jitter)
    assert 0.75 * base - 1e-9 <= wait <= min(1.25 * base, MAX_BACKOFF_SECONDS) + 1e-9


def test_the_default_twenty_attempts_span_about_eight_to_nine_hours() -> None:
    total = sum(backoff_seconds(n, 1.0, 0.5) for n in range(1, 20))
    assert 8 * 3600 < total < 9 * 3600


def test_a_delivery_id_is_stable_per_event_and_endpoint() -> None:
    endpoint = uuid4()
    first = delivery_id_for(endpoint, 4711)
    assert delivery_id_for(endpoint, 4711) == first != delivery_id_for(endpoint, 4712)
    assert message_id(first) == f"msg_{first.hex}"
