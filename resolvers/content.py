"""Content fields: everything comes from the release in memory, filtered to the viewer's audience.

Only `contentItem(revision:)` for an older revision reads the database; every other content
query runs no SQL at all.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from api.content import Catalog, Hit, Item, Resolved, audience_matches, is_live
from api.content.model import QuestionType
from api.content.store import LiveRelease, item_revision
from api.context import Context
from api.errors import ErrorCode, HeedError
from api.progress.store import completed_flow_ids

T = TypeVar("T")
DEFAULT_PAGE = 20
MAX_PAGE = 100


@dataclass(frozen=True)
class QuestionView:
    id: str
    type: QuestionType
    prompt: str
    options: list[str]
    required: bool
    multiple: bool


@dataclass(frozen=True)
class ItemView:
    """A content item as served to one request: the item plus how its locale was chosen."""

    resolved: Resolved

    def __getattr__(self, name: str) -> Any:
        return getattr(self.resolved.item, name)

    @property
    def locale(self) -> str:
        return self.resolved.served_locale

    @property
    def requested_locale(self) -> str:
        return self.resolved.requested_locale

    @property
    def is_fallback(self) -> bool:
        return self.resolved.is_fallback

    @property
    def questions(self) -> list[QuestionView]:
        return [
            QuestionView(
                q.id, QuestionType(q.type), q.prompt, list(q.options), q.required, q.multiple
            )
            for q in self.resolved.item.questions
        ]


@dataclass(frozen=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@dataclass(frozen=True)
class Edge:
    cursor: str
    node: ItemView


@dataclass(frozen=True)
class Connection:
    edges: list[Edge]
    page_info: PageInfo
    total_count: int


@dataclass(frozen=True)
class SearchHitView:
    item: ItemView
    score: float
    highlight: str


def release(context: Context) -> LiveRelease:
    context.catalog  # noqa: B018 - raises NO_RELEASE before anything is published
    assert context.release is not None
    return context.release


class Audience:
    """The viewer's audience filter: roles, attributes, locale, prerequisites, dates.

    Prerequisites (`after`: flows the viewer completed) need the database; content queries
    should not. So the first pass defers every item that has prerequisites, and only if one
    was met does `visible_to` load the viewer's completions and run the query again.
    """

    def __init__(self, context: Context, locale: str | None, completed: set[str] | None):
        member = context.viewer
        assert member is not None
        self.member = member
        self.locale = viewer_locale(context, locale)
        self.completed = completed
        self.deferred = False
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self, item: Item) -> bool:
        if item.audience.after and self.completed is None:
            self.deferred = True
            return False
        return audience_matches(
            item.audience,
            self.member.roles,
            self.member.attributes,
            self.locale,
            self.completed or (),
        ) and (item.kind != "announcement" or is_live(item, self.now))


async def visible_to(
    context: Context, locale: str | None, run: Callable[[Audience | None], T]
) -> T:
    """Run a catalog query under the viewer's audience; the admin key sees every item."""
    viewer = context.viewer
    if viewer is None:
        return run(None)
    audience = Audience(context, locale, None)
    result = run(audience)
    if not audience.deferred:
        return result
    state = await context.reads.viewer_state()
    flows = [r.item for r in release(context).catalog.items(kind="flow")]
    completed = completed_flow_ids(state, flows, viewer.member_id)
    return run(Audience(context, locale, completed))


LOCALE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,3}$")
MAX_CONTEXT_LENGTH = 200
MAX_CONTEXT_SEGMENTS = 16


def bad_input(message: str) -> HeedError:
    return HeedError(ErrorCode.BAD_USER_INPUT, message)


def viewer_locale(context: Context, locale: str | None) -> str:
    if locale is not None and not LOCALE.match(locale):
        raise bad_input(f"not a locale: {locale[:40]!r} (expected e.g. en, ru, pt-BR)")
    return context.locale(locale)


async def content_item(
    context: Context, item_id: str, locale: str | None, revision: int | None
) -> ItemView | None:
    """The item served now, or with `revision` any revision ever published (a flow's with
    the steps it had), even of an item the current release no longer has."""
    catalog = release(context).catalog
    requested = viewer_locale(context, locale)
    resolved = catalog.get(item_id, requested)
    if revision is not None and revision < 1:
        raise bad_input(f"revisions start at 1, not {revision}")
    if revision is not None and (resolved is None or revision != resolved.item.revision):
        resolved = await _revision(catalog, item_id, requested, revision)
    if resolved is None or not await visible_to(
        context, locale, lambda audience: audience is None or audience(resolved.item)
    ):
        return None
    return ItemView(resolved)


async def _revision(catalog: Catalog, item_id: str, locale: str, revision: int) -> Resolved | None:
    """A stored revision in the first locale of the chain that has one (revisions are
    numbered per locale: a translation's own)."""
    chain = catalog.chain(locale)
    for candidate in chain:
        found = await item_revision(item_id, candidate, revision)
        if found is not None:
            return Resolved(found, chain[0], candidate, candidate != chain[0])
    return None


async def content(
    context: Context,
    *,
    kind: str | None,
    phase: str | None,
    tag: str | None,
    locale: str | None,
    first: int | None,
    after: str | None,
) -> Connection:
    catalog: Catalog = release(context).catalog
    items = await visible_to(
        context,
        locale,
        lambda audience: catalog.items(
            kind=kind, phase=phase, tag=tag, locale=viewer_locale(context, locale), where=audience
        ),
    )
    start = 0
    if after:
        after_id = decode_cursor(after)
        start = next((i for i, r in enumerate(items) if r.item.id > after_id), len(items))
    size = page_size(first)
    page = items[start : start + size]
    edges = [Edge(encode_cursor(r.item.id), ItemView(r)) for r in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + size < len(items),
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=len(items),
    )


async def help_items(
    context: Context, help_context: str, locale: str | None, first: int | None
) -> list[ItemView]:
    if len(help_context) > MAX_CONTEXT_LENGTH or help_context.count(".") >= MAX_CONTEXT_SEGMENTS:
        raise bad_input(
            f"context keys are at most {MAX_CONTEXT_LENGTH} characters and "
            f"{MAX_CONTEXT_SEGMENTS} dot-separated parts"
        )
    found = await visible_to(
        context,
        locale,
        lambda audience: release(context).catalog.by_context(
            help_context,
            locale=viewer_locale(context, locale),
            roles=context.viewer.roles if context.viewer else (),
            where=audience,
            first=page_size(first),
        ),
    )
    return [ItemView(r) for r in found]


async def search_help(
    context: Context, query: str, locale: str | None, first: int | None
) -> list[SearchHitView]:
    catalog = release(context).catalog
    requested = viewer_locale(context, locale)
    hits: Sequence[Hit] = await visible_to(
        context,
        locale,
        lambda audience: catalog.search(
            query, locale=requested, first=page_size(first), where=audience
        ),
    )
    chain = catalog.chain(requested)
    return [
        SearchHitView(
            ItemView(Resolved(hit.item, chain[0], hit.item.locale, hit.item.locale != chain[0])),
            round(hit.score, 4),
            hit.highlight,
        )
        for hit in hits
    ]


def page_size(first: int | None) -> int:
    """`first` as asked, at most MAX_PAGE; fewer than 1 is a mistake worth saying."""
    if first is None:
        return DEFAULT_PAGE
    if first < 1:
        raise bad_input(
            f"`first` must be at least 1, not {first} (pages hold 1 to {MAX_PAGE} items; "
            f"larger values give {MAX_PAGE})"
        )
    return min(first, MAX_PAGE)


def encode_cursor(item_id: str) -> str:
    return base64.urlsafe_b64encode(f"item:{item_id}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise _invalid_cursor(cursor) from None
    if not decoded.startswith("item:"):
        raise _invalid_cursor(cursor)
    return decoded.removeprefix("item:")


def _invalid_cursor(cursor: str) -> HeedError:
    return bad_input(f"invalid cursor {cursor!r}: pass an endCursor from a previous page")
