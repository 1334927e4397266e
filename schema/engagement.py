"""Engagement: survey answers and results, badges, and what shows when (`nextUp`, seen and
dismissed marks)."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON

from api.engagement.surveys import SurveyResultsView
from resolvers import engagement as resolve
from schema.content import ContentItem, SurveyQuestionType
from schema.errors import UserError
from schema.permissions import ReadsAsMember


@strawberry.input(description="One answer: a number for NPS/CSAT, an option, options, a text.")
class SurveyAnswerInput:
    question_id: strawberry.ID
    value: JSON


@strawberry.input(description="A member's answers to one survey.")
class SubmitSurveyInput:
    survey_id: strawberry.ID
    answers: list[SurveyAnswerInput]
    idempotency_key: str | None = None


@strawberry.type(description="One answer as given.")
class SurveyAnswer:
    question_id: strawberry.ID
    value: JSON


@strawberry.type(description="One member's answers to one revision of a survey.")
class SurveyResponse:
    id: strawberry.ID
    survey_id: strawberry.ID
    revision: int
    answered_at: dt.datetime
    answers: list[SurveyAnswer]


@strawberry.type(description="The stored response, or why the answers were refused.")
class SubmitSurveyPayload:
    response: SurveyResponse | None = None
    survey: ContentItem | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Net Promoter Score: promoters (9-10) minus detractors (0-6), in %.")
class NpsScore:
    score: float
    promoters: int
    passives: int
    detractors: int
    answers: int


@strawberry.type(description="How many answered one CSAT score.")
class CsatCount:
    score: int
    count: int


@strawberry.type(description="Customer satisfaction (1-5): the average and how many gave each.")
class CsatScore:
    average: float
    answers: int
    distribution: list[CsatCount]


@strawberry.type(description="How many chose one option.")
class ChoiceCount:
    option: str = strawberry.field(description="The option, in the survey's source locale.")
    count: int


@strawberry.type(description="A text answer and when it was given.")
class TextAnswer:
    text: str
    answered_at: dt.datetime


@strawberry.type(description="One question's results.")
class QuestionResults:
    question_id: strawberry.ID
    type: SurveyQuestionType  # type: ignore[valid-type]
    prompt: str
    answers: int
    nps: NpsScore | None
    csat: CsatScore | None
    choices: list[ChoiceCount]
    latest_texts: list[TextAnswer] = strawberry.field(description="Newest first, at most 20.")


@strawberry.type(description="One organization's share of a survey's results.")
class OrganizationSurveyResults:
    organization_id: strawberry.ID
    responses: int
    nps: NpsScore | None
    csat_average: float | None


@strawberry.type(description="A survey's results in the organization (or all, admin key).")
class SurveyResults:
    survey_id: strawberry.ID
    responses: int
    nps: NpsScore | None = strawberry.field(description="Every NPS question together.")
    csat: CsatScore | None = strawberry.field(description="Every CSAT question together.")
    questions: list[QuestionResults]
    view: strawberry.Private[SurveyResultsView]

    @strawberry.field(description="Responses, NPS and CSAT per organization, by id.")
    async def organizations(self) -> list[OrganizationSurveyResults]:
        return await resolve.results_per_organization(self.view)


@strawberry.type(description="A badge the viewer earned.")
class Badge:
    id: strawberry.ID
    title: str
    description: str
    icon: str | None
    image: str | None
    earned_at: dt.datetime


@strawberry.type(description="What the viewer did with one item; kept by item id.")
class ItemState:
    item_id: strawberry.ID
    surface: str | None
    seen_at: dt.datetime | None = strawberry.field(description="First seen.")
    shown_at: dt.datetime | None = strawberry.field(description="Last shown.")
    dismissed_at: dt.datetime | None
    answered_at: dt.datetime | None = strawberry.field(description="Surveys: last answered.")


@strawberry.type(description="An item and what the viewer did with it, after a change.")
class ItemStatePayload:
    item: ContentItem | None = None
    state: ItemState | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class EngagementQuery:
    @strawberry.field(
        description=(
            "What to show the viewer on a surface now (banner, modal, sidebar, tooltip): at"
            " most the surface's limit, highest priority first, nothing during its cool-off."
        ),
        permission_classes=[ReadsAsMember],
    )
    async def next_up(
        self, info: strawberry.Info, surface: str, locale: str | None = None
    ) -> list[ContentItem]:
        return await resolve.next_up(info, surface, locale)  # type: ignore[return-value]

    @strawberry.field(
        description=(
            "A survey's results: the owner or an admin for their organization; the admin key"
            " for all organizations, or one with X-Heed-Organization."
        )
    )
    async def survey_results(
        self,
        info: strawberry.Info,
        survey_id: strawberry.ID,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> SurveyResults | None:
        return await resolve.survey_results(info, survey_id, since, until)


@strawberry.type
class EngagementMutation:
    @strawberry.mutation(description="Answer a survey; each wrong answer is a userError.")
    async def submit_survey(
        self, info: strawberry.Info, input: SubmitSurveyInput
    ) -> SubmitSurveyPayload:
        return await resolve.submit_survey(info, input)

    @strawberry.mutation(description="The viewer was shown this item (idempotent).")
    async def mark_seen(self, info: strawberry.Info, item_id: strawberry.ID) -> ItemStatePayload:
        return await resolve.mark_item(info, item_id, "seen")

    @strawberry.mutation(description="The viewer dismissed this item (idempotent).")
    async def dismiss(self, info: strawberry.Info, item_id: strawberry.ID) -> ItemStatePayload:
        return await resolve.mark_item(info, item_id, "dismissed")
