"""Queries and mutations, each distinct document parsed, validated and planned once
(api/plans.py), with graphql-core executing what a plan leaves to it; strawberry defines the
schema.

Strawberry's own `execute` builds its extension runner, every extension and their hook
wrappers on every request (about 65 µs before anything is resolved). Heed's extensions always
do the same fixed things (a token limit on parsing, validation rules, unexpected errors
masked, the cost in development), so the request path does them here directly, the parse and
validation once per distinct document text. Subscriptions still go through strawberry's
machinery, with the same pieces as extensions (schema/__init__.py).
"""

from __future__ import annotations

import inspect
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    execute,
    get_operation_ast,
    parse,
)
from graphql.execution.values import get_variable_values
from graphql.validation import ASTValidationRule
from strawberry.exceptions import MissingQueryError
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_operation_type

from api.faults import is_unexpected, masked
from api.limits import validation_errors
from api.plans import OperationPlan, Resolved, plain_leaves, plannable

logger = logging.getLogger("heed.execution")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document as parsing and validation left it: `errors` empty when it may run."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    # Each operation's plan (None: graphql-core executes it), made on first use.
    plans: dict[str | None, OperationPlan | None] = field(default_factory=dict)


class Documents:
    """Parsed and validated documents by their text, the least recently used evicted."""

    def __init__(
        self,
        schema: GraphQLSchema,
        rules: tuple[type[ASTValidationRule], ...],
        max_tokens: int,
        size: int,
    ) -> None:
        self._schema = schema
        self._rules = rules
        self._max_tokens = max_tokens
        self._size = size
        self._prepared: OrderedDict[str, Prepared] = OrderedDict()
        self._plain = plain_leaves(schema)

    def get(self, query: str) -> Prepared:
        found = self._prepared.get(query)
        if found is not None:
            self._prepared.move_to_end(query)
            return found
        found = self._prepare(query)
        self._prepared[query] = found
        if len(self._prepared) > self._size:
            self._prepared.popitem(last=False)
        return found

    def plan(self, prepared: Prepared, operation_name: str | None) -> OperationPlan | None:
        """The operation's plan, when one answers it (a valid document's query or mutation
        without directives a plan does not follow)."""
        try:
            return prepared.plans[operation_name]
        except KeyError:
            pass
        document = prepared.document
        operation = get_operation_ast(document, operation_name) if document else None
        plan = None
        if document and operation and plannable(document, operation):
            plan = OperationPlan(self._schema, document, operation, self._plain)
        prepared.plans[operation_name] = plan
        return plan

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError as error:
            return Prepared(None, [error])
        except Exception as error:
            return Prepared(None, [GraphQLError(str(error), original_error=error)])
        return Prepared(document, validation_errors(self._schema, document, self._rules))


@dataclass(frozen=True)
class Execution:
    """What every operation of one schema runs with."""

    schema: GraphQLSchema
    documents: Documents
    executor_class: type[Any]
    production: bool
    report: Callable[[Sequence[GraphQLError], str], None]  # logs what is the server's fault
    # Development: the response's `extensions` (the cost) for a parsed document.
    extensions: Callable[[GraphQLSchema, DocumentNode, str, str | None], dict[str, Any]] | None = (
        None
    )

    async def run(
        self,
        query: str | None,
        variables: dict[str, Any] | None,
        context: Any,
        root: Any,
        operation_name: str | None,
        allowed: Iterable[OperationType],
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """As strawberry's `Schema.execute`: MissingQueryError, CannotGetOperationTypeError
        and InvalidOperationTypeError are raised, any other failure is in the result."""
        if not query:
            raise MissingQueryError
        request_id: str = getattr(context, "request_id", "") or ""
        prepared = self.documents.get(query)
        document = prepared.document
        if document is None:
            return self._failed(prepared.errors, request_id, None)
        try:
            operation_type = get_operation_type(document, operation_name)
        except RuntimeError as error:
            raise CannotGetOperationTypeError(operation_name) from error
        if operation_type not in allowed:
            raise InvalidOperationTypeError(operation_type)
        extensions = (
            self.extensions(self.schema, document, query, operation_name)
            if self.extensions
            else None
        )
        if prepared.errors:
            return self._failed(prepared.errors, request_id, extensions)
        middleware: list[Resolved] | None = None
        try:
            data = await self._planned(
                prepared, variables, context, root, operation_name, operation_extensions
            )
        except Resolved as resolved:  # a mutation ran: graphql-core completes its answer
            middleware = [resolved]
        except Exception as error:  # a mutation's plan failed: never run twice
            return self._failed([_graphql_error(error)], request_id, extensions)
        else:
            if data is not None:
                return ExecutionResult(data=data, errors=None, extensions=extensions)
        try:
            result = execute(
                self.schema,
                document,
                root_value=root,
                context_value=context,
                variable_values=variables,
                operation_name=operation_name,
                is_awaitable=optimized_is_awaitable,
                executor_class=self.executor_class,
                operation_extensions=operation_extensions,
                middleware=middleware,
            )
            if inspect.isawaitable(result):
                result = await result
        except Exception as error:
            return self._failed([_graphql_error(error)], request_id, extensions)
        errors = result.errors
        if errors:
            self.report(errors, request_id)
            errors = self._masked(errors, request_id)
        return ExecutionResult(data=result.data, errors=errors, extensions=extensions)

    async def _planned(
        self,
        prepared: Prepared,
        variables: dict[str, Any] | None,
        context: Any,
        root: Any,
        operation_name: str | None,
        operation_extensions: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """The operation's data as its plan answers it; None when graphql-core must execute
        it (no plan, variables it refuses, or a query's plan deviated: it reports what it
        meets). A mutation's plan raises `Resolved` when graphql-core must complete what its
        fields did, and raises what went wrong otherwise: a mutation is never run twice."""
        plan = self.documents.plan(prepared, operation_name)
        if plan is None or self.executor_class.variable_errors(
            self.schema, prepared.document, variables, operation_name
        ):
            return None
        coerced = get_variable_values(
            self.schema, plan.operation.variable_definitions or (), variables or {}, 50
        )
        if isinstance(coerced, list):
            return None
        try:
            data = plan.run(coerced, context, root, operation_extensions)
            if inspect.isawaitable(data):
                data = await data
        except Resolved:
            raise
        except Exception as error:
            if plan.serial:
                raise
            # graphql-core meets it again and reports it
            logger.debug("the plan of %s deviated: %r", operation_name or "a query", error)
            return None
        return data

    def _failed(
        self, errors: list[GraphQLError], request_id: str, extensions: dict[str, Any] | None
    ) -> PreExecutionError:
        self.report(errors, request_id)
        return PreExecutionError(
            data=None, errors=self._masked(errors, request_id), extensions=extensions
        )

    def _masked(self, errors: Sequence[GraphQLError], request_id: str) -> list[GraphQLError]:
        return [
            masked(error, request_id, self.production) if is_unexpected(error) else error
            for error in errors
        ]


def _graphql_error(error: Exception) -> GraphQLError:
    return (
        error if isinstance(error, GraphQLError) else GraphQLError(str(error), original_error=error)
    )
