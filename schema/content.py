"""Content served from the release in memory: items, lists, contextual help, search."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql import GraphQLResolveInfo
from strawberry.scalars import JSON

from api.content import model
from api.content.catalog import shown_between
from resolvers import content as resolve

if TYPE_CHECKING:
    from schema.flows import CallToAction, StepScope, TourHint

PAGE_HELP = f"Page size, 1 to {resolve.MAX_PAGE} (more gives {resolve.MAX_PAGE})."

ContentKind = strawberry.enum(model.ContentKind, description="What a content item is.")
Phase = strawberry.enum(
    model.Phase, description="H.E.E.D: hype, enable, explore, device (self-help)."
)
SurveyQuestionType = strawberry.enum(
    model.QuestionType, name="SurveyQuestionType", description="How a survey question is answered."
)
ContentSurface = strawberry.enum(
    model.Surface, name="Surface", description="Where an item shows in the product (nextUp)."
)


@strawberry.type(description="A survey question.")
class SurveyQuestion:
    id: strawberry.ID
    type: SurveyQuestionType  # type: ignore[valid-type]
    prompt: str
    options: list[str] = strawberry.field(description="The answers to choose from (CHOICE).")
    required: bool = strawberry.field(description="An answer is needed.")
    multiple: bool = strawberry.field(description="CHOICE: several options may be picked.")


@strawberry.type(
    description="A flow's step as written, without anyone's progress (see `Flow.steps` for that)."
)
class ContentStep:
    id: strawberry.ID
    title: str
    locale: str = strawberry.field(
        description="The locale its text is in: the source's while a translation lags behind."
    )
    scope: Annotated[StepScope, strawberry.lazy("schema.flows")]
    roles: list[str]
    requires: list[strawberry.ID]
    optional: bool
    skippable: bool
    completes_on: str | None = strawberry.field(description="App event that completes it.")
    body_markdown: str
    body_html: str = strawberry.field(description="Sanitized HTML, safe to inject.")
    body_tree: JSON = strawberry.field(description="The body as a JSON tree, for native UIs.")

    @strawberry.field(description="The step's button.")
    def cta(self) -> Annotated[CallToAction, strawberry.lazy("schema.flows")] | None:
        from schema.flows import CallToAction

        return CallToAction.maybe(self.cta)  # type: ignore[arg-type]

    @strawberry.field(description="Where a product tour points.")
    def tour(self) -> Annotated[TourHint, strawberry.lazy("schema.flows")] | None:
        from schema.flows import TourHint

        return TourHint.maybe(self.tour)  # type: ignore[arg-type]


@strawberry.interface(
    description=(
        "A content item of the served release, in the locale served. Kind-specific fields are"
        " on its types: `... on Survey { questions }`, `... on Announcement { starts ends }`."
    )
)
class ContentItem:
    id: strawberry.ID
    kind: ContentKind  # type: ignore[valid-type]
    title: str
    summary: str
    phase: Phase  # type: ignore[valid-type]
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
    priority: int = strawberry.field(description="Higher shows first on its surface (nextUp).")

    @strawberry.field(
        description="Tips, announcements, surveys, tours: the surface it shows on (nextUp)."
    )
    def placement(self) -> ContentSurface | None:  # type: ignore[valid-type]
        value = self.placement  # the served item's, as written (self is the item's view)
        return model.Surface(value) if value else None  # type: ignore[arg-type]


# Items reach these types as the resolvers' views of release items: each type recognises
# its items by kind.


@strawberry.type(
    description="A tutorial, tip, article, badge or milestone: the fields every item has."
)
class ContentDocument(ContentItem):
    @classmethod
    def is_type_of(cls, obj: Any, info: GraphQLResolveInfo) -> bool:
        return obj.kind in ("tutorial", "tip", "article", "badge", "milestone")  # type: ignore[no-any-return]


@strawberry.type(
    description=(
        "A flow as written (its body is the introduction); `Flow` is the same flow with the"
        " viewer's progress."
    )
)
class FlowContent(ContentItem):
    steps: list[ContentStep] = strawberry.field(
        description="The steps of this revision, as served (the body is the introduction)."
    )
    fallback_steps: list[strawberry.ID] = strawberry.field(
        description="Steps not translated yet, served in the source's locale."
    )

    @classmethod
    def is_type_of(cls, obj: Any, info: GraphQLResolveInfo) -> bool:
        return obj.kind == "flow"  # type: ignore[no-any-return]


@strawberry.type(description="A survey: questions to answer in the product.")
class Survey(ContentItem):
    questions: list[SurveyQuestion]
    repeat_after_days: int | None = strawberry.field(
        description="Asked again this many days after an answer or a dismissal."
    )

    @classmethod
    def is_type_of(cls, obj: Any, info: GraphQLResolveInfo) -> bool:
        return obj.kind == "survey"  # type: ignore[no-any-return]


@strawberry.type(description="An announcement, shown between its dates.")
class Announcement(ContentItem):
    @classmethod
    def is_type_of(cls, obj: Any, info: GraphQLResolveInfo) -> bool:
        return obj.kind == "announcement"  # type: ignore[no-any-return]

    @strawberry.field(description="Shown from this moment (null: since published).")
    def starts(self) -> dt.datetime | None:
        return shown_between(self)[0]  # type: ignore[arg-type]

    @strawberry.field(
        description=(
            "Shown until this moment, inclusive (null: no end); a date-only end in the content"
            " is the last moment of that day, UTC."
        )
    )
    def ends(self) -> dt.datetime | None:
        return shown_between(self)[1]  # type: ignore[arg-type]


CONTENT_TYPES = (ContentDocument, FlowContent, Survey, Announcement)


@strawberry.type(description="Where a page sits in its list (Relay).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="A content item, with the cursor to continue after it.")
class ContentItemEdge:
    cursor: str
    node: ContentItem


@strawberry.type(description="A Relay connection over content items, ordered by id.")
class ContentItemConnection:
    edges: list[ContentItemEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A search result: the item, its score and a highlighted snippet.")
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
        first: Annotated[int | None, strawberry.argument(description=PAGE_HELP)] = None,
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
        self,
        info: strawberry.Info,
        context: str,
        locale: str | None = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_HELP)] = 5,
    ) -> list[ContentItem]:
        return await resolve.help_items(info.context, context, locale, first)  # type: ignore[return-value]

    @strawberry.field(description="Full-text search over help content, ranked.")
    async def search_help(
        self,
        info: strawberry.Info,
        query: str,
        locale: str | None = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_HELP)] = 10,
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
