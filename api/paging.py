"""Pages of a list that grows with an organization (members, help requests, flows' progress).

A page is cut from a list sorted by a stable key (a member's id, a flow's id, a request's
creation time and id); its cursor names the key of an item, so a page that follows starts
right after it even when items were added or removed in between. Cursors are opaque to
clients and tagged with the list they belong to, so one list's cursor is refused by another.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from api.errors import ErrorCode, HeedError

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_PAGE = 20
MAX_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page: each item with its cursor, whether more follow, and how many there are."""

    entries: list[tuple[str, T]]
    has_next_page: bool
    has_previous_page: bool
    total_count: int

    @property
    def items(self) -> list[T]:
        return [item for _, item in self.entries]

    def map(self, build: Callable[[T], U]) -> Page[U]:
        """The same page (cursors, counts) with each item built into something else."""
        return Page(
            [(cursor, build(item)) for cursor, item in self.entries],
            self.has_next_page,
            self.has_previous_page,
            self.total_count,
        )


def paginate(
    items: Sequence[T],
    key: Callable[[T], str],
    first: int | None,
    after: str | None,
    list_name: str,
) -> Page[T]:
    """The page of `items` (sorted by `key`) after the cursor `after`: `first` items (at most
    MAX_PAGE; DEFAULT_PAGE when not given)."""
    size = page_size(first)
    start = 0
    if after is not None:
        after_key = decode_cursor(after, list_name)
        start = next((i for i, item in enumerate(items) if key(item) > after_key), len(items))
    chosen = items[start : start + size]
    return Page(
        entries=[(encode_cursor(list_name, key(item)), item) for item in chosen],
        has_next_page=start + size < len(items),
        has_previous_page=start > 0,
        total_count=len(items),
    )


def page_size(first: int | None) -> int:
    """A page holds `first` items, at most MAX_PAGE (a larger `first` gets MAX_PAGE)."""
    if first is None:
        return DEFAULT_PAGE
    if first < 1:
        raise HeedError(
            ErrorCode.BAD_USER_INPUT,
            f"`first` must be at least 1, not {first} (pages hold 1 to {MAX_PAGE} items;"
            f" larger values give {MAX_PAGE})",
        )
    return min(first, MAX_PAGE)


def encode_cursor(list_name: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{list_name}:{key}".encode()).decode()


def decode_cursor(cursor: str, list_name: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        decoded = ""
    prefix = f"{list_name}:"
    if not decoded.startswith(prefix):
        raise HeedError(
            ErrorCode.BAD_USER_INPUT,
            f"invalid cursor {cursor[:60]!r}: pass an endCursor from a previous page of this list",
        )
    return decoded.removeprefix(prefix)
