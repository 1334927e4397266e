"""Bounds on every input, checked where it enters: request variables, literal arguments, token
claims. Each refusal is a clear client error, never a crash further down (a NUL that Postgres
refuses, an integer orjson cannot write, a nesting that exhausts a recursion limit).

The checks that need the schema's types (ids, JSON arguments) run on both transports because
they live in the schema: a validation rule for literals and the execution context for
variables, both built once per schema.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    get_named_type,
    type_from_ast,
)
from graphql.validation import ASTValidationRule, ValidationRule
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document

from api.settings import Limits

MAX_ID_LENGTH = 128  # the columns holding host-product and writer ids
MAX_SAFE_INTEGER = 2**53 - 1  # exact in every JSON parser, JavaScript's included
LOG_VALUE_CHARS = 120
MAX_REPEATS = 30  # one field (response name) in one selection set, fragments inlined


class InputRejected(ValueError):
    """An input outside the bounds; the message says which bound, never echoes the value."""


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored or sent on, or None: NUL and lone surrogates are refused
    (Postgres rejects the first, UTF-8 cannot encode the second)."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def check_json(value: Any, what: str, max_depth: int) -> None:
    """A decoded JSON value: nesting, integer range and text are bounded."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                raise InputRejected(f"{what} nests deeper than {max_depth} levels")
            for key, child in item.items():
                _check_text(key, what)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                raise InputRejected(f"{what} nests deeper than {max_depth} levels")
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item, what)
        elif (
            isinstance(item, int | float)
            and not isinstance(item, bool)
            and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER
        ):
            # orjson reads integers past 64 bits as floats: bound every number alike.
            raise InputRejected(f"{what} holds a number outside ±(2^53 - 1)")


def _check_text(text: str, what: str) -> None:
    problem = text_problem(text)
    if problem is not None:
        raise InputRejected(f"{what} {problem}")


def check_variables(variables: Mapping[str, Any] | None, limits: Limits) -> None:
    """Request variables, before anything serializes or stores them (the answer cache keys on
    them). Input objects add a few levels over a JSON argument's own bound."""
    if variables:
        check_json(dict(variables), "variables", limits.max_input_depth + 4)


def clipped(value: object, limit: int = LOG_VALUE_CHARS) -> str:
    """A value for a log line: never the whole of a client's input."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def _is_named(type_: Any, name: str) -> bool:
    named = get_named_type(type_) if type_ is not None else None
    return isinstance(named, GraphQLScalarType) and named.name == name


def literal_inputs_rule(limits: Limits) -> type[ValidationRule]:
    """A validation rule for values written in the document itself: every string, every `ID`
    argument's length, every JSON argument's nesting, integers and size."""

    class LiteralInputsRule(ValidationRule):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            problem = text_problem(node.value)
            if problem is not None:
                self.report_error(GraphQLError(f"A string argument {problem}.", node))
            elif _is_named(self.context.get_input_type(), "ID") and len(node.value) > (
                MAX_ID_LENGTH
            ):
                self.report_error(
                    GraphQLError(f"Ids are at most {MAX_ID_LENGTH} characters.", node)
                )

        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            self._check_json_literal(node.value, self.context.get_input_type())

        def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> None:
            if node.default_value is not None:
                schema_type = type_from_ast(self.context.schema, node.type)  # type: ignore[arg-type]
                self._check_json_literal(node.default_value, schema_type)

        def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
            if abs(int(node.value)) > MAX_SAFE_INTEGER:
                self.report_error(GraphQLError("Integers are at most 2^53 - 1 in magnitude.", node))

        def _check_json_literal(self, value: ValueNode, schema_type: Any) -> None:
            if not isinstance(value, ObjectValueNode | ListValueNode):
                return
            depth, size = _literal_shape(value)
            if depth > limits.max_input_depth + 4:
                self.report_error(
                    GraphQLError(
                        f"An argument nests deeper than {limits.max_input_depth} levels.", value
                    )
                )
            elif _is_named(schema_type, "JSON") and size > limits.max_json_bytes:
                self.report_error(
                    GraphQLError(
                        f"A JSON argument is larger than {limits.max_json_bytes} bytes.", value
                    )
                )

    return LiteralInputsRule


def _literal_shape(value: ValueNode) -> tuple[int, int]:
    """Nesting depth and a byte estimate of a literal, without recursion."""
    deepest, size = 0, 0
    stack: list[tuple[ValueNode, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, ObjectValueNode):
            for field in node.fields:
                size += len(field.name.value) + 4
                stack.append((field.value, depth + 1))
        elif isinstance(node, ListValueNode):
            stack.extend((item, depth + 1) for item in node.values)
        else:
            size += len(str(getattr(node, "value", "") or "")) + 2
    return deepest, size


def typed_variable_problems(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    limits: Limits,
) -> Iterator[str]:
    """Bounds that depend on a variable's declared type: `ID` length and JSON size, also inside
    input objects and lists."""
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in variables:
            continue
        schema_type = type_from_ast(schema, definition.type)  # type: ignore[arg-type]
        stack: list[tuple[Any, Any, str]] = [(variables[name], schema_type, f"${name}")]
        while stack:
            value, type_, path = stack.pop()
            if value is None or type_ is None:
                continue
            if isinstance(type_, GraphQLNonNull):
                stack.append((value, type_.of_type, path))
            elif isinstance(type_, GraphQLList):
                items = value if isinstance(value, list) else [value]
                stack.extend((item, type_.of_type, path) for item in items)
            elif isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
                for field_name, field in type_.fields.items():
                    if field_name in value:
                        stack.append((value[field_name], field.type, f"{path}.{field_name}"))
            elif isinstance(type_, GraphQLScalarType):
                if type_.name == "ID" and isinstance(value, str) and len(value) > MAX_ID_LENGTH:
                    yield f"{path}: ids are at most {MAX_ID_LENGTH} characters"
                elif type_.name == "JSON" and len(orjson.dumps(value)) > limits.max_json_bytes:
                    yield f"{path}: JSON values are at most {limits.max_json_bytes} bytes"


def checked_execution_context(limits: Limits) -> type[StrawberryGraphQLCoreExecutionContext]:
    """The execution context class: refuses variables over their type's bounds before any
    resolver runs, on every transport (queries, mutations and subscriptions)."""

    class CheckedExecutionContext(StrawberryGraphQLCoreExecutionContext):
        @classmethod
        def build(cls, schema: GraphQLSchema, document: Any, *args: Any, **kwargs: Any) -> Any:
            variables = kwargs.get("raw_variable_values")
            if variables is None and len(args) >= 3:
                variables = args[2]
            name = kwargs.get("operation_name")
            if name is None and len(args) >= 4:
                name = args[3]
            errors = cls.variable_errors(schema, document, variables, name)
            if errors:
                return errors
            return super().build(schema, document, *args, **kwargs)

        @staticmethod
        def variable_errors(
            schema: GraphQLSchema,
            document: DocumentNode,
            variables: dict[str, Any] | None,
            operation_name: str | None,
        ) -> list[GraphQLError]:
            """Variables over their type's bounds, as errors; none when they may run."""
            if not variables:
                return []
            try:
                check_variables(variables, limits)
            except InputRejected as exc:
                return [GraphQLError(str(exc), extensions={"code": "BAD_USER_INPUT"})]
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            for operation in operations:
                if operation_name is None or (
                    operation.name and operation.name.value == operation_name
                ):
                    problems = list(typed_variable_problems(schema, operation, variables, limits))
                    if problems:
                        return [
                            GraphQLError(problem, extensions={"code": "BAD_USER_INPUT"})
                            for problem in problems
                        ]
            return []

    return CheckedExecutionContext


def repeated_field_problem(document: DocumentNode) -> str | None:
    """A field selected many times over in one selection set makes graphql-core's
    overlapping-fields check quadratic (1,200 repeats: 2 s of CPU); refuse it before
    validation. Inline fragments count with their selection set; named fragments are merged
    once by the check, so they are counted in their own definition."""
    stack: list[SelectionSetNode] = [
        definition.selection_set  # type: ignore[attr-defined]
        for definition in document.definitions
        if getattr(definition, "selection_set", None) is not None
    ]
    while stack:
        selection_set = stack.pop()
        names: Counter[str] = Counter()
        flat = list(selection_set.selections)
        while flat:
            selection = flat.pop()
            if isinstance(selection, InlineFragmentNode):
                flat.extend(selection.selection_set.selections)
            elif isinstance(selection, FieldNode):
                names[(selection.alias or selection.name).value] += 1
                if selection.selection_set is not None:
                    stack.append(selection.selection_set)
        if names:
            name, count = names.most_common(1)[0]
            if count > MAX_REPEATS:
                return (
                    f"'{name}' is selected {count} times in one selection set; "
                    f"at most {MAX_REPEATS}."
                )
    return None


TOO_COMPLEX = (
    "The document is too complex to validate (too deeply nested, or too many repeated "
    "fields or fragments); send a smaller document."
)


def validation_errors(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """Validation as strawberry runs it (its own rules added to `rules`), refusing first what
    would make validation itself expensive, and saying clearly why graphql-core gave up
    ("Validation aborted.")."""
    problem = repeated_field_problem(document)
    if problem is not None:
        return [GraphQLError(problem, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})]
    errors = validate_document(schema, document, rules)
    if any(isinstance(error, ValidationAbortedError) for error in errors):
        return [
            GraphQLError(TOO_COMPLEX, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})
            if isinstance(error, ValidationAbortedError)
            else error
            for error in errors
        ]
    return errors


class BoundedValidationCache(SchemaExtension):
    """Validation for strawberry's own execution (subscriptions), each distinct document once
    (the request path caches its documents itself: api/execution.py)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self._validate = _cached_validation(maxsize)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = self._validate(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield


@functools.cache
def _cached_validation(maxsize: int) -> Any:
    """One cache per size for the process: an extension is built per operation."""
    return functools.lru_cache(maxsize)(validation_errors)
