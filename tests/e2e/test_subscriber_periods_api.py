"""Registration periods over HTTP: a recycled number shows its current customer only.

13609054103 was a BJ mailbox (alias, points, SMS, logins), deregistered, then registered in
GD by a vendor. A GD agent reading it sees the GD period alone, whatever the field; the
previous owner's data stays for AUDITOR and SUPER_ADMIN through `allPeriods: true`, which
every other role is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.history.records import RecordKind
from infra.bootstrap import Container
from tests.e2e.access_world import open_world
from tests.e2e.test_subscriber_api import staff
from tests.helpers import GraphQL, error_codes
from tests.history_helpers import record
from tests.memory_store import FakeClock

NUMBER = "13609054103"
T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, June 1st
DEREGISTERED = T0 + timedelta(days=10)
REREGISTERED = T0 + timedelta(days=20)  # 09:00 in Shanghai, June 21st
BJ_ERA = T0 + timedelta(days=1)
LATE_BJ = REREGISTERED - timedelta(hours=1)  # the same Shanghai day, before the new owner
GD_ERA = REREGISTERED + timedelta(hours=2)

READ = """
query($m: String!, $all: Boolean, $pos: Int) {
  subscriber(msisdn: $m) {
    province alias
    pointsBalance(allPeriods: $all) level(allPeriods: $all)
    registrations { start end province }
    smsRecords(allPeriods: $all, consistentWith: $pos) { nodes { peer } }
    logins(allPeriods: $all) { nodes { ip } }
    pointsLog(allPeriods: $all) { nodes { balance } }
    usageCounts(from: "2026-06-01", to: "2026-06-30", allPeriods: $all) { selfWrittenSms }
    sameDay: usageCounts(from: "2026-06-21", to: "2026-06-21", allPeriods: $all) {
      selfWrittenSms
    }
    changes(allPeriods: $all) { nodes { type actor { username } } }
  }
}"""

AS_OF = """
query($m: String!, $at: DateTime!) {
  subscriberAsOf(msisdn: $m, at: $at) {
    province alias
    smsRecords { nodes { peer } }
    changes { nodes { type } }
    registrations { province end }
  }
}"""

# Every field that takes allPeriods, with the argument where it goes.
ALL_PERIODS_FIELDS = [
    "smsRecords({}) { nodes { id } }",
    "mmsRecords({}) { nodes { id } }",
    "wapPushRecords({}) { nodes { id } }",
    "campaignEntries({}) { nodes { id } }",
    "charges({}) { nodes { id } }",
    "logins({}) { nodes { id } }",
    "usageLog({}) { nodes { id } }",
    "syncLog({}) { nodes { id } }",
    "pointsLog({}) { nodes { id } }",
    'usageCounts(from: "2026-06-01", to: "2026-06-02", {}) { selfWrittenSms }',
    "pointsBalance({})",
    "level({})",
    "changes({}) { nodes { type } }",
]


def ingest(gql: GraphQL, kind: RecordKind, batch: str, records: list[Any]) -> int:
    sent = gql(
        "mutation($in: PlatformRecordBatchInput!) { ingestPlatformRecords(input: $in) {"
        " accepted position userErrors { code message } } }",
        {"in": {"source": "gw", "batchId": batch, "kind": kind.value, "records": records}},
        as_user="platform",
    )
    assert "errors" not in sent, sent
    sent = sent["data"]["ingestPlatformRecords"]
    assert sent["userErrors"] == [] and sent["accepted"] == len(records), sent
    return int(sent["position"])


@dataclass(frozen=True)
class Recycled:
    gql: GraphQL
    position: int  # of the last records sent


@pytest.fixture(scope="module")
def recycled(pg_server_url: str, template_db: str) -> Iterator[Recycled]:
    """One app and database for the module: the tests only read."""
    with open_world(pg_server_url, template_db) as world:
        yield Recycled(world.gql, recycle(world.gql, world.container))


def recycle(gql: GraphQL, container: Container) -> int:
    """The recycled number; returns the feed position of its last records."""
    clock = FakeClock(T0)
    commands = container.subscribers
    commands.clock = clock
    admin, vendor = staff(container, "admin"), staff(container, "second")
    commands.register(admin, NUMBER, "BJ", "FREE")
    clock.current = T0 + timedelta(hours=1)
    commands.set_alias(admin, NUMBER, "bj.owner")
    ingest(
        gql,
        RecordKind.SMS,
        "bj-sms",
        [record(RecordKind.SMS, 1, msisdn=NUMBER, at=BJ_ERA, peer="13900000001")],
    )
    ingest(
        gql,
        RecordKind.LOGIN,
        "bj-logins",
        [record(RecordKind.LOGIN, 1, msisdn=NUMBER, at=BJ_ERA, ip="10.1.1.1")],
    )
    ingest(
        gql,
        RecordKind.POINTS,
        "bj-points",
        [record(RecordKind.POINTS, 1, msisdn=NUMBER, at=BJ_ERA, balance=900, level=5)],
    )
    clock.current = DEREGISTERED
    commands.deregister(admin, NUMBER)
    clock.current = REREGISTERED
    commands.register(vendor, NUMBER, "GD", "PLUS_5")
    clock.current = REREGISTERED + timedelta(hours=3)
    commands.set_alias(vendor, NUMBER, "gd.owner")
    ingest(
        gql,
        RecordKind.SMS,
        "gd-sms",
        [record(RecordKind.SMS, 2, msisdn=NUMBER, at=GD_ERA, peer="13900000002")],
    )
    # Sent after the new registration, but about the previous owner: stays in the BJ period.
    return ingest(
        gql,
        RecordKind.SMS,
        "late-bj-sms",
        [record(RecordKind.SMS, 3, msisdn=NUMBER, at=LATE_BJ, peer="13900000003")],
    )


def read(recycled: Recycled, user: str, all_periods: bool | None = None) -> Any:
    variables: dict[str, Any] = {"m": NUMBER, "pos": recycled.position}
    if all_periods is not None:
        variables["all"] = all_periods
    return recycled.gql(READ, variables, as_user=user)


def test_an_agent_reading_a_recycled_number_sees_only_its_current_customer(
    recycled: Recycled,
) -> None:
    for explicit in (None, False):
        result = read(recycled, "gd.agent", explicit)
        assert "errors" not in result, result
        s = result["data"]["subscriber"]
        assert (s["province"], s["alias"]) == ("GD", "gd.owner")
        assert [n["peer"] for n in s["smsRecords"]["nodes"]] == ["13900000002"]
        assert s["logins"]["nodes"] == []  # the previous owner's IP addresses
        assert s["pointsLog"]["nodes"] == [] and (s["pointsBalance"], s["level"]) == (0, 0)
        assert s["usageCounts"]["selfWrittenSms"] == 1
        assert s["sameDay"]["selfWrittenSms"] == 1  # the BJ record of that morning left out
        changes = s["changes"]["nodes"]
        assert [c["type"] for c in changes] == ["AliasChanged", "MailboxReregistered"]
        assert {c["actor"]["username"] for c in changes} == {"second"}
        # The periods themselves carry no personal data and are listed for every reader.
        assert s["registrations"] == [
            {"start": T0.isoformat(), "end": DEREGISTERED.isoformat(), "province": "BJ"},
            {"start": REREGISTERED.isoformat(), "end": None, "province": "GD"},
        ]


@pytest.mark.parametrize("user", ["auditor", "admin"])
def test_auditors_see_the_current_period_by_default_and_every_period_on_request(
    recycled: Recycled, user: str
) -> None:
    current = read(recycled, user)["data"]["subscriber"]
    assert [n["peer"] for n in current["smsRecords"]["nodes"]] == ["13900000002"]
    assert current["pointsBalance"] == 0 and len(current["changes"]["nodes"]) == 2
    result = read(recycled, user, True)
    assert "errors" not in result, result
    s = result["data"]["subscriber"]
    assert [n["peer"] for n in s["smsRecords"]["nodes"]] == [
        "13900000002",
        "13900000003",
        "13900000001",
    ]
    assert [n["ip"] for n in s["logins"]["nodes"]] == ["10.1.1.1"]
    assert [n["balance"] for n in s["pointsLog"]["nodes"]] == [900]
    assert (s["pointsBalance"], s["level"]) == (900, 5)
    assert s["usageCounts"]["selfWrittenSms"] == 3 and s["sameDay"]["selfWrittenSms"] == 2
    assert [c["type"] for c in s["changes"]["nodes"]] == [
        "AliasChanged",
        "MailboxReregistered",
        "MailboxDeregistered",
        "AliasChanged",
        "MailboxRegistered",
    ]


@pytest.mark.parametrize("user", ["second", "gd.agent", "viewer", "gd.viewer"])
def test_every_other_role_passing_all_periods_is_forbidden(recycled: Recycled, user: str) -> None:
    for field in ALL_PERIODS_FIELDS:
        document = "query($m: String!) { subscriber(msisdn: $m) { msisdn " + field + " } }"
        refused = recycled.gql(document.replace("{}", "allPeriods: true"), {"m": NUMBER},
                               as_user=user)  # fmt: skip
        assert error_codes(refused) == ["FORBIDDEN"], (field, refused)
        assert refused["data"] == {"subscriber": None}
        # The field itself answers, for the current period.
        answered = recycled.gql(document.replace("{}", "allPeriods: false"), {"m": NUMBER},
                                as_user=user)  # fmt: skip
        assert "errors" not in answered, (field, answered)


def test_a_bj_agent_reads_nothing_of_the_number_now_in_gd(recycled: Recycled) -> None:
    for all_periods in (None, True):
        assert error_codes(read(recycled, "bj.agent", all_periods)) == ["FORBIDDEN"]
    at = (BJ_ERA).isoformat()
    assert error_codes(recycled.gql(AS_OF, {"m": NUMBER, "at": at}, as_user="bj.agent")) == [
        "FORBIDDEN"
    ]


@pytest.mark.parametrize("user", ["gd.agent", "second", "viewer", "gd.viewer"])
def test_as_of_a_time_before_the_current_period_is_forbidden(recycled: Recycled, user: str) -> None:
    for at in (BJ_ERA, DEREGISTERED + timedelta(days=1), REREGISTERED - timedelta(seconds=1)):
        result = recycled.gql(AS_OF, {"m": NUMBER, "at": at.isoformat()}, as_user=user)
        assert error_codes(result) == ["FORBIDDEN"], (at, result)
    inside = recycled.gql(AS_OF, {"m": NUMBER, "at": REREGISTERED.isoformat()}, as_user=user)
    assert "errors" not in inside, inside
    assert inside["data"]["subscriberAsOf"]["province"] == "GD"
    assert inside["data"]["subscriberAsOf"]["alias"] is None  # set an hour later


@pytest.mark.parametrize("user", ["auditor", "admin"])
def test_auditors_read_a_previous_period_as_of_its_time(recycled: Recycled, user: str) -> None:
    result = recycled.gql(AS_OF, {"m": NUMBER, "at": BJ_ERA.isoformat()}, as_user=user)
    assert "errors" not in result, result
    past = result["data"]["subscriberAsOf"]
    assert (past["province"], past["alias"]) == ("BJ", "bj.owner")
    # That view's fields cover its own period: the BJ one, late records included.
    assert [n["peer"] for n in past["smsRecords"]["nodes"]] == ["13900000003", "13900000001"]
    assert [c["type"] for c in past["changes"]["nodes"]] == ["AliasChanged", "MailboxRegistered"]
    assert past["registrations"] == [{"province": "BJ", "end": None}]


CHANGES_PAGE = """
query($m: String!, $all: Boolean, $after: String) {
  subscriber(msisdn: $m) {
    changes(first: 2, after: $after, allPeriods: $all) {
      nodes { version } pageInfo { endCursor hasNextPage }
    }
  }
}"""


def pages(recycled: Recycled, user: str, all_periods: bool) -> list[list[int]]:
    found, after = [], None
    while True:
        variables = {"m": NUMBER, "all": all_periods, "after": after}
        page = recycled.gql(CHANGES_PAGE, variables, as_user=user)["data"]["subscriber"]
        found.append([n["version"] for n in page["changes"]["nodes"]])
        if not page["changes"]["pageInfo"]["hasNextPage"]:
            return found
        after = page["changes"]["pageInfo"]["endCursor"]


def test_changes_page_within_the_period_and_across_periods(recycled: Recycled) -> None:
    assert pages(recycled, "gd.agent", False) == [[5, 4]]
    assert pages(recycled, "auditor", True) == [[5, 4], [3, 2], [1]]
