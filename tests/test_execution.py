"""A plan answers plain fields itself and gives way on anything unusual, which graphql-core
then reports; no field guarded by a permission is ever read as a plain attribute."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from graphql import execute, get_operation_ast, parse
from graphql.execution.values import VariableValues
from strawberry.permission import BasePermission

from api.plans import Deviation, OperationPlan, plain_leaves
from api.settings import Limits
from bench.scenarios import HOME
from schema import build_schema


class Never(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


class Label(str):
    """A string of a type of its own: not answered by the strings' shortcut."""


@strawberry.type
class Part:
    label: str
    colour: Colour | None


@strawberry.type
class Thing:
    name: str
    nickname: str | None
    colour: Colour
    count: int
    secret: str = strawberry.field(permission_classes=[Never])
    tags: list[str] = strawberry.field(default_factory=list)
    parts: list[Part] = strawberry.field(default_factory=list)

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


# Values read whole (strings, enum members, lists, objects of leaves), and values given in
# another form that graphql-core accepts: a tuple for a list, a str subclass, an enum's value.
GOOD = Thing(
    name="a",
    nickname=None,
    colour=Colour.RED,
    count=1,
    secret="s",
    tags=("x", Label("y")),  # type: ignore[arg-type]
    parts=[Part(label="p", colour=None), Part(label=Label("q"), colour="red")],  # type: ignore[arg-type]
)
BAD = Thing(name=None, nickname="b", colour=Colour.RED, count="x", secret="s")  # type: ignore[arg-type]
# graphql-core takes any iterable for a list; a plan leaves all but lists and tuples to it.
ODD = Thing(name="o", nickname=None, colour=Colour.RED, count=2, secret="s", tags={"z"})  # type: ignore[arg-type]


@strawberry.type
class Query:
    which: str = "good"

    @strawberry.field
    def things(self) -> list[Thing]:
        return {"good": [GOOD], "bad": [GOOD, BAD], "odd": [ODD]}[self.which]


SCHEMA = strawberry.Schema(query=Query)._schema
DOCUMENT = parse("{ things { name nickname colour count shout tags parts { label colour } } }")


def planned(root: Query) -> Any:
    operation = get_operation_ast(DOCUMENT)
    assert operation is not None
    plan = OperationPlan(SCHEMA, DOCUMENT, operation, plain_leaves(SCHEMA))
    return plan.run(VariableValues({}, {}), None, root, None)


def test_plain_leaves_are_basic_fields_only() -> None:
    found = plain_leaves(SCHEMA)
    assert {name for type_name, name in found if type_name == "Thing"} == {
        "name",
        "nickname",
        "colour",
        "count",
    }, "not `secret`: a permission guards it; not `shout`: a resolver answers it"


def test_a_plan_answers_as_graphql_core_does() -> None:
    root = Query(which="good")
    answer = planned(root)
    assert answer == execute(SCHEMA, DOCUMENT, root_value=root).data  # type: ignore[union-attr]
    assert answer["things"][0]["parts"][1] == {"label": "q", "colour": "RED"}


def test_a_plan_gives_way_where_graphql_core_reports_errors() -> None:
    root = Query(which="bad")
    general = execute(SCHEMA, DOCUMENT, root_value=root)
    assert general.errors, "the second thing's null name and its count are reported"  # type: ignore[union-attr]
    with pytest.raises(Deviation):
        planned(root)  # every resolver here answers at once: no awaiting


def test_a_plan_gives_way_on_iterables_it_does_not_read_whole() -> None:
    root = Query(which="odd")
    general = execute(SCHEMA, DOCUMENT, root_value=root)
    assert not general.errors
    assert general.data["things"][0]["tags"] == ["z"]  # type: ignore[index]
    with pytest.raises(Deviation):
        planned(root)


def test_the_home_query_reads_flows_and_steps_whole() -> None:
    """The benchmark's home query converts each flow and step straight from its attributes
    (no path or completion step per field): a schema change that loses this shows here,
    not only as a slower benchmark."""
    schema = build_schema(Limits(), introspection=False, production=True)._schema
    document = parse(HOME)
    operation = get_operation_ast(document)
    assert operation is not None
    plan = OperationPlan(schema, document, operation, plain_leaves(schema))
    flows = next(field for field in plan.root.fields if field.key == "flows")
    flow = plan.child(flows, schema.type_map["Flow"])  # type: ignore[arg-type]
    steps = next(field for field in flow.fields if field.key == "steps")
    assert flow.static is not None
    assert plan.child(steps, schema.type_map["Step"]).static is not None  # type: ignore[arg-type]
