"""Demo data for local use and trials: accounts for every role (later contexts add theirs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.access.service import AccessService, UsernameTakenError, principal_of
from application.audit.service import AuditService
from application.authz import Principal
from application.history.service import HistoryService
from application.knowledge.contacts import SupportContactService
from application.knowledge.faqs import KnowledgeService
from application.subscribers.commands import ChangeContext, SubscriberService
from application.support.announcements import AnnouncementService
from application.support.tickets import TicketService
from demo.history import load_demo_history
from demo.knowledge import DemoKnowledgeResult, load_demo_knowledge
from demo.ledger import DemoLedger
from demo.subscribers import DEMO_SHOWCASE, Staff
from demo.subscribers import load_demo_subscribers as generate_demo_subscribers
from demo.support import DEMO_TICKETS, DemoDesk, DemoSupportResult, load_demo_support
from domain.access.account import account_id_for
from domain.access.permissions import Role
from domain.shared import DomainError


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    province: str | None
    password: str


DEMO_ACCOUNTS = [
    DemoAccount("admin", "演示管理员 Demo Admin", Role.SUPER_ADMIN, None, "admin-demo-pass"),
    DemoAccount("vendor", "彩讯二线 Second Line", Role.SECOND_LINE_AGENT, None, "vendor-demo-pass"),
    DemoAccount("gd.agent", "广东一线 GD Agent", Role.PROVINCE_AGENT, "GD", "gd-agent-demo-pass"),
    DemoAccount("bj.agent", "北京一线 BJ Agent", Role.PROVINCE_AGENT, "BJ", "bj-agent-demo-pass"),
    DemoAccount("viewer", "普通用户 Viewer", Role.VIEWER, None, "viewer-demo-pass"),
    DemoAccount("gd.viewer", "广东查询 GD Viewer", Role.VIEWER, "GD", "gd-viewer-demo-pass"),
    DemoAccount("auditor", "审计员 Auditor", Role.AUDITOR, None, "auditor-demo-pass"),
    DemoAccount("platform", "邮箱平台 Integration", Role.INTEGRATION, None, "platform-demo-pass"),
]


def load_demo_accounts(access: AccessService) -> list[tuple[DemoAccount, bool]]:
    """Create the demo accounts; returns each with whether it was created now."""
    results = []
    for demo in DEMO_ACCOUNTS:
        try:
            access.create_account(
                None,
                username=demo.username,
                display_name=demo.display_name,
                role=demo.role,
                province=demo.province,
                initial_password=demo.password,
            )
            results.append((demo, True))
        except UsernameTakenError:
            results.append((demo, False))
    return results


def demo_principal(access: AccessService, username: str) -> Principal:
    """The principal of a demo account (load_demo_accounts first)."""
    account = access.actor_account(account_id_for(username))
    if account is None:
        raise LookupError(f"demo account {username} is missing; load the accounts first")
    return principal_of(account)


def demo_ledger(access: AccessService, audit: AuditService) -> DemoLedger:
    """What the demo made already, as the demo auditor reads it."""
    return DemoLedger(audit, demo_principal(access, "auditor"))


def load_demo_subscribers(
    access: AccessService, subscribers: SubscriberService, audit: AuditService
) -> list[str]:
    """A few hundred subscribers across provinces with change histories made by the demo
    accounts (needs them: run after load_demo_accounts). Returns the numbers created; none
    when the demo subscribers are there already."""
    if demo_ledger(access, audit).has_subscriber(DEMO_SHOWCASE[0][0]):
        return []
    team = Staff(
        second_line=[demo_principal(access, "vendor"), demo_principal(access, "admin")],
        platform=demo_principal(access, "platform"),
        province_agents={
            "GD": demo_principal(access, "gd.agent"),
            "BJ": demo_principal(access, "bj.agent"),
        },
    )
    return generate_demo_subscribers(subscribers, team, subscribers.clock.now())


def load_demo_platform_history(
    access: AccessService, history: HistoryService, msisdns: Sequence[str], now: datetime
) -> int:
    """History records of every kind for the demo subscribers, sent by the platform account."""
    platform = access.actor_account(account_id_for("platform"))
    if platform is None:
        raise LookupError("demo account platform is missing; load the accounts first")
    return load_demo_history(history, principal_of(platform), msisdns, now)


def load_demo_knowledge_base(
    access: AccessService,
    knowledge: KnowledgeService,
    contacts: SupportContactService,
    audit: AuditService,
) -> DemoKnowledgeResult:
    """About 50 FAQs (Chinese and English) with a few documents, and the support contacts,
    written by the demo second-line account (run after load_demo_accounts)."""
    author = demo_principal(access, "vendor")
    return load_demo_knowledge(knowledge, contacts, author, demo_ledger(access, audit))


def load_demo_support_desk(
    access: AccessService,
    tickets: TicketService,
    announcements: AnnouncementService,
    audit: AuditService,
) -> DemoSupportResult:
    """Tickets in every state across provinces and priorities (some overdue) and a few
    announcements, by the demo accounts (run after load_demo_accounts)."""
    desk = DemoDesk(
        first_line={
            "GD": demo_principal(access, "gd.agent"),
            "BJ": demo_principal(access, "bj.agent"),
        },
        admin=demo_principal(access, "admin"),
        second_line=demo_principal(access, "vendor"),
    )
    ledger = demo_ledger(access, audit)
    return load_demo_support(tickets, announcements, desk, tickets.clock.now(), ledger)


@dataclass(frozen=True)
class DemoTicketChange:
    """A proxy setting made on the customer's behalf in answer to a demo ticket."""

    ticket_key: str
    agent: str
    reason: str
    change: Callable[[SubscriberService, Principal, str, ChangeContext], Any]


DEMO_TICKET_CHANGES = (
    DemoTicketChange(
        "gd-login",
        "gd.agent",
        "客户忘记密码无法登录，核实身份后代为重置",
        lambda s, who, msisdn, ctx: s.change_password(who, msisdn, "Reset2026mail", ctx),
    ),
    DemoTicketChange(
        "bj-alias",
        "bj.agent",
        "客户自助设置别名失败，代为设置",
        lambda s, who, msisdn, ctx: s.set_alias(who, msisdn, "wang.fang.bj139", ctx),
    ),
)


def load_demo_ticket_changes(
    access: AccessService, subscribers: SubscriberService, ticket_ids: Mapping[str, UUID]
) -> int:
    """Changes that answer demo tickets, citing them (ChangeContext.ticketId), so a ticket's
    subscriber shows the change and the change leads back to its ticket. Run after the
    subscribers and the support desk (its ticket ids by key); a change the mailbox no longer
    allows is skipped."""
    made = 0
    for demo in DEMO_TICKET_CHANGES:
        ticket = next(t for t in DEMO_TICKETS if t.key == demo.ticket_key)
        account = access.actor_account(account_id_for(demo.agent))
        ticket_id = ticket_ids.get(demo.ticket_key)
        if account is None or ticket.msisdn is None or ticket_id is None:
            continue
        context = ChangeContext(reason=demo.reason, ticket_id=str(ticket_id))
        try:
            demo.change(subscribers, principal_of(account), ticket.msisdn, context)
        except DomainError:
            continue
        made += 1
    return made
