"""Announcements: publish, revise (earlier versions kept), withdraw; status derived from
time; the audience of a province agent; state as at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.support.announcements import AnnouncementInput
from domain.shared import (
    NoChangeError,
    PermissionDeniedError,
    ValidationError,
    VersionConflictError,
)
from domain.support.errors import InvalidTransitionError
from domain.support.values import AnnouncementSeverity
from infra.bootstrap import Container
from tests.helpers import seed_accounts
from tests.integration.support_helpers import FakeClock, use_clock

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def notice(title: str, **kwargs: object) -> AnnouncementInput:
    values: dict[str, object] = {
        "title": title,
        "body": f"{title}：部分用户受影响",
        "severity": AnnouncementSeverity.WARNING,
    }
    values.update(kwargs)
    return AnnouncementInput(**values)  # type: ignore[arg-type]


def listed(
    container: Container, who: object, active_only: bool = True, province: str | None = None
) -> list[str]:
    container.engine.catch_up("announcements")
    views = container.announcements.list(who, active_only, province, None, 50)  # type: ignore[arg-type]
    return [v.title for v in views]


def test_lifecycle_status_and_audience(container: Container) -> None:
    p = seed_accounts(container)
    clock = FakeClock(NOON)
    use_clock(container, clock)
    vendor = p["second"]
    everyone = container.announcements.publish(vendor, notice("全网短信延迟")).announcement
    guangdong = container.announcements.publish(
        vendor, notice("广东彩信故障", provinces=["GD"], effective_until=NOON + 2 * HOUR)
    ).announcement
    container.announcements.publish(vendor, notice("北京维护", provinces=["BJ", "TJ"]))
    scheduled = container.announcements.publish(
        vendor, notice("计划升级", effective_from=NOON + 5 * HOUR)
    ).announcement
    assert everyone.status == "ACTIVE" and scheduled.status == "SCHEDULED"
    assert everyone.provinces == [] and guangdong.provinces == ["GD"]

    assert set(listed(container, p["viewer"])) == {"全网短信延迟", "广东彩信故障", "北京维护"}
    assert set(listed(container, p["gd.agent"])) == {"全网短信延迟", "广东彩信故障"}
    assert set(listed(container, p["bj.agent"])) == {"全网短信延迟", "北京维护"}
    assert set(listed(container, p["viewer"], province="TJ")) == {"全网短信延迟", "北京维护"}
    assert set(listed(container, p["gd.agent"], active_only=False)) == {
        "全网短信延迟",
        "广东彩信故障",
        "计划升级",
    }
    with pytest.raises(PermissionDeniedError):
        listed(container, p["gd.agent"], province="BJ")

    clock.advance(hours=3)  # the GD window has ended
    assert "广东彩信故障" not in listed(container, p["gd.agent"])
    view = container.announcements.get(p["gd.agent"], guangdong.id)
    assert view is not None and view.status == "EXPIRED"
    clock.advance(hours=3)  # the upgrade notice is now effective
    assert "计划升级" in listed(container, p["gd.agent"])

    withdrawn = container.announcements.withdraw(vendor, everyone.id, "已恢复").announcement
    assert withdrawn.status == "WITHDRAWN" and withdrawn.withdrawn_reason == "已恢复"
    assert "全网短信延迟" not in listed(container, p["viewer"])
    assert "全网短信延迟" in listed(container, p["viewer"], active_only=False)
    with pytest.raises(InvalidTransitionError):
        container.announcements.withdraw(vendor, everyone.id, None)
    with pytest.raises(InvalidTransitionError):
        container.announcements.revise(vendor, everyone.id, notice("改"))


def test_revisions_are_kept_and_readable_as_at_a_time(container: Container) -> None:
    p = seed_accounts(container)
    clock = FakeClock(NOON)
    use_clock(container, clock)
    vendor = p["second"]
    first = container.announcements.publish(vendor, notice("短信延迟")).announcement
    clock.advance(minutes=30)
    revised = container.announcements.revise(
        vendor,
        first.id,
        notice("短信延迟（已定位）", severity=AnnouncementSeverity.CRITICAL),
        expected_version=1,
    ).announcement
    assert revised.version == 2 and revised.revised_at == clock.now()
    assert revised.effective_from == first.effective_from  # an omitted start is kept
    with pytest.raises(VersionConflictError):
        container.announcements.revise(vendor, first.id, notice("x"), expected_version=1)
    with pytest.raises(NoChangeError):
        container.announcements.revise(
            vendor, first.id, notice("短信延迟（已定位）", severity=AnnouncementSeverity.CRITICAL)
        )
    clock.advance(minutes=30)
    container.announcements.withdraw(vendor, first.id, "恢复")
    earlier = container.announcements.as_of(p["auditor"], first.id, NOON + timedelta(minutes=10))
    assert earlier is not None and earlier.title == "短信延迟" and earlier.status == "ACTIVE"
    middle = container.announcements.as_of(p["gd.agent"], first.id, NOON + timedelta(minutes=45))
    assert middle is not None and middle.severity == "CRITICAL" and middle.version == 2
    later = container.announcements.as_of(p["viewer"], first.id, clock.now())
    assert later is not None and later.status == "WITHDRAWN"
    assert container.announcements.as_of(p["viewer"], first.id, NOON - HOUR) is None
    history = container.audit.trail(p["auditor"], "Announcement", str(first.id), 0, 10)
    assert [h.type for h in history] == [
        "AnnouncementPublished",
        "AnnouncementRevised",
        "AnnouncementWithdrawn",
    ]
    assert history[-1].reason == "恢复"


def test_rules_and_permissions(container: Container) -> None:
    p = seed_accounts(container)
    with pytest.raises(ValidationError) as raised:
        container.announcements.publish(
            p["admin"], notice("窗口错误", effective_from=NOON, effective_until=NOON)
        )
    assert raised.value.code == "INVALID_WINDOW"
    with pytest.raises(ValidationError):
        container.announcements.publish(p["admin"], notice("省份错误", provinces=["XX"]))
    with pytest.raises(ValidationError):
        container.announcements.publish(p["admin"], notice(" "))
    for who in ("gd.agent", "viewer", "auditor", "platform"):
        with pytest.raises(PermissionDeniedError):
            container.announcements.publish(p[who], notice("无权发布"))
    with pytest.raises(PermissionDeniedError):
        listed(container, p["platform"])


def test_texts_follow_the_text_rule_and_a_refusal_stores_nothing(container: Container) -> None:
    admin = seed_accounts(container)["admin"]
    published = container.announcements.publish(admin, notice("  e\u0301 延迟\n"))
    assert published.announcement.title == "\u00e9 延迟"
    head = container.core_log.head()
    for call, code, field in [
        (lambda: container.announcements.publish(admin, notice("两\n行")), "INVALID_TEXT", "title"),
        (
            lambda: container.announcements.publish(admin, notice("t", body="a\x00b")),
            "INVALID_TEXT",
            "body",
        ),
        (
            lambda: container.announcements.withdraw(admin, published.announcement.id, "\u202e"),
            "INVALID_REASON",
            "reason",
        ),
    ]:
        with pytest.raises(ValidationError) as raised:
            call()
        assert (raised.value.code, raised.value.field) == (code, [field])
    assert container.core_log.head() == head
