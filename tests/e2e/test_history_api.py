"""History over HTTP: the ingest mutation, the bulk NDJSON endpoint, and the history fields."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from domain.history.records import RecordKind
from infra.bootstrap import Container
from tests.helpers import GraphQL, error_codes
from tests.history_helpers import BJ_NUMBER, GD_NUMBER, record

INGEST = """
mutation($input: PlatformRecordBatchInput!) {
  ingestPlatformRecords(input: $input) {
    accepted duplicate position userErrors { code message field }
  }
}"""

SMS_PAGE = """
query($m: String!, $first: Int, $after: String, $from: DateTime, $to: DateTime, $pos: Int) {
  subscriber(msisdn: $m) {
    smsRecords(first: $first, after: $after, from: $from, to: $to, consistentWith: $pos) {
      nodes { id occurredAt direction peer status feeFen category sizeBytes }
      pageInfo { endCursor hasNextPage }
    }
  }
}"""


@pytest.fixture
def world(gql: GraphQL, container: Container) -> GraphQL:
    admin = _principal(container, "admin")
    container.subscribers.register(admin, GD_NUMBER, "GD", "FREE")
    container.subscribers.register(admin, BJ_NUMBER, "BJ", "FREE")
    return gql


def _principal(container: Container, username: str) -> Any:
    from application.access.service import principal_of
    from domain.access.account import account_id_for

    return principal_of(container.access.actor_account(account_id_for(username)))


def send(
    gql: GraphQL, kind: str, records: list[Any], batch: str = "b1", as_user: str = "platform"
) -> dict[str, Any]:
    return gql(
        INGEST,
        {"input": {"source": "sms-gw", "batchId": batch, "kind": kind, "records": records}},
        as_user=as_user,
    )


def test_ingest_then_read_your_writes_with_consistent_with(world: GraphQL) -> None:
    sent = send(world, "SMS", [record(RecordKind.SMS, n) for n in range(3)])
    payload = sent["data"]["ingestPlatformRecords"]
    assert payload["accepted"] == 3 and payload["duplicate"] is False
    page = world(
        SMS_PAGE, {"m": GD_NUMBER, "first": 2, "pos": payload["position"]}, as_user="gd.agent"
    )
    records = page["data"]["subscriber"]["smsRecords"]
    assert len(records["nodes"]) == 2 and records["pageInfo"]["hasNextPage"] is True
    assert records["nodes"][0]["direction"] == "SENT"
    rest = world(
        SMS_PAGE, {"m": GD_NUMBER, "after": records["pageInfo"]["endCursor"]}, as_user="gd.agent"
    )["data"]["subscriber"]["smsRecords"]
    assert len(rest["nodes"]) == 1 and rest["pageInfo"]["hasNextPage"] is False
    again = send(world, "SMS", [record(RecordKind.SMS, n) for n in range(3)])
    again = again["data"]["ingestPlatformRecords"]
    assert again["duplicate"] is True and again["accepted"] == 0
    assert again["position"] == payload["position"]


def test_an_invalid_record_rejects_the_batch_with_its_index_and_field(world: GraphQL) -> None:
    payload = send(
        world, "LOGIN", [record(RecordKind.LOGIN, 0), record(RecordKind.LOGIN, 1, channel="FTP")]
    )
    result = payload["data"]["ingestPlatformRecords"]
    assert result["accepted"] == 0 and result["position"] is None
    assert result["userErrors"][0]["code"] == "INVALID_RECORD"
    assert result["userErrors"][0]["field"] == ["records", "1", "channel"]


@pytest.mark.parametrize(
    ("user", "allowed"),
    [
        ("admin", True),
        ("platform", True),
        ("second", False),
        ("gd.agent", False),
        ("viewer", False),
        ("gd.viewer", False),
        ("auditor", False),
    ],
)
def test_only_integration_and_super_admin_may_ingest(
    world: GraphQL, user: str, allowed: bool
) -> None:
    result = send(world, "USAGE", [record(RecordKind.USAGE)], batch=f"b-{user}", as_user=user)
    if allowed:
        assert result["data"]["ingestPlatformRecords"]["accepted"] == 1
    else:
        assert error_codes(result) == ["FORBIDDEN"]


def test_history_follows_subscriber_province_scoping(world: GraphQL) -> None:
    send(world, "SMS", [record(RecordKind.SMS, 0, msisdn=BJ_NUMBER)])
    result = world(SMS_PAGE, {"m": BJ_NUMBER}, as_user="gd.agent")
    assert error_codes(result) == ["FORBIDDEN"]
    assert world(SMS_PAGE, {"m": BJ_NUMBER}, as_user="bj.agent")["data"]["subscriber"]


def test_tampered_or_foreign_cursors_are_bad_input(world: GraphQL) -> None:
    position = send(world, "SMS", [record(RecordKind.SMS, n) for n in range(3)])["data"][
        "ingestPlatformRecords"
    ]["position"]
    cursor = world(SMS_PAGE, {"m": GD_NUMBER, "first": 1, "pos": position}, as_user="admin")[
        "data"
    ]["subscriber"]["smsRecords"]["pageInfo"]["endCursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert error_codes(world(SMS_PAGE, {"m": GD_NUMBER, "after": tampered}, as_user="admin")) == [
        "BAD_USER_INPUT"
    ]
    # A cursor of GD's SMS list means nothing for BJ's list.
    assert error_codes(world(SMS_PAGE, {"m": BJ_NUMBER, "after": cursor}, as_user="admin")) == [
        "BAD_USER_INPUT"
    ]
    assert error_codes(world(SMS_PAGE, {"m": GD_NUMBER, "first": -1}, as_user="admin")) == [
        "BAD_USER_INPUT"
    ]


def test_every_history_field_and_usage_counts(world: GraphQL) -> None:
    last = 0
    for kind in RecordKind:
        result = send(world, kind.value, [record(kind, 0)], batch=f"all-{kind.value}")
        last = result["data"]["ingestPlatformRecords"]["position"]
    document = """query($m: String!, $p: Int) { subscriber(msisdn: $m) {
      pointsBalance level
      smsRecords(consistentWith: $p) { nodes { id } }
      mmsRecords { nodes { sizeBytes category } }
      wapPushRecords { nodes { title url status feeFen } }
      campaignEntries { nodes { campaignId campaignName rank won prize } }
      charges { nodes { amountFen method item } }
      logins(channel: POP) { nodes { channel ip success } }
      usageLog { nodes { operation detail } }
      syncLog { nodes { operation result bossTransactionId } }
      pointsLog { nodes { delta balance level reason } }
      usageCounts(from: "2026-11-20", to: "2026-11-20") {
        from to selfWrittenSms selfWrittenMms arrivalNotifications }
    } }"""
    # pointsBalance has no consistentWith of its own: wait through a history field first.
    world(SMS_PAGE, {"m": GD_NUMBER, "pos": last}, as_user="viewer")
    data = world(document, {"m": GD_NUMBER, "p": last}, as_user="viewer")["data"]["subscriber"]
    assert data["pointsBalance"] == 110 and data["level"] == 1
    for field in (
        "smsRecords",
        "mmsRecords",
        "wapPushRecords",
        "campaignEntries",
        "charges",
        "logins",
        "usageLog",
        "syncLog",
        "pointsLog",
    ):
        assert len(data[field]["nodes"]) == 1, field
    assert data["usageCounts"] == {
        "from": "2026-11-20",
        "to": "2026-11-20",
        "selfWrittenSms": 1,
        "selfWrittenMms": 0,
        "arrivalNotifications": 1,
    }


def _ndjson(records: list[Any]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def _bulk(
    client: TestClient, token: str | None, body: Any, kind: str = "sms", batch: str = "bulk-1"
) -> Any:
    headers = {"content-type": "application/x-ndjson"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return client.post(
        f"/ingest/{kind}?source=sms-gw&batchId={batch}", content=body, headers=headers
    )


def test_bulk_ndjson_endpoint(world: GraphQL, client: TestClient, container: Container) -> None:
    token = world.login("platform")
    response = _bulk(client, token, _ndjson([record(RecordKind.SMS, n) for n in range(5)]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 5 and body["duplicate"] is False and body["errors"] == []
    again = _bulk(client, token, _ndjson([record(RecordKind.SMS, n) for n in range(5)]))
    assert again.json() == {
        "accepted": 0,
        "duplicate": True,
        "duplicateRecords": 5,
        "position": body["position"],
        "errors": [],
        "errorCount": 0,
    }


def test_bulk_errors_name_lines_and_nothing_is_stored(
    world: GraphQL, client: TestClient, container: Container
) -> None:
    token = world.login("platform")
    head = container.feed_log.head()
    body = (
        _ndjson([record(RecordKind.SMS, 0)])
        + b"{not json\n"
        + _ndjson([record(RecordKind.SMS, 2, status="LOST")])
    )
    response = _bulk(client, token, body, batch="bad")
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(2, None), (3, "status")]
    assert container.feed_log.head() == head


def test_bulk_auth_kind_and_limits(
    world: GraphQL, client: TestClient, container: Container
) -> None:
    body = _ndjson([record(RecordKind.SMS, n) for n in range(3)])
    assert _bulk(client, None, body).status_code == 401
    assert _bulk(client, world.login("gd.agent"), body).status_code == 403
    token = world.login("platform")
    assert _bulk(client, token, body, kind="fax").status_code == 400
    container.settings.__dict__["ingest_max_records"] = 2
    try:
        response = _bulk(client, token, body, batch="too-many")
        assert response.status_code == 413 and response.json()["errors"][0]["code"] == (
            "BATCH_TOO_LARGE"
        )
    finally:
        container.settings.__dict__["ingest_max_records"] = 100_000
    container.settings.__dict__["ingest_max_bytes"] = 100
    try:
        assert _bulk(client, token, body, batch="too-big").status_code == 413
    finally:
        container.settings.__dict__["ingest_max_bytes"] = 64 * 1024 * 1024


def test_bulk_line_numbers_hold_across_streamed_pieces(
    world: GraphQL, client: TestClient, container: Container
) -> None:
    """A body of several megabytes, sent in 64 KB pieces, is validated a megabyte at a time:
    errors still name the physical line (blank lines counted), the last line needs no newline,
    and nothing is stored."""
    lines = [json.dumps(record(RecordKind.SMS, n)).encode() for n in range(15_000)]
    lines[6_999] = b"   "  # line 7,000 is blank
    lines[12_344] = json.dumps(record(RecordKind.SMS, 12_344, feeFen=-1)).encode()
    lines[14_999] = b'{"msisdn": "13800138000"'  # the last line, cut short, no newline
    body = b"\n".join(lines)
    assert len(body) > 3 * (1 << 20)
    head = container.feed_log.head()

    def pieces() -> Any:
        for offset in range(0, len(body), 65_536):
            yield body[offset : offset + 65_536]

    response = _bulk(client, world.login("platform"), pieces(), batch="streamed")
    assert response.status_code == 422, response.text
    assert [(e["line"], e["field"]) for e in response.json()["errors"]] == [
        (12_345, "feeFen"),
        (15_000, None),
    ]
    assert container.feed_log.head() == head


def test_bulk_batches_take_a_slot_and_are_busy_after_waiting_too_long(
    world: GraphQL, client: TestClient, container: Container
) -> None:
    """With every slot taken (here one), a batch waits for one before its body is read; one
    that waits longer than SPOA_INGEST_QUEUE_SECONDS is 503 BUSY with Retry-After and stores
    nothing; a batch that gets a slot in time goes through."""
    slots = anyio.Semaphore(1)
    client.app.state.ingest_slots = slots  # type: ignore[attr-defined]
    headers = {
        "authorization": f"Bearer {world.login('platform')}",
        "content-type": "application/x-ndjson",
    }
    body = _ndjson([record(RecordKind.SMS, n) for n in range(3)])
    other_records = _ndjson([record(RecordKind.SMS, n) for n in range(3, 6)])

    def post(http: httpx.AsyncClient, batch: str, content: Any) -> Any:
        return http.post(f"/ingest/sms?source=gw&batchId={batch}", content=content, headers=headers)

    async def scenario() -> dict[str, httpx.Response]:
        answers: dict[str, httpx.Response] = {}
        release = anyio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            yield body[:10]
            await release.wait()
            yield body[10:]

        async def send(http: httpx.AsyncClient, name: str, content: Any) -> None:
            answers[name] = await post(http, name, content)

        transport = httpx.ASGITransport(app=client.app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://spoa") as http,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(send, http, "slow", slow_body())
            with anyio.fail_after(10):
                while slots.value:  # until the slow batch holds the slot
                    await anyio.sleep(0.01)
            container.settings.__dict__["ingest_queue_seconds"] = 0.2
            answers["busy"] = await post(http, "busy", body)
            container.settings.__dict__["ingest_queue_seconds"] = 10
            tasks.start_soon(send, http, "patient", other_records)
            await anyio.sleep(0.3)  # the patient batch is waiting for the slot
            release.set()
        return answers

    head = container.feed_log.head()
    try:
        answers = anyio.run(scenario)
    finally:
        container.settings.__dict__["ingest_queue_seconds"] = 30
    busy = answers["busy"]
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["errors"][0]["code"] == "BUSY"
    assert answers["slow"].status_code == 200 and answers["slow"].json()["accepted"] == 3
    assert answers["patient"].status_code == 200 and answers["patient"].json()["accepted"] == 3
    assert container.feed_log.head() > head and slots.value == 1
    again = client.post("/ingest/sms?source=gw&batchId=busy", content=body, headers=headers)
    # The busy batch was never stored; its records came in the slow batch.
    assert again.json()["duplicate"] is False and again.json()["duplicateRecords"] == 3, again.text
