"""Relay connections over the pages the domain cuts (`api.paging`): `first`/`after`, at most
`MAX_PAGE` items a page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from api.paging import DEFAULT_PAGE, MAX_PAGE, Page
from schema.content import PageInfo

T = TypeVar("T")

FIRST = strawberry.argument(
    description=f"Page size, 1 to {MAX_PAGE} (more gives {MAX_PAGE}; default {DEFAULT_PAGE})."
)
AFTER = strawberry.argument(description="The `endCursor` of the previous page.")


@strawberry.type(description="An item of a page, with the cursor to continue after it.")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(
    description=f"A page of a list: `first` items (at most {MAX_PAGE}) `after` a cursor."
)
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int = strawberry.field(description="How many items the whole list holds.")

    @classmethod
    def from_page(cls, page: Page[Any], build: Callable[[Any], T]) -> Connection[T]:
        edges = [Edge(cursor=cursor, node=build(item)) for cursor, item in page.entries]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total_count,
        )
