"""The lean executor answers plain leaf fields itself; whatever is unusual goes the general
way and reads exactly as graphql-core reports it."""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from graphql import execute, parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.execution import lean_executor, plain_leaves


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Thing:
    name: str
    nickname: str | None
    colour: Colour
    count: int

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing]:
        return [
            Thing(name="a", nickname=None, colour=Colour.RED, count=1),
            Thing(name=None, nickname="b", colour=Colour.RED, count="x"),  # type: ignore[arg-type]
        ]


SCHEMA = strawberry.Schema(query=Query)._schema
DOCUMENT = parse("{ things { name nickname colour count shout } }")


def run(executor: type[Any]) -> Any:
    return execute(SCHEMA, DOCUMENT, executor_class=executor)


def test_plain_leaves_are_attributes_without_resolvers() -> None:
    found = plain_leaves(SCHEMA)
    assert {name for type_name, name in found if type_name == "Thing"} == {
        "name",
        "nickname",
        "colour",
        "count",
    }


def test_lean_answers_and_errors_match_graphql_core() -> None:
    general = run(StrawberryGraphQLCoreExecutionContext)
    lean = run(lean_executor(StrawberryGraphQLCoreExecutionContext, SCHEMA))
    assert lean.data == general.data
    assert [e.formatted for e in lean.errors or []] == [e.formatted for e in general.errors or []]
    assert lean.errors  # the second thing's null name and its count are reported
