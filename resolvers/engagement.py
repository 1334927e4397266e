"""Engagement fields: parse the input, call one use case, build schema types."""

from __future__ import annotations

import datetime as dt

import strawberry

from api.auth import AdminPrincipal
from api.content.model import QuestionType
from api.engagement.badges import viewer_badges
from api.engagement.placement import ItemStateResult, Verb
from api.engagement.placement import mark_item as mark_item_case
from api.engagement.placement import next_up as next_up_case
from api.engagement.store import NumberStats, Results
from api.engagement.surveys import GivenAnswer, SurveyResultsView, SurveySubmitted
from api.engagement.surveys import results as results_case
from api.engagement.surveys import results_per_organization as results_per_organization_case
from api.engagement.surveys import submit_survey as submit_case
from resolvers.content import ItemView, viewer_locale
from schema import engagement as types
from schema.errors import mutate


async def next_up(info: strawberry.Info, surface: str, locale: str | None) -> list[ItemView]:
    context = info.context
    found = await next_up_case(
        context.actor,
        context.catalog,
        context.reads,
        context.settings.surfaces,
        surface,
        viewer_locale(context, locale),
        context.runtime.clock(),
    )
    return [ItemView(resolved) for resolved in found]


async def mark_item(info: strawberry.Info, item_id: str, verb: Verb) -> types.ItemStatePayload:
    context = info.context

    def answer(result: ItemStateResult) -> types.ItemStatePayload:
        mark = result.mark
        return types.ItemStatePayload(
            item=ItemView(result.item),  # type: ignore[arg-type]
            state=types.ItemState(
                item_id=strawberry.ID(mark.item_id),
                surface=mark.surface,
                seen_at=mark.seen_at,
                shown_at=mark.shown_at,
                dismissed_at=mark.dismissed_at,
                answered_at=mark.answered_at,
            ),
        )

    return await mutate(
        info,
        types.ItemStatePayload,
        lambda: mark_item_case(
            context.actor,
            context.catalog,
            context.runtime.progress_hub,
            item_id,
            verb,
            context.locale(),
            context.runtime.clock(),
        ),
        answer,
    )


async def submit_survey(
    info: strawberry.Info, input: types.SubmitSurveyInput
) -> types.SubmitSurveyPayload:
    context = info.context

    def answer(submitted: SurveySubmitted) -> types.SubmitSurveyPayload:
        return types.SubmitSurveyPayload(
            response=types.SurveyResponse(
                id=strawberry.ID(submitted.response_id),
                survey_id=strawberry.ID(submitted.survey.item.id),
                revision=submitted.revision,
                answered_at=submitted.answered_at,
                answers=[
                    types.SurveyAnswer(question_id=strawberry.ID(a.question_id), value=a.value)
                    for a in submitted.answers
                ],
            ),
            survey=ItemView(submitted.survey),  # type: ignore[arg-type]
        )

    return await mutate(
        info,
        types.SubmitSurveyPayload,
        lambda: submit_case(
            context.actor,
            context.catalog,
            context.runtime.progress_hub,
            input.survey_id,
            [GivenAnswer(a.question_id, a.value) for a in input.answers],
            context.locale(),
            context.runtime.clock(),
            input.idempotency_key,
        ),
        answer,
    )


async def survey_results(
    info: strawberry.Info,
    survey_id: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> types.SurveyResults | None:
    context = info.context
    principal = context.principal
    across = isinstance(principal, AdminPrincipal) and principal.organization_id is None
    view = await results_case(
        None if across else context.actor,
        None if across else context.reads,
        context.catalog,
        survey_id,
        since,
        until,
    )
    return None if view is None else _results(view)


def _results(view: SurveyResultsView) -> types.SurveyResults:
    found: Results = view.results
    numbers = {stats.question_id: stats for stats in found.numbers}
    overall = {stats.question_type: stats for stats in found.overall}

    def tallies(question_id: str) -> list[tuple[int | None, str | None, int]]:
        return [
            (x.number, x.choice, x.count) for x in found.tallies if x.question_id == question_id
        ]

    def csat(stats: NumberStats | None, question_id: str | None) -> types.CsatScore | None:
        if stats is None or stats.question_type != "csat":
            return None
        counts = {score: 0 for score in range(1, 6)}
        for x in found.tallies:
            if x.number is not None and question_id in (None, x.question_id):
                counts[x.number] = counts.get(x.number, 0) + x.count
        return types.CsatScore(
            average=round(stats.average, 4),
            answers=stats.answers,
            distribution=[types.CsatCount(score=s, count=c) for s, c in sorted(counts.items())],
        )

    questions = []
    for question in view.survey.questions:
        stats = numbers.get(question.id)
        texts = [x for x in found.texts if x.question_id == question.id]
        choices = {option: 0 for option in question.options}
        for _, choice, count in tallies(question.id):
            if choice is not None:
                choices[choice] = choices.get(choice, 0) + count
        answered = (
            stats.answers
            if stats
            else sum(choices.values())
            if question.type == "choice"
            else len(texts)
        )
        questions.append(
            types.QuestionResults(
                question_id=strawberry.ID(question.id),
                type=QuestionType(question.type),
                prompt=question.prompt,
                answers=answered,
                nps=_nps(stats),
                csat=csat(stats, question.id),
                choices=[types.ChoiceCount(option=o, count=c) for o, c in choices.items()],
                latest_texts=[
                    types.TextAnswer(text=x.text, answered_at=x.answered_at) for x in texts
                ],
            )
        )
    return types.SurveyResults(
        survey_id=strawberry.ID(view.survey.id),
        responses=found.responses,
        nps=_nps(overall.get("nps")),
        csat=csat(overall.get("csat"), None),
        questions=questions,
        view=view,
    )


def _nps(stats: NumberStats | None) -> types.NpsScore | None:
    if stats is None or stats.question_type != "nps":
        return None
    return types.NpsScore(
        score=round(stats.nps, 2),
        promoters=stats.promoters,
        passives=stats.passives,
        detractors=stats.detractors,
        answers=stats.answers,
    )


async def results_per_organization(
    view: SurveyResultsView,
) -> list[types.OrganizationSurveyResults]:
    figures = await results_per_organization_case(view)
    out = []
    for organization in figures:
        by_type = {stats.question_type: stats for stats in organization.overall}
        csat = by_type.get("csat")
        out.append(
            types.OrganizationSurveyResults(
                organization_id=strawberry.ID(organization.organization_id),
                responses=organization.responses,
                nps=_nps(by_type.get("nps")),
                csat_average=round(csat.average, 4) if csat else None,
            )
        )
    return out


async def badges(info: strawberry.Info) -> list[types.Badge]:
    context = info.context
    earned = await viewer_badges(context.actor, context.catalog, context.reads, context.locale())
    return [
        types.Badge(
            id=strawberry.ID(badge.item.id),
            title=badge.item.title,
            description=badge.item.summary,
            icon=badge.item.icon,
            image=badge.item.image,
            earned_at=badge.earned_at,
        )
        for badge in earned
    ]
