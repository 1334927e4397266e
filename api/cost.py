"""Query cost analysis, after Saleor's query cost map.

A field's cost is `(complexity + the cost of what is selected under it) x multiplier`.
Complexity says what a field costs to resolve (a database read through a loader, a rendered
body); fields not in the map cost nothing themselves. The multiplier is how many items a list
returns: the `first` argument for paged fields (its literal value, else the variable's default,
else the page maximum) or a documented size for lists without arguments. Sizes are generous
upper bounds for a real organization, so a front end's own queries stay far below the maximum
while nesting lists in lists or aliasing big pages is refused.

The cost is computed by a validation rule, so the result is cached with the rest of validation:
once per distinct document.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.validation import ValidationRule
from strawberry.extensions import SchemaExtension

# Types whose fields are selected (an interface's fields cost like its types').
Composite = GraphQLObjectType | GraphQLInterfaceType
MAX_PAGE = 100  # every `first` argument is capped at this by its resolver
MAX_NESTING = 64  # beyond this a document is refused by depth anyway; never recurse further


@dataclass(frozen=True)
class FieldCost:
    complexity: int = 1
    list_size: int = 1  # items a list without arguments is assumed to hold
    paged: bool = False  # multiplied by `first`
    default_page: int = 20


PAGE = FieldCost(paged=True)
BODY = FieldCost(complexity=3)  # a rendered body is kilobytes, other fields bytes

COST_MAP: Mapping[str, Mapping[str, FieldCost]] = {
    "Query": {
        "viewer": FieldCost(),
        "flows": FieldCost(list_size=20),
        "flow": FieldCost(),
        "contentItem": FieldCost(),
        "content": PAGE,
        "help": FieldCost(paged=True, default_page=5),
        "searchHelp": FieldCost(paged=True, default_page=10),
        "organization": FieldCost(),
    },
    "Mutation": {
        "completeStep": FieldCost(complexity=5),
        "skipStep": FieldCost(complexity=5),
        "reopenStep": FieldCost(complexity=5),
        "track": FieldCost(complexity=5),
        "requestHelp": FieldCost(complexity=5),
        "cancelHelpRequest": FieldCost(complexity=5),
        "assignStep": FieldCost(complexity=5),
        "setOnboardingOwner": FieldCost(complexity=5),
    },
    "Viewer": {
        "organization": FieldCost(),
        "helpRequests": FieldCost(list_size=20),
        "sentHelpRequests": FieldCost(list_size=20),
    },
    "Organization": {
        "owner": FieldCost(),
        "progress": PAGE,
        "members": PAGE,
        "helpRequests": PAGE,
    },
    "TeamMember": {"progress": PAGE},
    "Flow": {"steps": FieldCost(complexity=0, list_size=20)},
    "Step": {
        "candidates": FieldCost(list_size=10),
        "completedBy": FieldCost(),
        "assignee": FieldCost(),
        "bodyHtml": BODY,
        "bodyMarkdown": BODY,
        "bodyTree": BODY,
    },
    "StepPayload": {"flow": FieldCost(), "step": FieldCost()},
    "TrackPayload": {"completedSteps": FieldCost(list_size=10)},
    "HelpRequest": {
        "organization": FieldCost(),
        "inviter": FieldCost(),
        "invitee": FieldCost(),
        "resolvedBy": FieldCost(),
    },
    **{
        kind: {"bodyHtml": BODY, "bodyMarkdown": BODY, "bodyTree": BODY}
        for kind in ("ContentItem", "ContentDocument", "FlowContent", "Survey", "Announcement")
    },
}


class _Costing:
    """One operation's cost; fragment costs are remembered per type, so fragments spread many
    times (or spreading each other) cost one traversal each."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.fragment_costs: dict[tuple[str, str], int] = {}
        self.visiting: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = {
            OperationType.QUERY: self.schema.query_type,
            OperationType.MUTATION: self.schema.mutation_type,
            OperationType.SUBSCRIPTION: self.schema.subscription_type,
        }[operation.operation]
        defaults = {
            d.variable.name.value: d.default_value.value
            for d in operation.variable_definitions or ()
            if isinstance(d.default_value, IntValueNode)
        }
        if root is None:
            return 0
        return self.selections(operation.selection_set, root, defaults, 0)

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: Composite,
        defaults: Mapping[str, str],
        depth: int,
    ) -> int:
        if selection_set is None:
            return 0
        if depth > MAX_NESTING:
            raise _TooDeep
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, defaults, depth)
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    named = self.schema.get_type(selection.type_condition.name.value)
                    target = named if isinstance(named, Composite) else parent
                total += self.selections(selection.selection_set, target, defaults, depth + 1)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.spread(selection.name.value, parent, defaults, depth)
        return total

    def spread(self, name: str, parent: Composite, defaults: Mapping[str, str], depth: int) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0  # unknown or cyclic: other validation rules report it
        key = (name, parent.name)
        if key not in self.fragment_costs:
            named = self.schema.get_type(fragment.type_condition.name.value)
            target = named if isinstance(named, Composite) else parent
            self.visiting.add(name)
            try:
                self.fragment_costs[key] = self.selections(
                    fragment.selection_set, target, defaults, depth + 1
                )
            finally:
                self.visiting.discard(name)
        return self.fragment_costs[key]

    def field(
        self, node: FieldNode, parent: Composite, defaults: Mapping[str, str], depth: int
    ) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0
        rule = COST_MAP.get(parent.name, {}).get(node.name.value)
        child = get_named_type(definition.type)
        children = (
            self.selections(node.selection_set, child, defaults, depth + 1)
            if isinstance(child, GraphQLObjectType | GraphQLInterfaceType)
            else 0
        )
        if rule is None:
            return children
        return (rule.complexity + children) * self.multiplier(node, rule, defaults)

    @staticmethod
    def multiplier(node: FieldNode, rule: FieldCost, defaults: Mapping[str, str]) -> int:
        if not rule.paged:
            return rule.list_size
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(0, min(int(value.value), MAX_PAGE))
            if isinstance(value, VariableNode):
                default = defaults.get(value.name.value)
                return max(0, min(int(default), MAX_PAGE)) if default else MAX_PAGE
        return rule.default_page


class _TooDeep(Exception):
    pass


def operation_costs(schema: GraphQLSchema, document: DocumentNode) -> Iterator[tuple[Any, int]]:
    """(operation node, cost) for each operation of a document; an absurdly nested one costs
    more than any maximum."""
    costing = _Costing(schema, document)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            try:
                yield definition, costing.operation(definition)
            except _TooDeep:
                yield definition, 2**62


def query_cost_rule(max_cost: int) -> type[ValidationRule]:
    """Refuses operations costing more than `max_cost`, with the cost and the maximum."""

    class QueryCostRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            for operation, cost in operation_costs(self.context.schema, node):
                if cost > max_cost:
                    self.report_error(
                        GraphQLError(
                            f"This query costs {cost:,}, over the maximum of {max_cost:,}: ask "
                            "for fewer items (first), fewer nested lists or fewer aliases.",
                            operation,
                            extensions={
                                "code": "QUERY_TOO_COMPLEX",
                                "cost": cost,
                                "maximumCost": max_cost,
                            },
                        )
                    )

    return QueryCostRule


class RequestedCost:
    """Development only: the request's cost for the response's `extensions`, computed once per
    distinct document and operation."""

    def __init__(self, max_cost: int, cache_size: int = 512) -> None:
        self._max_cost = max_cost
        self._cache_size = cache_size
        self._costs: OrderedDict[tuple[str, str | None], int] = OrderedDict()

    def __call__(
        self, schema: GraphQLSchema, document: DocumentNode, query: str, operation_name: str | None
    ) -> dict[str, Any]:
        """`schema` is always the same one: the cache is per schema."""
        key = (query, operation_name)
        cost = self._costs.get(key)
        if cost is None:
            found = [
                cost
                for operation, cost in operation_costs(schema, document)
                if operation_name is None
                or (operation.name and operation.name.value == operation_name)
            ]
            cost = max(found, default=0)
            self._costs[key] = cost
            if len(self._costs) > self._cache_size:
                self._costs.popitem(last=False)
        return {"cost": {"requestedQueryCost": cost, "maximumAvailable": self._max_cost}}


def cost_extension(requested: RequestedCost) -> type[SchemaExtension]:
    """The same figure for strawberry's own execution (subscriptions)."""

    class QueryCost(SchemaExtension):
        def get_results(self) -> dict[str, Any]:
            context = self.execution_context
            document = context.graphql_document
            if document is None or context.query is None:
                return {}
            return requested(
                context.schema._schema, document, context.query, context.operation_name
            )

    return QueryCost
