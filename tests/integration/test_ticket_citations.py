"""From a ticket to the changes that cite it (Ticket.changes), through the ticket_citations
projection on PostgreSQL: in order, paged, scoped to the subscribers the caller may read, and
the same after a rebuild."""

from __future__ import annotations

import uuid

import pytest

from application.subscribers.commands import ChangeContext
from domain.shared import SYSTEM_ACTOR, ChangeMeta, NotFoundError, PermissionDeniedError
from infra.bootstrap import Container
from projections.support.ticket_citations import cited_ticket
from tests.helpers import seed_accounts
from tests.integration.support_helpers import submitted

GD, GD2, BJ = "13800138000", "13800138001", "13900139000"


def cite(ticket_id: uuid.UUID, reason: str) -> ChangeContext:
    return ChangeContext(reason=reason, ticket_id=str(ticket_id))


def test_a_ticket_lists_the_changes_that_cite_it(container: Container) -> None:
    p = seed_accounts(container)
    subscribers, queries = container.subscribers, container.ticket_queries
    for msisdn, province in ((GD, "GD"), (GD2, "GD"), (BJ, "BJ")):
        subscribers.register(p["admin"], msisdn, province, "FREE")
    about = submitted(container, p["gd.agent"], msisdn=GD)
    incident = submitted(container, p["gd.agent"], msisdn=None)
    quiet = submitted(container, p["gd.agent"], msisdn=GD)
    first = subscribers.set_companion(p["gd.agent"], GD, True, cite(about, "客户来电"))
    subscribers.set_login_reminder(p["gd.agent"], GD, True)  # cites nothing
    second = subscribers.change_plan(p["second"], GD, "VIP_20", cite(about, "升级"))
    other = subscribers.set_companion(p["second"], GD2, True, cite(incident, "故障"))
    container.engine.catch_up_all()

    changes = queries.changes(p["auditor"], about, 0, 10)
    assert [(c.type, c.reason, c.stream_id, c.ticket_id) for c in changes] == [
        ("CompanionChanged", "客户来电", GD, str(about)),
        ("PlanChanged", "升级", GD, str(about)),
    ]
    assert [c.position for c in changes] == [first.position, second.position]
    assert changes[0].actor_username == "gd.agent" and changes[1].actor_username == "second"

    page = queries.changes(p["gd.agent"], about, 0, 1)
    assert [c.position for c in page] == [first.position]
    rest = queries.changes(p["gd.agent"], about, page[0].position, 1)
    assert [c.position for c in rest] == [second.position]
    assert queries.changes(p["gd.agent"], about, second.position, 10) == []

    incident_changes = queries.changes(p["viewer"], incident, 0, 10)
    assert [(c.stream_id, c.position) for c in incident_changes] == [(GD2, other.position)]
    assert queries.changes(p["admin"], quiet, 0, 10) == []

    # a rebuild from position 0 answers the same
    container.rebuilds.rebuild("ticket_citations")
    assert queries.changes(p["auditor"], about, 0, 10) == changes
    assert queries.changes(p["viewer"], incident, 0, 10) == incident_changes


def test_changes_are_scoped_to_the_subscribers_the_caller_may_read(container: Container) -> None:
    p = seed_accounts(container)
    container.subscribers.register(p["admin"], GD, "GD", "FREE")
    bj_ticket = submitted(container, p["bj.agent"], msisdn=GD)  # filed in BJ about a GD mailbox
    cited = container.subscribers.set_companion(p["second"], GD, True, cite(bj_ticket, "代办"))
    container.engine.catch_up_all()
    queries = container.ticket_queries

    for reader in ("admin", "second", "viewer", "auditor"):
        assert [c.position for c in queries.changes(p[reader], bj_ticket, 0, 10)] == [
            cited.position
        ], reader
    # bj.agent may read the BJ ticket, but not the GD subscriber the change was made to
    assert queries.changes(p["bj.agent"], bj_ticket, 0, 10) == []
    for outsider in ("gd.agent", "gd.viewer", "platform"):
        with pytest.raises(PermissionDeniedError):
            queries.changes(p[outsider], bj_ticket, 0, 10)
    with pytest.raises(NotFoundError):
        queries.changes(p["admin"], uuid.uuid4(), 0, 10)


def test_only_ticket_ids_are_citations() -> None:
    ticket = uuid.uuid4()
    assert cited_ticket(ChangeMeta(SYSTEM_ACTOR, ticket_id=str(ticket))) == ticket
    # events stored before citations had to exist may hold a ticket number: no citation
    for meta in (
        ChangeMeta(SYSTEM_ACTOR, ticket_id="GD-20260301-0001"),
        ChangeMeta(SYSTEM_ACTOR),
        None,
        "x",
    ):
        assert cited_ticket(meta) is None
