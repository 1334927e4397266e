"""Operations compiled once per document into plans, answered without graphql-core's
executor.

For every request graphql-core builds an executor with its incremental-delivery state, and for
every field a path, resolve info and a chain of completion steps that look the field's type up
again: about a quarter of a recomputed home answer's CPU, and most of what executing
`{ __typename }` costs. Yet an operation's shape is fixed by its text: which fields each object
type selects, under which keys, with which sub-selections. A plan holds that shape, so a
request only resolves, checks and serializes.

A plan answers only what it answers exactly as graphql-core would. Anything else (an error, a
null where none may be, a value its type refuses, a type decided asynchronously) is left to
graphql-core, which reports it as it always has:
- a query's plan raises `Deviation`, and graphql-core runs the query again (its resolvers
  read, so running them again changes nothing);
- a mutation's root fields run once, in order, as graphql-core runs them; if one's answer
  needs graphql-core, `Resolved` carries what every root field returned or raised, and
  graphql-core completes the answer from those outcomes without running any of them again.

Subscriptions, and documents with `@defer`, `@stream`, any other directive on their
selections, `@skip`/`@include` that depend on a variable, or fragment variables, get no plan.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import operator
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    VariableNode,
    get_named_type,
    is_leaf_type,
    visit,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.executor import default_field_resolver, default_type_resolver
from graphql.execution.values import VariableValues, get_argument_values
from graphql.language import BREAK, Visitor
from graphql.pyutils import Path, gather_with_cancel
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.execution import optimized_is_awaitable as is_awaitable
from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo as ResolveInfo

# A leaf field strawberry resolves by reading an attribute: (attribute, type, nullable).
PlainLeaf = tuple[str, GraphQLScalarType | GraphQLEnumType, bool]
# A value read from an attribute -> its answer, for values whose whole completion the plan
# knows (leaves, and lists and objects of such values); raises Deviation where graphql-core
# would not answer the same.
Convert = Callable[[Any], Any]

_NO_VARIABLES = VariableValues({}, {})
_CONDITIONS = frozenset({"skip", "include"})


class Deviation(Exception):
    """The plan met something only graphql-core's executor reports exactly."""


@dataclass(frozen=True, slots=True)
class Raised:
    """What a root field's resolver raised (a resolver may also return an exception)."""

    error: Exception


class Resolved(Exception):
    """A mutation's root fields ran, but graphql-core must complete the answer: `outcomes`
    holds what each returned (or `Raised`). As graphql-core middleware, it answers each root
    field with its outcome instead of running the field again."""

    def __init__(self, outcomes: dict[str, Any]) -> None:
        super().__init__("a mutation's answer is completed by graphql-core")
        self.outcomes = outcomes

    def resolve(
        self, next_resolver: Callable[..., Any], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        if info.path.prev is not None:
            return next_resolver(source, info, **kwargs)
        outcome = self.outcomes[info.path.key]  # every root field whose arguments held ran
        if isinstance(outcome, Raised):
            raise outcome.error
        return outcome


@dataclass(slots=True, eq=False)
class FieldPlan:
    key: str  # the response key (alias or name)
    definition: GraphQLField
    details: list[FieldDetails]  # every node selecting the key, as graphql-core groups them
    nodes: list[FieldNode]
    resolve: Callable[..., Any]
    has_arguments: bool
    plain: PlainLeaf | None  # a leaf answered by reading the attribute
    attribute: str | None  # an object or list read from the attribute, without resolver
    children: dict[str, ObjectPlan] = field(default_factory=dict)  # by runtime type
    complete: Complete | None = None  # its values' completion, made when first needed
    # The attribute read and its conversion, when the field's whole answer is known from
    # the plan: no resolver, path or resolve info anywhere below it.
    read: tuple[str, Convert] | None = None


@dataclass(slots=True, eq=False)
class ObjectPlan:
    type: GraphQLObjectType
    fields: list[FieldPlan]
    # When every field is read (a step's leaves, roles and candidates; a flow made of such
    # steps): the object's answer in one call, without paths or completion steps.
    static: Callable[[Any], dict[str, Any]] | None


class OperationPlan:
    """One query or mutation of one document, compiled: the root's fields now, each object
    type's sub-selection when a value of that type is first completed."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        plain: dict[tuple[str, str], PlainLeaf],
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragment_definitions = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._fragments = {
            name: FragmentDetails(d, None) for name, d in self.fragment_definitions.items()
        }
        self._plain = plain
        self.serial = operation.operation is OperationType.MUTATION
        root = schema.mutation_type if self.serial else schema.query_type
        assert root is not None
        collected = collect_fields(schema, self._fragments, _NO_VARIABLES, root, operation)
        self.root = self._object(root, collected.grouped_field_set)

    def child(self, parent: FieldPlan, runtime_type: GraphQLObjectType) -> ObjectPlan:
        found = parent.children.get(runtime_type.name)
        if found is None:
            collected = collect_subfields(
                self.schema,
                self._fragments,
                _NO_VARIABLES,
                self.operation,
                runtime_type,
                parent.details,
            )
            found = self._object(runtime_type, collected.grouped_field_set)
            parent.children[runtime_type.name] = found
        return found

    def completer(self, field_plan: FieldPlan) -> Complete:
        found = field_plan.complete
        if found is None:
            found = field_plan.complete = self._completer(field_plan.definition.type, field_plan)
        return found

    def _completer(self, return_type: GraphQLOutputType, field_plan: FieldPlan) -> Complete:
        """graphql-core's `complete_value` for values of `return_type`, its choices among the
        type's kinds made once here instead of for every value."""
        if isinstance(return_type, GraphQLNonNull):
            return _non_null(self._completer(return_type.of_type, field_plan))
        if isinstance(return_type, GraphQLList):
            item_type = return_type.of_type
            return _list(
                self._completer(item_type, field_plan), self._at_once(item_type, field_plan)
            )
        if is_leaf_type(return_type):
            return _leaf(return_type)  # type: ignore[arg-type]
        if isinstance(return_type, GraphQLAbstractType):
            return _abstract(self, return_type, field_plan)
        assert isinstance(return_type, GraphQLObjectType)
        return _object_of(self.child(field_plan, return_type))

    def _at_once(
        self, item_type: GraphQLOutputType, field_plan: FieldPlan
    ) -> Callable[[Sequence[Any]], list[Any] | None] | None:
        """A resolver's list of values the plan converts whole (the viewer's flows) is
        completed in one loop, without a path per item."""
        convert = self._convert(item_type, field_plan)
        return None if convert is None else functools.partial(_all_at_once, convert)

    def _read(self, field_plan: FieldPlan) -> tuple[str, Convert] | None:
        if field_plan.plain is not None:
            attribute, leaf_type, nullable = field_plan.plain
            return attribute, _leaf_value(leaf_type, nullable)
        if field_plan.attribute is None:
            return None
        convert = self._convert(field_plan.definition.type, field_plan)
        return None if convert is None else (field_plan.attribute, convert)

    def _convert(
        self, value_type: GraphQLOutputType, field_plan: FieldPlan, nullable: bool = True
    ) -> Convert | None:
        """How values of `value_type` are answered whole, or None when a value's answer needs
        a resolver, a path or a type decided at run time."""
        if isinstance(value_type, GraphQLNonNull):
            return self._convert(value_type.of_type, field_plan, nullable=False)
        if isinstance(value_type, GraphQLList):
            item = self._convert(value_type.of_type, field_plan)
            return None if item is None else _list_value(item, nullable)
        if is_leaf_type(value_type):
            return _leaf_value(value_type, nullable)  # type: ignore[arg-type]
        if isinstance(value_type, GraphQLObjectType) and value_type.is_type_of is None:
            static = self.child(field_plan, value_type).static
            return None if static is None else _object_value(static, nullable)
        return None

    def _object(
        self, object_type: GraphQLObjectType, grouped: dict[str, list[FieldDetails]]
    ) -> ObjectPlan:
        fields: list[FieldPlan] = []
        for key, details in grouped.items():
            node = details[0].node
            definition = self.schema.get_field(object_type, node.name.value)
            if definition is None:  # graphql-core skips it too (validation refuses it)
                continue
            fields.append(
                FieldPlan(
                    key,
                    definition,
                    details,
                    [detail.node for detail in details],
                    definition.resolve or default_field_resolver,
                    bool(definition.args or node.arguments),
                    self._plain.get((object_type.name, node.name.value)),
                    _attribute(definition, node),
                )
            )
        for field_plan in fields:
            field_plan.read = self._read(field_plan)
        reads = [(f.key, *f.read) for f in fields if f.read is not None]
        static = _static_object(reads) if len(reads) == len(fields) else None
        return ObjectPlan(object_type, fields, static)

    def run(
        self,
        variables: VariableValues,
        context: Any,
        root: Any,
        operation_extensions: dict[str, Any] | None,
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """The operation's `data`; raises Deviation (or what a resolver raised) when
        graphql-core must answer instead."""
        return _Run(self, variables, context, root, operation_extensions).root()


def plain_leaves(schema: GraphQLSchema) -> dict[tuple[str, str], PlainLeaf]:
    """Every field, by (object type, field), whose value is an attribute of its source and a
    scalar or enum: no resolver, no permission or other extension, no argument, nothing
    below it (strawberry's "basic" fields)."""
    found: dict[tuple[str, str], PlainLeaf] = {}
    for type_name, graphql_type in schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for name, graphql_field in graphql_type.fields.items():
            definition = (graphql_field.extensions or {}).get("strawberry-definition")
            if definition is None or not definition.is_basic_field or graphql_field.args:
                continue
            nullable = not isinstance(graphql_field.type, GraphQLNonNull)
            leaf = graphql_field.type if nullable else graphql_field.type.of_type
            if isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
                found[(type_name, name)] = (definition.python_name, leaf, nullable)
    return found


def _attribute(definition: GraphQLField, node: FieldNode) -> str | None:
    """The attribute a field without resolver, permission or argument reads, when its
    values need no resolve info to complete (leaves, or objects with no type to decide at
    run time): the plan reads it instead of calling strawberry's resolver."""
    strawberry_field = (definition.extensions or {}).get("strawberry-definition")
    if strawberry_field is None or not strawberry_field.is_basic_field or node.arguments:
        return None
    named = get_named_type(definition.type)
    if (isinstance(named, GraphQLObjectType) and named.is_type_of is None) or is_leaf_type(named):
        return strawberry_field.python_name
    return None


def plannable(document: DocumentNode, operation: OperationDefinitionNode) -> bool:
    """Whether a plan answers this operation: a query or mutation whose selections carry no
    directive but `@skip`/`@include` with a literal condition, and no fragment variables."""
    if operation.operation is OperationType.SUBSCRIPTION or operation.directives:
        return False
    found = _Unplannable()
    visit(document, found)
    return not found.seen


class _Unplannable(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        literal = all(not isinstance(a.value, VariableNode) for a in node.arguments or ())
        if node.name.value not in _CONDITIONS or not literal:
            self.seen = True
            return BREAK
        return None

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> Any:
        if node.variable_definitions:
            self.seen = True
            return BREAK
        return None


class _Run:
    """One execution of a plan: what graphql-core's executor does for an operation that
    meets no error, with each field's shape read from the plan."""

    __slots__ = ("_context", "_extensions", "_helpers", "_plan", "_root", "_variables")

    def __init__(
        self,
        plan: OperationPlan,
        variables: VariableValues,
        context: Any,
        root: Any,
        operation_extensions: dict[str, Any] | None,
    ) -> None:
        self._plan = plan
        self._variables = variables
        self._context = context
        self._root = root
        self._extensions = operation_extensions
        self._helpers = GraphQLResolveInfoHelpers(gather=_gather, track=_track)

    def root(self) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        if self._plan.serial:
            return self._serially(self._plan.root)
        return self.object(self._plan.root, self._root, None)

    def object(self, plan: ObjectPlan, source: Any, path: Path | None) -> Any:
        if plan.static is not None:
            return plan.static(source)
        results: dict[str, Any] = {}
        pending: list[str] = []
        type_name = plan.type.name
        try:
            for field_plan in plan.fields:
                key = field_plan.key
                read = field_plan.read
                if read is not None:
                    results[key] = read[1](getattr(source, read[0]))
                    continue
                field_path = Path(path, key, type_name)
                if field_plan.attribute is not None:
                    complete = field_plan.complete or self._plan.completer(field_plan)
                    # no resolve info: nothing below decides a type at run time
                    value = complete(self, None, field_path, getattr(source, field_plan.attribute))
                else:
                    value = self._field(plan.type, field_plan, source, field_path)
                results[key] = value
                if is_awaitable(value):
                    pending.append(key)
        except BaseException:
            _abandon(results[key] for key in pending)
            raise
        if not pending:
            return results
        return _settled(results, pending)

    def items(self, complete: Complete, info: Any, path: Path, items: Sequence[Any]) -> Any:
        """A list's items completed one by one, each with its path."""
        completed: list[Any] = []
        pending: list[int] = []
        try:
            for index, item in enumerate(items):
                item_path = Path(path, index, None)
                if is_awaitable(item):
                    value = self._later(complete, info, item_path, item)
                else:
                    value = complete(self, info, item_path, item)
                if is_awaitable(value):
                    pending.append(index)
                completed.append(value)
        except BaseException:
            _abandon(completed[index] for index in pending)
            raise
        if not pending:
            return completed
        return _settled(completed, pending)

    def _field(
        self, parent: GraphQLObjectType, field_plan: FieldPlan, source: Any, path: Path
    ) -> Any:
        info, result = self._resolve(parent, field_plan, source, path)
        complete = field_plan.complete or self._plan.completer(field_plan)
        if is_awaitable(result):
            return self._later(complete, info, path, result)
        return complete(self, info, path, result)

    def _resolve(
        self, parent: GraphQLObjectType, field_plan: FieldPlan, source: Any, path: Path
    ) -> tuple[Any, Any]:
        """The field's resolve info and what its resolver returned (maybe an awaitable)."""
        definition = field_plan.definition
        nodes = field_plan.nodes
        info = ResolveInfo(
            nodes[0].name.value,
            nodes,
            definition.type,
            parent,
            path,
            self._plan.schema,
            self._plan.fragment_definitions,
            self._root,
            self._plan.operation,
            self._variables.coerced,
            self._context,
            is_awaitable,
            None,
            self._helpers,
            self._extensions,
        )
        arguments = (
            get_argument_values(definition, nodes[0], self._variables)
            if field_plan.has_arguments
            else {}
        )
        return info, field_plan.resolve(source, info, **arguments)

    async def _serially(self, plan: ObjectPlan) -> dict[str, Any]:
        """A mutation's root fields, each resolved and completed before the next starts (as
        graphql-core runs them). A mutation is never run twice: when one field's answer
        deviates, the others still run, and `Resolved` hands every root field's outcome to
        graphql-core, which completes them without running them again."""
        results: dict[str, Any] = {}
        outcomes: dict[str, Any] = {}
        deviated = False
        for field_plan in plan.fields:
            key = field_plan.key
            path = Path(None, key, plan.type.name)
            try:
                info, result = self._resolve(plan.type, field_plan, self._root, path)
                if is_awaitable(result):
                    result = await result
            except Exception as error:
                outcomes[key] = Raised(error)
                deviated = True
                continue
            outcomes[key] = result
            if deviated:
                continue
            try:
                value = self._plan.completer(field_plan)(self, info, path, result)
                results[key] = await value if is_awaitable(value) else value
            except Exception:
                deviated = True
        if deviated:
            raise Resolved(outcomes)
        return results

    async def _later(self, complete: Complete, info: Any, path: Path, result: Any) -> Any:
        completed = complete(self, info, path, await result)
        if is_awaitable(completed):
            return await completed
        return completed

    def runtime_type(self, abstract: GraphQLAbstractType, result: Any, info: Any) -> Any:
        resolve_type = abstract.resolve_type or default_type_resolver
        name = resolve_type(result, info, abstract)
        if is_awaitable(name):
            _abandon((name,))
            raise Deviation
        runtime = self._plan.schema.get_type(name) if isinstance(name, str) else None
        if not isinstance(runtime, GraphQLObjectType) or not self._plan.schema.is_sub_type(
            abstract, runtime
        ):
            raise Deviation
        if runtime.is_type_of is not None:
            matches = runtime.is_type_of(result, info)
            if is_awaitable(matches):
                _abandon((matches,))
                raise Deviation
            if not matches:
                raise Deviation
        return runtime


# A value's completion: (run, resolve info, path, resolved value) -> its answer (or awaitable).
Complete = Callable[[_Run, Any, Path, Any], Any]


def _non_null(inner: Complete) -> Complete:
    def complete(run: _Run, info: Any, path: Path, result: Any) -> Any:
        completed = inner(run, info, path, result)
        if completed is None:
            raise Deviation
        return _present(completed) if is_awaitable(completed) else completed

    return complete


def _leaf(leaf_type: GraphQLScalarType | GraphQLEnumType) -> Complete:
    """A resolver's leaf value, converted as an attribute's is (`_non_null` refuses a null)."""
    convert = _leaf_value(leaf_type, nullable=True)

    def complete(run: _Run, info: Any, path: Path, result: Any) -> Any:
        return convert(result)

    return complete


def _list(item: Complete, at_once: Callable[[Sequence[Any]], list[Any] | None] | None) -> Complete:
    def complete(run: _Run, info: Any, path: Path, result: Any) -> Any:
        if result is None or result is Undefined:
            return None
        if isinstance(result, str | bytes | dict) or not isinstance(result, Iterable):
            raise Deviation  # an exception returned as the value too
        items = result if isinstance(result, list | tuple) else list(result)
        if at_once is not None:
            completed = at_once(items)
            if completed is not None:
                return completed
        return run.items(item, info, path, items)

    return complete


def _object_of(plan: ObjectPlan) -> Complete:
    """Values of one object type, checked by its `is_type_of` when it has one."""
    is_type_of = plan.type.is_type_of

    def complete(run: _Run, info: Any, path: Path, result: Any) -> Any:
        if result is None or result is Undefined:
            return None
        if isinstance(result, Exception):
            raise Deviation
        if is_type_of is not None:
            matches = is_type_of(result, info)
            if is_awaitable(matches):
                _abandon((matches,))
                raise Deviation
            if not matches:
                raise Deviation
        return run.object(plan, result, path)

    return complete


def _abstract(
    operation: OperationPlan, abstract: GraphQLAbstractType, field_plan: FieldPlan
) -> Complete:
    def complete(run: _Run, info: Any, path: Path, result: Any) -> Any:
        if result is None or result is Undefined:
            return None
        if isinstance(result, Exception):
            raise Deviation
        runtime = run.runtime_type(abstract, result, info)
        return run.object(operation.child(field_plan, runtime), result, path)

    return complete


def _all_at_once(convert: Convert, items: Sequence[Any]) -> list[Any] | None:
    completed = []
    for item in items:
        if is_awaitable(item):
            return None  # the item by item way awaits it
        completed.append(convert(item))
    return completed


def _static_object(reads: list[tuple[str, str, Convert]]) -> Callable[[Any], dict[str, Any]]:
    """An object's answer from its attributes, read all at once."""
    keys = tuple(key for key, _, _ in reads)
    converts = tuple(convert for _, _, convert in reads)
    attributes = operator.attrgetter(*(attribute for _, attribute, _ in reads))
    if len(reads) == 1:
        [(key, attribute, convert)] = reads
        return lambda source: {key: convert(getattr(source, attribute))}

    def complete(source: Any) -> dict[str, Any]:
        answers = zip(keys, converts, attributes(source), strict=True)
        return {key: convert(value) for key, convert, value in answers}

    return complete


def _absent(nullable: bool) -> None:
    """A null answer, where the type allows one; graphql-core reports it elsewhere."""
    if not nullable:
        raise Deviation


def _leaf_value(leaf_type: GraphQLScalarType | GraphQLEnumType, nullable: bool) -> Convert:
    """The leaf's output value, as its `coerce_output_value` gives it; strings, booleans and
    strawberry's enum members answered without the call (the same answer, worked out once)."""
    coerce = leaf_type.coerce_output_value

    def general(value: Any) -> Any:
        if value is None or value is Undefined:
            return _absent(nullable)
        if isinstance(value, Exception) or is_awaitable(value):
            raise Deviation
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Deviation
        return coerced

    if leaf_type is GraphQLString or leaf_type is GraphQLID or leaf_type is GraphQLBoolean:
        same = bool if leaf_type is GraphQLBoolean else str

        def exactly(value: Any) -> Any:
            return value if value.__class__ is same else general(value)

        return exactly
    members = getattr(leaf_type, "wrapped_cls", None)
    if not (isinstance(members, type) and issubclass(members, enum.Enum)):
        return general
    names = {member: coerce(member) for member in members}

    def named(value: Any) -> Any:
        return names[value] if value.__class__ is members else general(value)

    return named


def _list_value(item: Convert, nullable: bool) -> Convert:
    def convert(value: Any) -> Any:
        if value is None or value is Undefined:
            return _absent(nullable)
        if not isinstance(value, list | tuple):
            raise Deviation  # other iterables and awaitables take graphql-core's way
        return [item(one) for one in value]

    return convert


def _object_value(static: Callable[[Any], dict[str, Any]], nullable: bool) -> Convert:
    def convert(value: Any) -> Any:
        if value is None or value is Undefined:
            return _absent(nullable)
        if isinstance(value, Exception) or is_awaitable(value):
            raise Deviation
        return static(value)

    return convert


async def _settled(results: Any, keys: list[Any]) -> Any:
    """`results` (a dict or a list) with its awaitable entries' values in place, run
    together as graphql-core runs them: the first in this task, the others as tasks started
    before it (a task fewer than gathering them all). On a failure the others finish before
    it is raised: cancelled before their first step, the resolver coroutines inside them
    would never be awaited."""
    first, *others = keys
    started = [asyncio.ensure_future(results[key]) for key in others]
    try:
        results[first] = await results[first]
        for key, task in zip(others, started, strict=True):
            results[key] = await task
    except BaseException:
        await asyncio.gather(*started, return_exceptions=True)
        raise
    return results


async def _present(completed: Awaitable[Any]) -> Any:
    value = await completed
    if value is None:
        raise Deviation
    return value


_settling: set[asyncio.Future[Any]] = set()  # held until done: the loop holds tasks weakly


def _abandon(awaitables: Iterable[Any]) -> None:
    """Let work whose value is no longer wanted finish in the background, as graphql-core
    does: closing it instead would leave the resolver coroutines inside unawaited."""
    for awaitable in awaitables:
        settling = asyncio.ensure_future(awaitable)
        _settling.add(settling)
        settling.add_done_callback(_settled_quietly)


def _settled_quietly(settling: asyncio.Future[Any]) -> None:
    _settling.discard(settling)
    if not settling.cancelled():
        settling.exception()  # retrieved: its failure is graphql-core's to report


async def _gather(awaitables: Any) -> list[Any]:
    return await gather_with_cancel(*awaitables)


def _track(values: Sequence[Any]) -> None:
    """A resolver's own background work settles in the background, as graphql-core's does."""
    _abandon(value for value in values if is_awaitable(value))
