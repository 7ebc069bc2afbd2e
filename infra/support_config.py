"""The support desk's service-level policy, from settings."""

from __future__ import annotations

from datetime import date

from domain.support.sla import BusinessCalendar, SlaPolicy
from domain.support.values import TicketPriority
from infra.settings import Settings


def sla_policy(settings: Settings) -> SlaPolicy:
    """Per-priority business hours on the configured calendar (ValueError if inconsistent)."""
    holidays = frozenset(date.fromisoformat(d) for d in settings.business_holidays.split(",") if d)
    calendar = BusinessCalendar(
        timezone=settings.business_timezone,
        opens=settings.business_hours_start,
        closes=settings.business_hours_end,
        weekdays=frozenset(int(d) for d in settings.business_days.split(",")),
        holidays=holidays,
    )
    return SlaPolicy(
        calendar=calendar,
        hours={
            TicketPriority.URGENT: settings.sla_hours_urgent,
            TicketPriority.HIGH: settings.sla_hours_high,
            TicketPriority.NORMAL: settings.sla_hours_normal,
            TicketPriority.LOW: settings.sla_hours_low,
        },
    )
