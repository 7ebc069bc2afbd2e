"""Demo data for the support desk: tickets in every state across provinces and priorities
(some overdue), and a few announcements, made through the ticket and announcement services at
times in the past (a demo clock). Idempotent: a ticket or announcement whose title the core log
holds already is left alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from application.authz import Principal
from application.support.announcements import AnnouncementInput, AnnouncementService
from application.support.tickets import TicketService
from demo.clock import DemoClock
from demo.ledger import DemoLedger
from domain.support.values import AnnouncementSeverity, TicketCategory, TicketPriority

_C, _P = TicketCategory, TicketPriority


@dataclass(frozen=True)
class DemoTicket:
    key: str
    province: str
    title: str
    body: str
    category: TicketCategory
    priority: TicketPriority
    msisdn: str | None
    days_ago: float
    #: (hours after creation, step, text): submit, answer, resubmit, rate:<score>, archive
    steps: tuple[tuple[float, str, str], ...] = ()


DEMO_TICKETS: tuple[DemoTicket, ...] = (
    DemoTicket(
        "gd-login",
        "GD",
        "网页版邮箱无法登录",
        "用户反映输入正确密码后仍提示密码错误，已清除浏览器缓存。",
        _C.FAULT,
        _P.URGENT,
        "13800138000",
        6,
        ((0.2, "submit", ""),),
    ),
    DemoTicket(
        "gd-sms-delay",
        "GD",
        "邮件到达短信通知延迟",
        "新邮件到达后约两小时才收到短信提醒。",
        _C.COMPLAINT,
        _P.HIGH,
        "13800138001",
        5,
        (
            (0.1, "submit", ""),
            (3, "answer", "短信网关拥塞，已扩容，请观察。"),
            (30, "resubmit", "扩容后仍有一小时以上的延迟，用户再次投诉。"),
        ),
    ),
    DemoTicket(
        "gd-plan",
        "GD",
        "套餐变更后仍按原资费扣费",
        "用户上月由5元版改为免费版，本月仍扣5元。",
        _C.COMPLAINT,
        _P.NORMAL,
        "13800138002",
        9,
        (
            (0.5, "submit", ""),
            (4, "answer", "计费同步延迟，已退费并修正套餐。"),
            (20, "rate:5", "处理及时"),
            (21, "archive", "计费"),
        ),
    ),
    DemoTicket(
        "gd-draft",
        "GD",
        "彩信附件无法打开",
        "用户称彩信中的附件显示为乱码（草稿，待补充机型）。",
        _C.FAULT,
        _P.LOW,
        "13800138003",
        0.1,
    ),
    DemoTicket(
        "bj-alias",
        "BJ",
        "别名设置失败",
        "设置别名时提示“别名已被占用”，但该别名无人使用。",
        _C.REQUEST,
        _P.NORMAL,
        "13900139000",
        3,
        ((0.3, "submit", ""), (2, "answer", "该别名曾被已注销用户使用，冷却期内不可复用。")),
    ),
    DemoTicket(
        "bj-bill",
        "BJ",
        "话费账单未投递到邮箱",
        "用户订阅了账单投递，本月没有收到账单邮件。",
        _C.CONSULTATION,
        _P.LOW,
        "13900139001",
        12,
        (
            (1, "submit", ""),
            (6, "answer", "账单已于每月5日投递，请检查垃圾邮件夹。"),
            (8, "resubmit", "垃圾邮件夹中也没有。"),
            (30, "answer", "已人工补发账单。"),
            (40, "rate:3", "补发太慢"),
            (41, "archive", "账单投递"),
        ),
    ),
    DemoTicket(
        "bj-urgent",
        "BJ",
        "大量用户POP3收信失败",
        "北京地区多名用户客户端POP3收信超时。",
        _C.FAULT,
        _P.URGENT,
        None,
        0.05,
        ((0.01, "submit", ""),),
    ),
    DemoTicket(
        "sh-unfreeze",
        "SH",
        "邮箱解冻后仍无法发信",
        "安全冻结已解除，但发信时提示账号受限。",
        _C.FAULT,
        _P.HIGH,
        "13600136001",
        4,
        ((0.2, "submit", ""),),
    ),
    DemoTicket(
        "zj-points",
        "ZJ",
        "活动积分未到账",
        "参加签到活动后积分没有增加。",
        _C.REQUEST,
        _P.NORMAL,
        "13600136002",
        2,
        ((0.4, "submit", ""), (5, "answer", "积分每日凌晨结算，请次日查看。"), (26, "rate:4", "")),
    ),
    DemoTicket(
        "sc-blacklist",
        "SC",
        "短信黑名单设置咨询",
        "用户想屏蔽营销短信但保留到达通知。",
        _C.CONSULTATION,
        _P.LOW,
        "13500135000",
        1,
        ((0.2, "submit", ""),),
    ),
)


@dataclass(frozen=True)
class DemoAnnouncement:
    key: str
    title: str
    body: str
    severity: AnnouncementSeverity
    provinces: tuple[str, ...]
    starts_in_hours: float
    lasts_hours: float | None
    withdrawn: bool = False


DEMO_ANNOUNCEMENTS: tuple[DemoAnnouncement, ...] = (
    DemoAnnouncement(
        "web-slow",
        "139邮箱网页版登录缓慢",
        "部分用户登录网页版时响应缓慢，正在排查，请安抚用户。",
        AnnouncementSeverity.CRITICAL,
        (),
        -2,
        24,
    ),
    DemoAnnouncement(
        "gd-sms",
        "广东地区到达通知短信延迟",
        "广东地区短信网关拥塞，到达通知可能延迟一小时。",
        AnnouncementSeverity.WARNING,
        ("GD",),
        -5,
        48,
    ),
    DemoAnnouncement(
        "upgrade",
        "周末系统升级",
        "本周六 01:00–05:00 升级，期间无法设置别名。",
        AnnouncementSeverity.INFO,
        (),
        30,
        4,
    ),
    DemoAnnouncement(
        "bj-pop",
        "北京POP3收信故障（已恢复）",
        "北京地区POP3收信故障已于昨日恢复。",
        AnnouncementSeverity.WARNING,
        ("BJ", "TJ"),
        -30,
        6,
    ),
    DemoAnnouncement(
        "wrong",
        "误发公告",
        "此公告误发，已撤回。",
        AnnouncementSeverity.INFO,
        (),
        -1,
        None,
        withdrawn=True,
    ),
)


@dataclass
class DemoSupportResult:
    tickets_created: int = 0
    announcements_created: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    #: every demo ticket's id by its key, whether made now or by an earlier load
    ticket_ids: dict[str, UUID] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoDesk:
    """Who plays which part: first line per province (others: the admin), second line."""

    first_line: dict[str, Principal]
    admin: Principal
    second_line: Principal


def load_demo_support(
    tickets: TicketService,
    announcements: AnnouncementService,
    desk: DemoDesk,
    now: datetime,
    ledger: DemoLedger,
) -> DemoSupportResult:
    clock = DemoClock(now)
    # The same services, reading the demo's clock instead of the system's.
    past_tickets = TicketService(tickets.store, clock, tickets.sla)
    past_announcements = AnnouncementService(
        announcements.store,
        clock,
        announcements.core_log,
        announcements.read_model,
        announcements.aggregates_as_of,
        announcements.waiter,
    )
    result = DemoSupportResult()
    drafted = ledger.created("TicketDrafted", "title")
    for demo in DEMO_TICKETS:
        if demo.title in drafted:
            result.ticket_ids[demo.key] = drafted[demo.title]
            continue
        ticket_id, status = _load_ticket(past_tickets, clock, desk, demo, now)
        result.ticket_ids[demo.key] = ticket_id
        result.tickets_created += 1
        result.statuses[status] = result.statuses.get(status, 0) + 1
    published = ledger.created("AnnouncementPublished", "title")
    for notice in DEMO_ANNOUNCEMENTS:
        if notice.title not in published:
            _load_announcement(past_announcements, clock, desk.second_line, notice, now)
            result.announcements_created += 1
    return result


def _load_ticket(
    tickets: TicketService, clock: DemoClock, desk: DemoDesk, demo: DemoTicket, now: datetime
) -> tuple[UUID, str]:
    """Draft the ticket and take it through its steps; returns its id and final status."""
    first = desk.first_line.get(demo.province, desk.admin)
    created = now - timedelta(days=demo.days_ago)
    clock.at = created
    done = tickets.save_draft(
        first,
        ticket_id=None,
        title=demo.title,
        body=demo.body,
        category=demo.category,
        priority=demo.priority,
        msisdn=demo.msisdn,
        province=demo.province,
    )
    assert done.ticket is not None
    ticket_id, status = done.ticket.id, done.ticket.status.value
    for hours, step, text in demo.steps:
        clock.at = created + timedelta(hours=hours)
        if step == "submit":
            done = tickets.submit(first, ticket_id)
        elif step == "answer":
            done = tickets.answer(desk.second_line, ticket_id, text)
        elif step == "resubmit":
            done = tickets.resubmit(first, ticket_id, text)
        elif step.startswith("rate:"):
            done = tickets.rate(first, ticket_id, int(step[5:]), text or None)
        else:
            done = tickets.update_archive(
                desk.second_line, ticket_id, resolution_category=text, tags=[text]
            )
        assert done.ticket is not None
        status = done.ticket.status.value
    return ticket_id, status


def _load_announcement(
    service: AnnouncementService,
    clock: DemoClock,
    author: Principal,
    notice: DemoAnnouncement,
    now: datetime,
) -> None:
    starts = now + timedelta(hours=notice.starts_in_hours)
    clock.at = min(starts, now)
    data = AnnouncementInput(
        title=notice.title,
        body=notice.body,
        severity=notice.severity,
        provinces=list(notice.provinces),
        effective_from=starts,
        effective_until=starts + timedelta(hours=notice.lasts_hours)
        if notice.lasts_hours is not None
        else None,
    )
    published = service.publish(author, data)
    if notice.withdrawn:
        clock.at = now
        service.withdraw(author, published.announcement.id, "误发")
