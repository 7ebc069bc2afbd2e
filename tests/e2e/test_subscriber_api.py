"""Subscribers over HTTP: every mutation × every role (permissions.md), other-province attempts,
queries and their scoping, userErrors and GraphQL error codes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from application.access.service import principal_of
from application.authz import Principal
from domain.access.account import account_id_for
from infra.bootstrap import Container
from tests.helpers import GraphQL, error_codes
from tests.integration.support_helpers import submitted

ROLES = ["admin", "second", "gd.agent", "bj.agent", "viewer", "gd.viewer", "auditor", "platform"]
PROXY_ROLES = {"admin", "second", "gd.agent", "platform"}  # gd.agent: GD subscribers only
FREEZE_ROLES = {"admin", "platform"}
READ_ROLES = {"admin", "second", "gd.agent", "viewer", "gd.viewer", "auditor"}

PAYLOAD = "{ subscriber { msisdn status version } position userErrors { code message field } }"
SUBSCRIBER_FIELDS = """
  msisdn mailbox province status plan { code name monthlyFeeFen }
  registeredAt deregisteredAt frozenAt frozenReason companionEnabled billDelivery
  arrivalNotification { enabled mode windowStart windowEnd }
  loginReminder alias smsBlacklistLevel passwordChangedAt pointsBalance level version
"""


def staff(container: Container, username: str) -> Principal:
    account = container.access.actor_account(account_id_for(username))
    assert account is not None
    return principal_of(account)


def gd_ticket(container: Container, msisdn: str | None = None) -> str:
    """A GD ticket (about `msisdn`, or an incident naming no mailbox): what changes cite."""
    return str(submitted(container, staff(container, "gd.agent"), msisdn=msisdn))


@dataclass(frozen=True)
class Case:
    """A mutation, its input for a GD number, and what must hold before it can succeed."""

    input_type: str
    input: Callable[[str, int], dict[str, Any]]
    given: Callable[[Container, str], None] = field(default=lambda c, m: _registered(c, m))
    allowed: frozenset[str] = frozenset(PROXY_ROLES)


def _registered(container: Container, msisdn: str, province: str = "GD") -> None:
    container.subscribers.register(staff(container, "admin"), msisdn, province, "FREE")


def _frozen(container: Container, msisdn: str) -> None:
    _registered(container, msisdn)
    container.subscribers.freeze(staff(container, "admin"), msisdn, "phishing")


CASES: dict[str, Case] = {
    "registerMailbox": Case(
        "RegisterMailboxInput",
        lambda m, i: {"msisdn": m, "province": "GD", "planCode": "PLUS_5"},
        given=lambda c, m: None,
    ),
    "deregisterMailbox": Case("DeregisterMailboxInput", lambda m, i: {"msisdn": m}),
    "changePlan": Case("ChangePlanInput", lambda m, i: {"msisdn": m, "planCode": "VIP_20"}),
    "setCompanion": Case("SetCompanionInput", lambda m, i: {"msisdn": m, "enabled": True}),
    "setBillDelivery": Case("SetBillDeliveryInput", lambda m, i: {"msisdn": m, "subscribed": True}),
    "setArrivalNotification": Case(
        "SetArrivalNotificationInput",
        lambda m, i: {
            "msisdn": m,
            "enabled": True,
            "mode": "WAP_PUSH",
            "windowStart": "22:00",
            "windowEnd": "07:00",
        },
    ),
    "setLoginReminder": Case("SetLoginReminderInput", lambda m, i: {"msisdn": m, "enabled": True}),
    "setAlias": Case("SetAliasInput", lambda m, i: {"msisdn": m, "alias": f"user.{i}"}),
    "changePassword": Case(
        "ChangePasswordInput", lambda m, i: {"msisdn": m, "newPassword": "Secret2026"}
    ),
    "unfreezeMailbox": Case("UnfreezeMailboxInput", lambda m, i: {"msisdn": m}, given=_frozen),
    "freezeMailbox": Case(
        "FreezeMailboxInput",
        lambda m, i: {"msisdn": m, "reason": "credential stuffing"},
        allowed=frozenset(FREEZE_ROLES),
    ),
    "setSmsBlacklist": Case(
        "SetSmsBlacklistInput", lambda m, i: {"msisdn": m, "level": "ALL_BLOCKED"}
    ),
}


def mutation(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {PAYLOAD} }}"


def test_every_mutation_by_every_role(gql: GraphQL, container: Container) -> None:
    # One test rather than one per mutation: each e2e test pays for a database and an app.
    for role in ROLES:
        gql.login(role)  # logging in is an event too; do it before counting events
    for name in sorted(CASES):
        every_role_tries(gql, container, name)


def every_role_tries(gql: GraphQL, container: Container, name: str) -> None:
    case = CASES[name]
    document = mutation(name, case.input_type)
    incident = gd_ticket(container)
    for index, role in enumerate(ROLES):
        msisdn = f"135{sorted(CASES).index(name):02d}{index:02d}0000"
        case.given(container, msisdn)
        before = container.core_log.head()
        variables = case.input(msisdn, index)
        # the platform reads no tickets, so it cites none (a citation it cannot read is
        # TICKET_NOT_FOUND: test_changes_cite_only_tickets_that_fit)
        cited = None if role == "platform" else incident
        variables["context"] = {"reason": f"test by {role}", "ticketId": cited}
        result = gql(document, {"input": variables}, as_user=role)
        if role in case.allowed:
            payload = result["data"][name]
            assert payload["userErrors"] == [], (name, role, payload)
            assert payload["subscriber"]["msisdn"] == msisdn
            assert payload["position"] > before
            trail = container.audit.trail(staff(container, "auditor"), "Subscriber", msisdn, 0, 50)
            last = trail[-1]
            assert (name, last.actor_username, last.reason, last.ticket_id) == (
                name,
                role,
                f"test by {role}",
                cited,
            )
        else:
            assert error_codes(result) == ["FORBIDDEN"], (name, role, result)
            assert result["data"] is None
            assert container.core_log.head() == before, f"{name} by {role} stored something"


def test_a_province_agent_may_not_touch_another_provinces_subscriber(
    gql: GraphQL, container: Container
) -> None:
    gql.login("gd.agent")
    for index, (name, case) in enumerate(sorted(CASES.items())):
        msisdn = f"1390013{index:02d}00"
        if name == "registerMailbox":
            variables = {"msisdn": msisdn, "province": "BJ", "planCode": "FREE"}
        else:
            _registered(container, msisdn, "BJ")
            if name == "unfreezeMailbox":
                container.subscribers.freeze(staff(container, "admin"), msisdn, "phishing")
            variables = case.input(msisdn, index)
        before = container.core_log.head()
        result = gql(mutation(name, case.input_type), {"input": variables}, as_user="gd.agent")
        assert error_codes(result) == ["FORBIDDEN"], (name, result)
        assert container.core_log.head() == before, name
        if name != "freezeMailbox":  # freezing is for admins and the platform only
            allowed = gql(mutation(name, case.input_type), {"input": variables}, as_user="bj.agent")
            assert allowed["data"][name]["userErrors"] == [], allowed


def test_reads_by_every_role_and_province(gql: GraphQL, container: Container) -> None:
    admin = staff(container, "admin")
    container.subscribers.register(admin, "13800138000", "GD", "FREE")
    container.subscribers.register(admin, "13900139000", "BJ", "FREE")
    document = (
        "query($m: String!, $at: DateTime!) { plans { code }"
        " subscriber(msisdn: $m) { msisdn changes(first: 1) { nodes { type } } }"
        " subscriberAsOf(msisdn: $m, at: $at) { msisdn } }"
    )
    for role in ROLES:
        for msisdn, province in [("13800138000", "GD"), ("13900139000", "BJ")]:
            result = gql(document, {"m": msisdn, "at": "2099-01-01T00:00:00Z"}, as_user=role)
            scoped = {"gd.agent": "GD", "bj.agent": "BJ", "gd.viewer": "GD"}.get(role)
            may = role in READ_ROLES | {"bj.agent"} and scoped in (None, province)
            if may:
                assert "errors" not in result, (role, msisdn, result)
                assert result["data"]["subscriber"]["msisdn"] == msisdn
                assert result["data"]["subscriber"]["changes"]["nodes"] == [
                    {"type": "MailboxRegistered"}
                ]
                assert result["data"]["subscriberAsOf"]["msisdn"] == msisdn
            else:
                assert set(error_codes(result)) == {"FORBIDDEN"}, (role, msisdn, result)


def test_the_subscriber_in_full_and_its_changes(gql: GraphQL, container: Container) -> None:
    msisdn = "13800138000"
    context = {"reason": "客户来电 customer called", "ticketId": gd_ticket(container, msisdn)}
    steps = [
        ("registerMailbox", {"msisdn": msisdn, "province": "GD", "planCode": "FREE"}),
        ("changePlan", {"msisdn": msisdn, "planCode": "PLUS_5"}),
        ("setAlias", {"msisdn": msisdn, "alias": "lily.chen"}),
        (
            "setArrivalNotification",
            {
                "msisdn": msisdn,
                "enabled": True,
                "mode": "SMS",
                "windowStart": "22:30",
                "windowEnd": "07:00",
            },
        ),
        ("changePassword", {"msisdn": msisdn, "newPassword": "Secret2026"}),
    ]
    positions = []
    for name, variables in steps:
        result = gql(
            mutation(name, CASES[name].input_type),
            {"input": {**variables, "context": context}},
            as_user="gd.agent",
        )
        assert result["data"][name]["userErrors"] == [], result
        positions.append(result["data"][name]["position"])
    assert positions == sorted(positions)
    result = gql(
        "query($m: String!) { subscriber(msisdn: $m) {" + SUBSCRIBER_FIELDS + "} }",
        {"m": msisdn},
        as_user="gd.viewer",
    )
    s = result["data"]["subscriber"]
    assert s["mailbox"] == "13800138000@139.com"
    assert s["plan"] == {"code": "PLUS_5", "name": "5元版 Plus", "monthlyFeeFen": 500}
    assert s["arrivalNotification"] == {
        "enabled": True,
        "mode": "SMS",
        "windowStart": "22:30",
        "windowEnd": "07:00",
    }
    assert (s["status"], s["alias"], s["smsBlacklistLevel"], s["version"]) == (
        "ACTIVE",
        "lily.chen",
        "NONE",
        5,
    )
    assert s["passwordChangedAt"] is not None and s["registeredAt"] is not None
    assert (s["pointsBalance"], s["level"]) == (0, 0)  # no points records (issue 4) yet

    changes_query = (
        "query($m: String!, $after: String) { subscriber(msisdn: $m) { changes(first: 2,"
        " after: $after) { nodes { position streamType streamId version type reason ticketId"
        " actor { username role province } data } pageInfo { endCursor hasNextPage } } } }"
    )
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = gql(changes_query, {"m": msisdn, "after": after}, as_user="auditor")
        connection = page["data"]["subscriber"]["changes"]
        seen.extend(connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert [c["type"] for c in seen] == [
        "PasswordChanged",
        "ArrivalNotificationChanged",
        "AliasChanged",
        "PlanChanged",
        "MailboxRegistered",
    ]
    # a mutation's position is its last event's (setAlias also stores the alias claim)
    oldest_first = [c["position"] for c in reversed(seen)]
    assert oldest_first == sorted(oldest_first)
    assert all(p <= q for p, q in zip(oldest_first, positions, strict=True))
    assert {(c["streamType"], c["streamId"]) for c in seen} == {("Subscriber", msisdn)}
    plan = seen[3]
    assert plan["actor"] == {"username": "gd.agent", "role": "PROVINCE_AGENT", "province": "GD"}
    assert (plan["reason"], plan["ticketId"]) == (context["reason"], context["ticketId"])
    # the change leads back to the ticket it answers
    cited = gql("query($id: ID!) { ticket(id: $id) { msisdn province } }",
                {"id": plan["ticketId"]}, as_user="auditor")  # fmt: skip
    assert cited["data"]["ticket"] == {"msisdn": msisdn, "province": "GD"}
    # and the ticket lists every change citing it, oldest first, read-your-writes
    ticket_changes = (
        "query($id: ID!, $after: String, $pos: Int) { ticket(id: $id) {"
        " changes(first: 3, after: $after, consistentWith: $pos) {"
        " nodes { type streamId ticketId } pageInfo { endCursor hasNextPage } } } }"
    )
    answered: list[dict[str, Any]] = []
    after = None
    while True:
        got = gql(
            ticket_changes,
            {"id": context["ticketId"], "after": after, "pos": positions[-1]},
            as_user="gd.agent",
        )
        page_of = got["data"]["ticket"]["changes"]
        answered.extend(page_of["nodes"])
        if not page_of["pageInfo"]["hasNextPage"]:
            break
        after = page_of["pageInfo"]["endCursor"]
    assert [c["type"] for c in answered] == [c["type"] for c in reversed(seen)]
    assert {(c["streamId"], c["ticketId"]) for c in answered} == {(msisdn, context["ticketId"])}
    tampered = gql(ticket_changes, {"id": context["ticketId"], "after": "bm9wZQ"}, as_user="admin")
    assert error_codes(tampered) == ["BAD_USER_INPUT"]
    assert plan["data"] == {"previous_plan_code": "FREE", "plan_code": "PLUS_5"}
    assert seen[0]["data"]["password_hash"] == "[REDACTED]"
    raw = gql.client.post(
        "/graphql",
        json={"query": changes_query, "variables": {"m": msisdn}},
        headers={"Authorization": f"Bearer {gql.tokens['auditor']}"},
    ).text
    assert "argon2" not in raw and "Secret2026" not in raw
    # the global audit feed names the stream by its msisdn too
    trail = gql(
        '{ auditTrail(streamType: "Subscriber", streamId: "13800138000") { nodes { type } } }',
        as_user="auditor",
    )
    assert len(trail["data"]["auditTrail"]["nodes"]) == 5


def test_business_rules_come_back_as_user_errors(gql: GraphQL, container: Container) -> None:
    admin = staff(container, "admin")
    container.subscribers.register(admin, "13800138000", "GD", "FREE")
    container.subscribers.register(admin, "13900139000", "BJ", "FREE")
    container.subscribers.set_alias(admin, "13900139000", "lily.chen")

    def errors(name: str, variables: dict[str, Any]) -> list[tuple[str, Any]]:
        result = gql(mutation(name, CASES[name].input_type), {"input": variables}, as_user="admin")
        payload = result["data"][name]
        if payload["userErrors"]:
            assert payload["subscriber"] is None and payload["position"] is None
        return [(e["code"], e["field"]) for e in payload["userErrors"]]

    m = "13800138000"
    assert errors("setAlias", {"msisdn": m, "alias": "lily.chen"}) == [("ALIAS_TAKEN", ["alias"])]
    assert errors("setAlias", {"msisdn": m, "alias": "admin"}) == [("INVALID_ALIAS", ["alias"])]
    assert errors("setCompanion", {"msisdn": m, "enabled": False}) == [("NO_CHANGE", None)]
    assert errors("changePlan", {"msisdn": m, "planCode": "GOLD"}) == [
        ("UNKNOWN_PLAN", ["planCode"])
    ]
    assert errors("unfreezeMailbox", {"msisdn": m}) == [("NOT_FROZEN", None)]
    assert errors("registerMailbox", {"msisdn": m, "province": "GD", "planCode": "FREE"}) == [
        ("ALREADY_REGISTERED", ["msisdn"])
    ]
    assert errors("setCompanion", {"msisdn": "1380013800", "enabled": True}) == [
        ("INVALID_MSISDN", ["msisdn"])
    ]
    assert errors("setCompanion", {"msisdn": "13700137000", "enabled": True}) == [
        ("NOT_FOUND", ["msisdn"])
    ]
    assert errors(
        "setArrivalNotification", {"msisdn": m, "enabled": True, "windowStart": "08:00"}
    ) == [("MODE_REQUIRED", ["mode"])]
    assert errors("changePassword", {"msisdn": m, "newPassword": "123"}) == [
        ("INVALID_PASSWORD", ["newPassword"])
    ]
    stale = {"msisdn": m, "enabled": True, "context": {"expectedVersion": 0}}
    assert errors("setCompanion", stale) == [("VERSION_CONFLICT", ["expectedVersion"])]
    cited = ["context", "ticketId"]

    def citing(ticket_id: str) -> dict[str, Any]:
        return {"msisdn": m, "enabled": True, "context": {"ticketId": ticket_id}}

    assert errors("setCompanion", citing("GD-20260301-0001")) == [("INVALID_TICKET_ID", cited)]
    unknown = "0b5d7c8e-1f2a-4b3c-9d4e-5f6a7b8c9d0e"
    assert errors("setCompanion", citing(unknown)) == [("TICKET_NOT_FOUND", cited)]
    about_bj = gd_ticket(container, "13900139000")
    assert errors("setCompanion", citing(about_bj)) == [("TICKET_MISMATCH", cited)]
    assert errors("freezeMailbox", {"msisdn": m, "reason": " "}) == [
        ("REASON_REQUIRED", ["reason"])
    ]
    container.subscribers.freeze(admin, m, "phishing")
    assert errors("setLoginReminder", {"msisdn": m, "enabled": True}) == [("MAILBOX_FROZEN", None)]
    container.subscribers.deregister(admin, m)
    assert errors("unfreezeMailbox", {"msisdn": m}) == [("MAILBOX_DEREGISTERED", None)]


def test_malformed_input_and_missing_auth_are_graphql_errors(
    gql: GraphQL, container: Container
) -> None:
    query = "query($m: String!) { subscriber(msisdn: $m) { msisdn } }"
    assert error_codes(gql(query, {"m": "13800138000"})) == ["UNAUTHENTICATED"]
    assert error_codes(gql(query, {"m": "not-a-number"}, as_user="admin")) == ["BAD_USER_INPUT"]
    assert gql(query, {"m": "13800138000"}, as_user="admin") == {"data": {"subscriber": None}}
    bad_province = {"input": {"msisdn": "13800138000", "province": "XX", "planCode": "FREE"}}
    result = gql(mutation("registerMailbox", "RegisterMailboxInput"), bad_province, as_user="admin")
    assert error_codes(result) == ["BAD_USER_INPUT"]
    bad_level = {"input": {"msisdn": "13800138000", "level": "SOME"}}
    result = gql(mutation("setSmsBlacklist", "SetSmsBlacklistInput"), bad_level, as_user="admin")
    assert error_codes(result) == ["BAD_USER_INPUT"]
    as_of = '{ subscriberAsOf(msisdn: "13800138000", at: "yesterday") { msisdn } }'
    assert error_codes(gql(as_of, as_user="admin")) == ["BAD_USER_INPUT"]
    _registered(container, "13800138000")
    changes = (
        '{ subscriber(msisdn: "13800138000") { changes(after: "forged") { nodes { type } } } }'
    )
    assert error_codes(gql(changes, as_user="admin")) == ["BAD_USER_INPUT"]


def test_plans_query(gql: GraphQL) -> None:
    result = gql("{ plans { code name monthlyFeeFen } }", as_user="viewer")
    assert [(p["code"], p["monthlyFeeFen"]) for p in result["data"]["plans"]] == [
        ("FREE", 0),
        ("PLUS_5", 500),
        ("VIP_20", 2000),
    ]
    assert error_codes(gql("{ plans { code } }", as_user="platform")) == ["FORBIDDEN"]
