"""Every mutation of the contract, and every query, with hostile strings in each string it takes
(NUL and other C0 and C1 controls, lone surrogates, bidi overrides, strings of about 1 MB), as
variables and written into the document: each answer is a 4xx or a classified GraphQL answer,
never a 500, no mutation goes through, nothing stored holds a refused character, and every
projection then reaches its store's head.

The mutations and their strings come from docs/contract/schema.graphql, so a new mutation is
covered as soon as the contract has it (with generic arguments until `build` gives better ones).
File names and live filters, which are no String argument, have their own cases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import GraphQLField

from domain.history.records import RecordKind
from domain.text import forbidden_character
from tests.e2e.access_world import World, open_world
from tests.e2e.live_helpers import following
from tests.helpers import PASSWORD, error_codes
from tests.history_helpers import record
from tests.hostile_inputs import (
    Case,
    all_caught_up,
    arguments,
    body,
    cases,
    document,
    problems,
    root_fields,
    strings,
    with_value,
)

GD = "13800138000"
UNREGISTERED = "13800138999"
SECOND_PASSWORD = "another-good-password-2"
CALLER = {"changeMyPassword": "viewer", "ingestPlatformRecords": "platform"}
UPLOAD = ("notes.txt", b"plain text notes\n", "text/plain")


@dataclass
class Served:
    world: World
    known: dict[str, dict[str, Any]]  # mutation -> valid arguments in this world


def ok(world: World, query: str, variables: dict[str, Any], field: str) -> dict[str, Any]:
    result = world.gql(query, variables, as_user="admin")
    payload: dict[str, Any] = result["data"][field]
    assert "errors" not in result and payload["userErrors"] == [], result
    return payload


def build(world: World) -> dict[str, dict[str, Any]]:
    """A small world (a mailbox, tickets in each state, an announcement, a FAQ, a contact, an
    account) and valid arguments for each mutation in it."""
    ok(
        world,
        "mutation($i: RegisterMailboxInput!) { registerMailbox(input: $i) {"
        " userErrors { code } } }",
        {"i": {"msisdn": GD, "province": "GD", "planCode": "FREE"}},
        "registerMailbox",
    )

    def ticket(*steps: str) -> str:
        draft = {"title": "无法收信", "body": "客户说收不到信", "category": "COMPLAINT"}
        saved = ok(
            world,
            "mutation($i: SaveTicketDraftInput!) { saveTicketDraft(input: $i) {"
            " ticket { id } userErrors { code } } }",
            {"i": {**draft, "priority": "NORMAL", "msisdn": GD, "province": "GD"}},
            "saveTicketDraft",
        )
        ticket_id: str = saved["ticket"]["id"]
        for step in steps:
            args = "(id: $id)" if step == "submitTicket" else '(id: $id, body: "已处理")'
            ok(
                world,
                f"mutation($id: ID!) {{ {step}{args} {{ userErrors {{ code }} }} }}",
                {"id": ticket_id},
                step,
            )
        return ticket_id

    draft, submitted, answered = (
        ticket(),
        ticket("submitTicket"),
        ticket("submitTicket", "answerTicket"),
    )
    notice = {"title": "邮件延迟", "body": "部分用户收信延迟", "severity": "INFO"}
    announcement = ok(
        world,
        "mutation($i: AnnouncementInput!) { publishAnnouncement(input: $i) {"
        " announcement { id } userErrors { code } } }",
        {"i": notice},
        "publishAnnouncement",
    )["announcement"]["id"]
    faq_input = {"title": "如何解冻", "body": "联系客服", "category": "账号", "keywords": ["解冻"]}
    faq = ok(
        world,
        "mutation($i: FaqInput!) { createFaq(input: $i) { faq { id } userErrors { code } } }",
        {"i": faq_input},
        "createFaq",
    )["faq"]["id"]
    contact_input = {"name": "二线客服", "phone": "+86 20 0000 1390", "notes": "工作日"}
    contact = ok(
        world,
        "mutation($i: SupportContactInput!) { upsertSupportContact(input: $i) {"
        " contact { id } userErrors { code } } }",
        {"i": contact_input},
        "upsertSupportContact",
    )["contact"]["id"]
    _, account = world.new_account("hostile")
    hook = {
        "url": "https://boss.example/hooks",
        "eventTypes": ["Subscriber.*"],
        "description": "BOSS",
    }
    endpoint = ok(
        world,
        "mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) {"
        " endpoint { id } userErrors { code } } }",
        {"i": hook},
        "createWebhookEndpoint",
    )["endpoint"]["id"]
    ok(  # disabled: nothing is sent to it
        world,
        "mutation($id: ID!) { disableWebhookEndpoint(id: $id) { userErrors { code } } }",
        {"id": endpoint},
        "disableWebhookEndpoint",
    )
    context = {"reason": "客户来电", "ticketId": submitted}
    proxy = {"msisdn": GD, "context": context}
    sms = record(RecordKind.SMS, 1, msisdn=GD)
    return {
        "login": {"username": "admin", "password": PASSWORD},
        "changeMyPassword": {"currentPassword": PASSWORD, "newPassword": SECOND_PASSWORD},
        "createAccount": {
            "input": {
                "username": "fresh.one",
                "displayName": "Fresh One",
                "role": "VIEWER",
                "initialPassword": PASSWORD,
            }
        },
        "changeAccountRole": {"id": account, "role": "VIEWER", "province": "GD"},
        "disableAccount": {"id": account, "reason": "调岗"},
        "enableAccount": {"id": account},
        "resetAccountPassword": {"id": account, "newPassword": SECOND_PASSWORD},
        "revokeSessions": {"accountId": account},
        "registerMailbox": {
            "input": {
                "msisdn": UNREGISTERED,
                "province": "GD",
                "planCode": "FREE",
                "context": context,
            }
        },
        "deregisterMailbox": {"input": proxy},
        "changePlan": {"input": {**proxy, "planCode": "PLUS_5"}},
        "setCompanion": {"input": {**proxy, "enabled": True}},
        "setBillDelivery": {"input": {**proxy, "subscribed": True}},
        "setArrivalNotification": {
            "input": {
                **proxy,
                "enabled": True,
                "mode": "SMS",
                "windowStart": "08:00",
                "windowEnd": "20:00",
            }
        },
        "setLoginReminder": {"input": {**proxy, "enabled": True}},
        "setAlias": {"input": {**proxy, "alias": "zhang.san"}},
        "changePassword": {"input": {**proxy, "newPassword": "abc12345"}},
        "unfreezeMailbox": {"input": proxy},
        "freezeMailbox": {"input": {**proxy, "reason": "异常登录"}},
        "setSmsBlacklist": {"input": {**proxy, "level": "NO_MARKETING"}},
        "ingestPlatformRecords": {
            "input": {"source": "sms-gw", "batchId": "b1", "kind": "SMS", "records": [sms]}
        },
        "saveTicketDraft": {
            "input": {
                "id": draft,
                "title": "无法登录",
                "body": "客户无法登录",
                "category": "FAULT",
                "priority": "HIGH",
                "msisdn": GD,
            }
        },
        "submitTicket": {"id": draft},
        "answerTicket": {"id": submitted, "body": "已重置"},
        "resubmitTicket": {"id": answered, "body": "仍然不行"},
        "rateTicket": {"id": answered, "score": 5, "comment": "满意"},
        "updateTicketArchive": {
            "id": submitted,
            "resolutionCategory": "账号",
            "rootCause": "密码错误",
            "resolution": "重置密码",
            "tags": ["密码"],
        },
        "discardTicketDraft": {"id": draft},
        "publishAnnouncement": {"input": notice},
        "reviseAnnouncement": {"id": announcement, "input": {**notice, "title": "已恢复"}},
        "withdrawAnnouncement": {"id": announcement, "reason": "已恢复"},
        "createFaq": {"input": faq_input},
        "reviseFaq": {"id": faq, "input": {**faq_input, "title": "如何申请解冻"}},
        "removeFaq": {"id": faq},
        "attachFaqDocument": {"faqId": faq, "file": None},
        "detachFaqDocument": {"faqId": faq, "documentId": "0" * 64},
        "upsertSupportContact": {"id": contact, "input": {**contact_input, "hours": "9-18"}},
        "removeSupportContact": {"id": contact},
        "createWebhookEndpoint": {"input": hook},
        "updateWebhookEndpoint": {"id": endpoint, "input": {**hook, "description": "BOSS 同步"}},
        "disableWebhookEndpoint": {"id": endpoint},
        "enableWebhookEndpoint": {"id": endpoint},
        "rotateWebhookSecret": {"id": endpoint},
        "claimTicket": {"id": submitted},
        "assignTicket": {"id": submitted, "assigneeId": account},
        "unassignTicket": {"id": submitted},
    }


@pytest.fixture(scope="module")
def served(pg_server_url: str, template_db: str) -> Iterator[Served]:
    with open_world(pg_server_url, template_db) as world:
        yield Served(world, build(world))


def send(
    served: Served, kind: str, field: GraphQLField, case: Case, known: Any = None
) -> tuple[int, Any]:
    name = case.position.field
    path = case.position.path
    valid = arguments(field, (served.known if known is None else known).get(name, {}))
    if case.position.type_name == "JSON":
        path = path[:-1]  # the poisoned value replaces the whole JSON item
    values = with_value(valid, path, case.value)
    inline = str(path[0]) if case.inline else ""
    query = document(kind, name, field, values, inline)
    variables = {k: v for k, v in values.items() if k != inline}
    user = CALLER.get(name, "admin")
    token = served.world.gql.tokens.get(user) or served.world.gql.login(user)
    headers = {"Authorization": f"Bearer {token}"}
    uploads = [n for n, a in field.args.items() if "Upload" in str(a.type)]
    if uploads:
        operations = body(query, {**variables, **dict.fromkeys(uploads)})
        response = served.world.client.post(
            "/graphql",
            data={
                "operations": operations.decode(),
                "map": json.dumps({str(i): [f"variables.{u}"] for i, u in enumerate(uploads)}),
            },
            files={str(i): UPLOAD for i in range(len(uploads))},
            headers=headers,
        )
    else:
        response = served.world.client.post(
            "/graphql",
            content=body(query, variables),
            headers={**headers, "Content-Type": "application/json"},
        )
    answer = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else None
    )
    return response.status_code, answer


def test_hostile_strings_in_every_mutation_are_refused_and_nothing_breaks(served: Served) -> None:
    world = served.world
    mutations = root_fields("mutation")
    assert set(served.known) <= set(mutations), "WORLD names a mutation the contract lacks"
    core_head, feed_head = world.container.core_log.head(), world.container.feed_log.head()
    found, sent = [], 0
    for field, case in cases("mutation", served.known):
        status, answer = send(served, "mutation", field, case)
        sent += 1
        for problem in problems(status, answer, case.position.field):
            found.append(f"{case.position.label} <- {case.what} (inline={case.inline}): {problem}")
    assert found == [], "\n".join(found)
    assert 200 < sent < 400  # every mutation covered, in bounded time
    assert world.container.core_log.head() == core_head  # nothing was stored
    assert world.container.feed_log.head() == feed_head
    stored = [
        s
        for log in (world.container.core_log, world.container.feed_log)
        for recorded in log.feed(0, 10_000)
        for s in strings(recorded.event)
        if forbidden_character(s) is not None
    ]
    assert stored == []
    all_caught_up(world)


def test_hostile_strings_in_every_query_are_user_errors(served: Served) -> None:
    found, sent = [], 0
    now = datetime.now(UTC).isoformat()
    known = {
        "subscriber": {"msisdn": GD},
        "subscriberAsOf": {"msisdn": GD, "at": now},
        "searchFaqs": {"query": "解冻", "category": "账号"},
        "tickets": {"filter": {"msisdn": GD, "text": "收信"}},
        "auditTrail": {"streamType": "Subscriber", "streamId": GD},
        "streamStateAsOf": {"streamType": "Subscriber", "streamId": GD},
        "events": {"types": ["MailboxRegistered"]},
    }
    for field, case in cases("query", known):
        status, answer = send(served, "query", field, case, known)
        sent += 1
        found += [
            f"{case.position.label} <- {case.what}: {p}" for p in problems(status, answer, "")
        ]
    assert found == [], "\n".join(found)
    assert 20 < sent < 150


BOUNDARY = "hostile-boundary-7d1f"
ATTACH = (
    "mutation($f: ID!, $file: Upload!) { attachFaqDocument(faqId: $f, file: $file) {"
    " userErrors { code field } } }"
)


@pytest.mark.parametrize(
    "filename", ["a\x00b.txt", "tab\there.txt", "gpj.\u202etxt", "x\x85y.txt", "\u2067.txt"]
)
def test_a_hostile_file_name_is_refused(served: Served, filename: str) -> None:
    """Written into the multipart header as it is (clients such as httpx would escape it)."""
    world = served.world
    faq = served.known["reviseFaq"]["id"]
    token = world.gql.tokens.get("admin") or world.gql.login("admin")
    operations = json.dumps({"query": ATTACH, "variables": {"f": faq, "file": None}})
    parts = [
        ('name="operations"', operations),
        ('name="map"', json.dumps({"0": ["variables.file"]})),
        (f'name="0"; filename="{filename}"\r\nContent-Type: text/plain', f"notes {filename!r}"),
    ]
    content = "".join(
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; {head}\r\n\r\n{value}\r\n"
        for head, value in parts
    )
    response = world.client.post(
        "/graphql",
        content=f"{content}--{BOUNDARY}--\r\n".encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["attachFaqDocument"]
    assert payload["userErrors"] == [{"code": "INVALID_FILENAME", "field": ["file"]}]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ('{ tickets(filter: {text: "a\\u0000b"}) { totalCount } }', "search text"),
        ('{ searchFaqs(query: "\\u202eabc") { totalCount } }', "the query"),
        ('{ searchFaqs(query: "x", category: "a\\u0085") { totalCount } }', "category"),
    ],
)
def test_a_search_with_a_refused_character_is_a_clear_user_error(
    served: Served, query: str, says: str
) -> None:
    result = served.world.gql(query, as_user="admin")
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(f"{says} must not contain a control character (U+")


@pytest.mark.parametrize(
    "hostile", [{"text": "a\x00b"}, {"text": "\u202eabc"}, {"msisdn": "1380013800\x00"}]
)
def test_a_live_filter_with_a_refused_character_is_refused(
    served: Served, hostile: dict[str, str]
) -> None:
    world = served.world
    token = world.gql.tokens.get("admin") or world.gql.login("admin")
    with following(world.client, token, variables={"f": hostile}) as ws:
        message = ws.receive()
    assert message["type"] == "error"
    assert error_codes({"errors": message["payload"]}) == ["BAD_USER_INPUT"]
