"""Content served from the release in memory: items, lists, contextual help, search."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from resolvers import content as resolve


@strawberry.enum(description="What a content item is.")
class ContentKind(Enum):
    TUTORIAL = "tutorial"
    TIP = "tip"
    ARTICLE = "article"
    FLOW = "flow"
    SURVEY = "survey"
    ANNOUNCEMENT = "announcement"
    BADGE = "badge"


@strawberry.enum(description="H.E.E.D: hype, enable, explore, device (self-help).")
class Phase(Enum):
    HYPE = "hype"
    ENABLE = "enable"
    EXPLORE = "explore"
    DEVICE = "device"


@strawberry.type(description="A survey question (surveys only).")
class SurveyQuestion:
    id: strawberry.ID
    type: str = strawberry.field(description="nps, csat, text or choice")
    prompt: str
    options: list[str]
    required: bool = strawberry.field(description="An answer is needed.")
    multiple: bool = strawberry.field(description="choice: several options may be picked.")


@strawberry.type(description="A content item of the served release, in the locale served.")
class ContentItem:
    id: strawberry.ID
    kind: ContentKind
    title: str
    summary: str
    phase: Phase
    tags: list[str]
    contexts: list[str] = strawberry.field(description="Screen/element keys it helps with.")
    locale: str = strawberry.field(description="The locale served.")
    requested_locale: str = strawberry.field(description="The locale asked for.")
    is_fallback: bool = strawberry.field(description="Served in another locale than asked.")
    revision: int = strawberry.field(description="Rises each time this item's source changes.")
    body_markdown: str
    body_html: str = strawberry.field(description="Sanitized HTML, safe to inject.")
    body_tree: JSON = strawberry.field(description="The body as a JSON tree, for native UIs.")
    links: list[strawberry.ID] = strawberry.field(description="Ids of the items it links to.")
    questions: list[SurveyQuestion]
    starts: str | None = strawberry.field(description="Announcements: shown from (ISO).")
    ends: str | None = strawberry.field(description="Announcements: shown until (ISO).")
    placement: str | None = strawberry.field(
        description="Tips, announcements, surveys, tours: the surface it shows on (nextUp)."
    )
    priority: int = strawberry.field(description="Higher shows first on its surface.")
    repeat_after_days: int | None = strawberry.field(
        description="Surveys: asked again this many days after an answer or a dismissal."
    )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class ContentItemEdge:
    cursor: str
    node: ContentItem


@strawberry.type(description="A Relay connection over content items, ordered by id.")
class ContentItemConnection:
    edges: list[ContentItemEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class SearchHit:
    item: ContentItem
    score: float
    highlight: str | None = strawberry.field(
        description="Sanitized HTML snippet, matches wrapped in <mark>."
    )


@strawberry.type(description="The immutable content snapshot being served.")
class Release:
    number: int
    content_hash: str
    created_at: dt.datetime
    item_count: int
    locales: list[str]


@strawberry.type
class ContentQuery:
    @strawberry.field(description="One item, in the viewer's locale unless asked otherwise.")
    async def content_item(
        self,
        info: strawberry.Info,
        id: strawberry.ID,
        locale: str | None = None,
        revision: int | None = None,
    ) -> ContentItem | None:
        return await resolve.content_item(info.context, id, locale, revision)  # type: ignore[return-value]

    @strawberry.field(description="Items this viewer's audience gets, filtered, by page.")
    async def content(
        self,
        info: strawberry.Info,
        kind: ContentKind | None = None,
        phase: Phase | None = None,
        tag: str | None = None,
        locale: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ContentItemConnection:
        return await resolve.content(  # type: ignore[return-value]
            info.context,
            kind=kind.value if kind else None,
            phase=phase.value if phase else None,
            tag=tag,
            locale=locale,
            first=first,
            after=after,
        )

    @strawberry.field(description="Contextual help for a screen or element key, best first.")
    async def help(
        self, info: strawberry.Info, context: str, locale: str | None = None, first: int | None = 5
    ) -> list[ContentItem]:
        return await resolve.help_items(info.context, context, locale, first)  # type: ignore[return-value]

    @strawberry.field(description="Full-text search over help content, ranked.")
    async def search_help(
        self, info: strawberry.Info, query: str, locale: str | None = None, first: int | None = 10
    ) -> list[SearchHit]:
        return await resolve.search_help(info.context, query, locale, first)  # type: ignore[return-value]

    @strawberry.field(description="The release being served.")
    def release(self, info: strawberry.Info) -> Release:
        served = resolve.release(info.context)
        return Release(
            number=served.number,
            content_hash=served.content_hash,
            created_at=served.created_at,
            item_count=len(served.catalog),
            locales=served.catalog.locales,
        )
