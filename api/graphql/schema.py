"""The served schema: every context's queries and mutations merged, with request limits."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.graphql.access import AccessMutation, AccessQuery
from api.graphql.audit import AuditQuery
from api.graphql.base import SCALARS, ApiError, ScalarInputError
from api.graphql.budget import CostPlans, RequestBudget
from api.graphql.history.fields import HistoryMutation
from api.graphql.introspection import AnonymousIntrospectionGuard
from api.graphql.knowledge import KnowledgeMutation, KnowledgeQuery
from api.graphql.metrics import GraphQLMetrics
from api.graphql.statistics import StatisticsQuery
from api.graphql.subscribers.fields import SubscriberMutation, SubscriberQuery
from api.graphql.subscribers.search import SubscriberSearchQuery
from api.graphql.support.announcements import AnnouncementMutation, AnnouncementQuery
from api.graphql.support.live import SupportSubscription
from api.graphql.support.tickets import TicketMutation, TicketQuery
from api.graphql.validation_cache import QueryValidationCache, ValidDocuments
from api.graphql.webhooks.fields import WebhookMutation, WebhookQuery

log = logging.getLogger("spoa.graphql")

Query = merge_types(
    "Query",
    (
        AccessQuery,
        AuditQuery,
        SubscriberQuery,
        SubscriberSearchQuery,
        TicketQuery,
        AnnouncementQuery,
        KnowledgeQuery,
        StatisticsQuery,
        WebhookQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccessMutation,
        SubscriberMutation,
        HistoryMutation,
        TicketMutation,
        AnnouncementMutation,
        KnowledgeMutation,
        WebhookMutation,
    ),
)

Subscription = merge_types("Subscription", (SupportSubscription,))


def classify(error: GraphQLError) -> str:
    """The extensions.code of an error: ours as raised, input errors, or INTERNAL."""
    original = error.original_error
    if isinstance(original, ApiError):
        return str((original.extensions or {}).get("code"))
    if isinstance(error, ApiError) or (original is None and (error.extensions or {}).get("code")):
        # Not a code found on some other exception: graphql-core copies any exception's
        # `extensions` onto its error, and that is no reason to show its message.
        return str((error.extensions or {}).get("code"))
    if original is None or (
        isinstance(original, ValueError | TypeError | GraphQLError) and error.path is None
    ):
        # Parse, validation and variable-coercion errors: the client sent something malformed.
        # (graphql-core reports a bad variable value with a GraphQLError as the original.)
        return "BAD_USER_INPUT"
    if isinstance(original, ScalarInputError):
        return "BAD_USER_INPUT"
    return "INTERNAL_SERVER_ERROR"


def public_extensions(error: GraphQLError) -> dict[str, Any]:
    """The extensions our own errors carry (cost, limit, ...), for the client as they are;
    other errors' extensions are not ours to show."""
    own = error.original_error if isinstance(error.original_error, ApiError) else error
    return dict(own.extensions or {}) if isinstance(own, ApiError) else {}


def response_payload(result: ExecutionResult, cid: str | None) -> dict[str, Any]:
    """A result as the client sees it: every error with its code (and our own extensions, the
    correlation id), an unexpected one with a generic message; over HTTP and WebSocket."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        errors = []
        for error in result.errors:
            code = classify(error)
            formatted = dict(error.formatted)
            extensions = {**public_extensions(error), "code": code}
            if code == "INTERNAL_SERVER_ERROR":
                # Nothing internal leaks: the message is generic, the log has the rest.
                formatted["message"] = f"internal error (correlation id {cid})"
            if cid:
                extensions["correlationId"] = cid
            formatted["extensions"] = extensions
            errors.append(formatted)
        payload["errors"] = errors
    if result.extensions:
        payload["extensions"] = result.extensions
    return payload


class SpoaSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if classify(error) == "INTERNAL_SERVER_ERROR":
                log.error(
                    "unexpected error in GraphQL resolver",
                    exc_info=error.original_error,
                    extra={"path": str(error.path)},
                )


def build_schema(
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    anonymous_introspection: bool = True,
    max_cost: int = 10_000,
    page_max: int = 500,
) -> Any:
    """The schema; `anonymous_introspection` False (outside dev mode) keeps `__schema` and
    `__type` for authenticated callers."""
    valid_documents = ValidDocuments()  # per schema: its rules decide what is valid
    guard = [] if anonymous_introspection else [AnonymousIntrospectionGuard]
    cost_plans = CostPlans(page_max)
    return SpoaSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[
            *guard,
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ParserCache(maxsize=512),
            lambda: QueryValidationCache(valid_documents),
            lambda: RequestBudget(cost_plans, max_cost),
            GraphQLMetrics,
        ],
    )
