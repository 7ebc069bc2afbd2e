"""Every read model the projection runtime runs, in the order their runners start."""

from __future__ import annotations

from infra.webhooks.adapters import WebhookAdapters
from projections.access import AccountsProjection
from projections.audit.chain import AuditChainProjection
from projections.history import HistoryProjection, HistoryUsageProjection
from projections.knowledge.contacts import SupportContactsProjection
from projections.knowledge.faqs import FaqsProjection
from projections.runtime.base import Projection
from projections.statistics.projection import StatisticsProjection
from projections.subscribers import SubscribersProjection
from projections.support.announcements import AnnouncementsProjection
from projections.support.ticket_citations import TicketCitationsProjection
from projections.support.tickets import TicketsProjection


def all_projections() -> list[Projection]:
    return [
        AccountsProjection(),
        HistoryProjection(),
        HistoryUsageProjection(),
        SubscribersProjection(),
        TicketsProjection(),
        TicketCitationsProjection(),
        AnnouncementsProjection(),
        FaqsProjection(),
        SupportContactsProjection(),
        AuditChainProjection(),
        StatisticsProjection(),
        *WebhookAdapters.projections(),
    ]
