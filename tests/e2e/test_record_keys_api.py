"""A record is stored once across batches, over HTTP: the GraphQL mutation and the bulk NDJSON
endpoint report the same (accepted, duplicate, duplicateRecords, position), and a batch id
reused for other content is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.history.records import RecordKind
from tests.e2e.access_world import World, open_world
from tests.history_helpers import GD_NUMBER, record

INGEST = """
mutation($input: PlatformRecordBatchInput!) {
  ingestPlatformRecords(input: $input) {
    accepted duplicate duplicateRecords position userErrors { code message field }
  }
}"""

COUNTS = """
query($m: String!, $pos: Int) {
  subscriber(msisdn: $m) {
    usageCounts(from: "2026-11-20", to: "2026-11-20", consistentWith: $pos) { selfWrittenSms }
  }
}"""


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        w.container.subscribers.register(w.admin, GD_NUMBER, "GD", "FREE")
        yield w


def graphql(world: World, batch: str, numbers: range, source: str = "gql", **fields: Any) -> Any:
    records = [record(RecordKind.SMS, n, **fields) for n in numbers]
    sent = world.gql(
        INGEST,
        {"input": {"source": source, "batchId": batch, "kind": "SMS", "records": records}},
        as_user="platform",
    )
    assert "errors" not in sent, sent
    return sent["data"]["ingestPlatformRecords"]


def bulk(world: World, batch: str, numbers: range, source: str = "bulk", **fields: Any) -> Any:
    body = b"".join(json.dumps(record(RecordKind.SMS, n, **fields)).encode() + b"\n"
                    for n in numbers)  # fmt: skip
    client: TestClient = world.client
    return client.post(
        f"/ingest/sms?source={source}&batchId={batch}",
        content=body,
        headers={
            "authorization": f"Bearer {world.gql.login('platform')}",
            "content-type": "application/x-ndjson",
        },
    )


def sent_sms(world: World, position: int) -> int:
    counts = world.gql(COUNTS, {"m": GD_NUMBER, "pos": position}, as_user="gd.agent")
    return int(counts["data"]["subscriber"]["usageCounts"]["selfWrittenSms"])


def test_graphql_resent_records_are_counted_not_stored(world: World) -> None:
    first = graphql(world, "g1", range(20))
    assert (first["accepted"], first["duplicate"], first["duplicateRecords"]) == (20, False, 0)
    resent = graphql(world, "g2", range(20))
    assert resent == {
        "accepted": 0,
        "duplicate": False,
        "duplicateRecords": 20,
        "position": None,
        "userErrors": [],
    }
    mixed = graphql(world, "g3", range(15, 30))
    assert (mixed["accepted"], mixed["duplicate"], mixed["duplicateRecords"]) == (10, False, 5)
    assert sent_sms(world, mixed["position"]) == 30
    same = graphql(world, "g3", range(15, 30))
    assert (same["duplicate"], same["position"]) == (True, mixed["position"])


def test_graphql_a_reused_batch_id_is_a_user_error(world: World) -> None:
    graphql(world, "reused", range(100, 103))
    head = world.container.feed_log.head()
    for other in ({"peer": "13700000000"}, {"feeFen": -1}):
        refused = graphql(world, "reused", range(100, 103), **other)
        assert refused["userErrors"] == [
            {
                "code": "BATCH_ID_REUSED",
                "message": "batchId 'reused' of source 'gql' was stored before with other"
                " content; a new batch needs a new batchId",
                "field": ["batchId"],
            }
        ]
        assert (refused["accepted"], refused["duplicate"], refused["position"]) == (0, False, None)
    assert world.container.feed_log.head() == head


def test_the_bulk_endpoint_reports_the_same(world: World) -> None:
    first = bulk(world, "n1", range(40))
    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["duplicateRecords"]) == (40, 0)
    resent = bulk(world, "n2", range(40))
    assert resent.status_code == 200, resent.text
    assert resent.json() == {
        "accepted": 0,
        "duplicate": False,
        "duplicateRecords": 40,
        "position": None,
        "errors": [],
        "errorCount": 0,
    }
    mixed = bulk(world, "n3", range(30, 50))
    assert (mixed.json()["accepted"], mixed.json()["duplicateRecords"]) == (10, 10)
    again = bulk(world, "n3", range(30, 50))
    assert (
        again.json()["duplicate"] is True and again.json()["position"] == mixed.json()["position"]
    )
    head = world.container.feed_log.head()
    reused = bulk(world, "n3", range(30, 51))
    assert reused.status_code == 409, reused.text
    assert reused.json()["errors"][0]["code"] == "BATCH_ID_REUSED"
    assert reused.json()["accepted"] == 0 and reused.json()["position"] is None
    other_kind = world.client.post(
        "/ingest/mms?source=bulk&batchId=n3",
        content=b"".join(
            json.dumps(record(RecordKind.MMS, n)).encode() + b"\n" for n in range(30, 50)
        ),
        headers={
            "authorization": f"Bearer {world.gql.login('platform')}",
            "content-type": "application/x-ndjson",
        },
    )
    assert other_kind.status_code == 409 and "BATCH_ID_REUSED" in other_kind.text
    assert world.container.feed_log.head() == head
