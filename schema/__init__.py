"""The Heed GraphQL schema: every domain's types merged into one Query.

Limits are validation rules built once per schema, never per request: the validation cache is
keyed by the rule classes, so rules rebuilt on each request would make every lookup miss.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule, specified_rules
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from api.cost import RequestedCost, cost_extension, query_cost_rule
from api.db import is_connection_failure
from api.execution import Documents, Execution
from api.faults import HEALTH, MaskUnexpectedErrors, described, is_unexpected
from api.limits import (
    BoundedValidationCache,
    checked_execution_context,
    clipped,
    literal_inputs_rule,
)
from api.settings import Limits
from schema.content import CONTENT_TYPES, ContentQuery
from schema.engagement import EngagementMutation, EngagementQuery
from schema.flows import FlowsMutation, FlowsQuery, FlowsSubscription
from schema.insight import InsightMutation, InsightQuery
from schema.team import TeamMutation, TeamQuery
from schema.viewer import ViewerQuery
from schema.webhooks import WebhooksMutation, WebhooksQuery

logger = logging.getLogger("heed.graphql")

STATE_QUERIES = (ViewerQuery, FlowsQuery, TeamQuery, EngagementQuery, InsightQuery)
# Fields whose answers change with the clock, not only with the state: a query that selects
# one of them anywhere (a root field, or a field of the organization) is never cached.
CLOCK_FIELDS = (
    "nextUp",
    "insights",
    "milestones",
    "health",
    "funnel",
    "activation",
    "timeToValue",
    "adoption",
)
Query = merge_types(
    "Query",
    (
        ViewerQuery,
        FlowsQuery,
        ContentQuery,
        TeamQuery,
        EngagementQuery,
        WebhooksQuery,
        InsightQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (FlowsMutation, TeamMutation, EngagementMutation, WebhooksMutation, InsightMutation),
)

DOCUMENT_CACHE_SIZE = 512


def report_errors(errors: Sequence[GraphQLError], request_id: str) -> None:
    """Logs only what is the server's fault: a client's bad query is not a server error."""
    for error in errors:
        if is_unexpected(error) and is_connection_failure(error.original_error):  # type: ignore[arg-type]
            HEALTH.failed(error.original_error)  # type: ignore[arg-type]
        elif is_unexpected(error):
            logger.error(
                "unexpected error in request %s\n%s",
                request_id,
                described(error.original_error),  # type: ignore[arg-type]
            )
        else:
            logger.debug("client error: %s", clipped(error.message))


class HeedSchema(strawberry.Schema):
    """Queries and mutations run through `execution` (api/execution.py: graphql-core with
    cached documents); subscriptions through strawberry with the same limits as extensions."""

    execution: Execution

    async def execute(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        return await self.execution.run(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES,
            operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        context = getattr(execution_context, "context", None)
        report_errors(errors, getattr(context, "request_id", "") or "")


def build_schema(limits: Limits, *, introspection: bool, production: bool = False) -> HeedSchema:
    rules: list[type[ASTValidationRule]] = [
        depth_rule(limits.max_depth, None),
        alias_rule(limits.max_aliases),
        literal_inputs_rule(limits),
        query_cost_rule(limits.max_cost),
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    frozen_rules: tuple[type[ASTValidationRule], ...] = tuple(rules)
    requested_cost = RequestedCost(limits.max_cost)
    extensions: list[type[SchemaExtension] | SchemaExtension] = [
        lambda: MaskUnexpectedErrors(production),  # type: ignore[list-item]
        lambda: MaxTokensLimiter(limits.max_tokens),  # type: ignore[list-item]
        lambda: AddValidationRules(list(frozen_rules)),  # type: ignore[list-item]
        lambda: ParserCache(DOCUMENT_CACHE_SIZE),  # type: ignore[list-item]
        lambda: BoundedValidationCache(DOCUMENT_CACHE_SIZE),  # type: ignore[list-item]
    ]
    if not production:
        extensions.append(cost_extension(requested_cost))
    executor_class = checked_execution_context(limits)
    schema = HeedSchema(
        query=Query,
        mutation=Mutation,
        subscription=FlowsSubscription,
        extensions=extensions,
        execution_context_class=executor_class,
        types=CONTENT_TYPES,
    )
    schema.execution = Execution(
        schema._schema,
        Documents(
            schema._schema,
            (*specified_rules, *frozen_rules),
            limits.max_tokens,
            DOCUMENT_CACHE_SIZE,
        ),
        executor_class,
        production,
        report_errors,
        None if production else requested_cost,
    )
    return schema


def state_root_fields(schema: strawberry.Schema) -> frozenset[str]:
    """Root fields whose answers read onboarding state (the others serve content only)."""
    name = schema.config.name_converter.get_graphql_name
    return frozenset(
        name(f)  # type: ignore[arg-type]
        for query in STATE_QUERIES
        for f in query.__strawberry_definition__.fields  # type: ignore[attr-defined]
    )


def schema_sdl() -> str:
    """The SDL committed as `schema.graphql`; limits do not change it."""
    return build_schema(Limits(), introspection=True).as_str() + "\n"
