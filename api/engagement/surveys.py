"""Survey answers and results.

An answer is checked against the survey's questions as the content defines them (NPS 0-10,
CSAT 1-5, one option or several, a text of at most `MAX_TEXT` characters, required
questions); every wrong answer is reported at once, each with its question's id. Answers are
stored per member and survey revision; a chosen option is stored as the source-locale text,
so results count the same option the same in every language.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from api.actor import Actor
from api.content import Catalog, Item, Question, Resolved, audience_matches
from api.engagement.store import (
    AnswerRow,
    MarkRow,
    OrganizationFigures,
    Results,
    ResultsScope,
    export_answers,
    insert_answers,
    insert_response,
    load_mark,
    put_mark,
    results_by_organization,
    survey_results,
)
from api.errors import ErrorCode, HeedError, HeedErrors, invalid, not_found
from api.progress.live import ProgressHub
from api.progress.reads import Reads
from api.progress.steps import check_text
from api.progress.store import UnderLock, completed_flow_ids
from api.progress.team import require_driver
from api.progress.unit import Change, Idempotency, commit

MAX_TEXT = 2000  # characters in a text answer
MAX_ANSWERS = 100
LATEST_TEXTS = 20  # text answers shown per question in results
NPS_RANGE = (0, 10)
CSAT_RANGE = (1, 5)


@dataclass(frozen=True)
class GivenAnswer:
    question_id: str
    value: Any


@dataclass(frozen=True)
class SurveySubmitted:
    response_id: str
    survey: Resolved
    revision: int
    answered_at: dt.datetime
    answers: list[GivenAnswer]


def find_survey(catalog: Catalog, survey_id: str, locale: str) -> Resolved | None:
    resolved = catalog.get(survey_id, locale)
    return resolved if resolved is not None and resolved.item.kind == "survey" else None


def check_answers(survey: Item, source: Item, answers: Sequence[GivenAnswer]) -> list[AnswerRow]:
    """The rows to store, or every problem at once (`HeedErrors`)."""
    if len(answers) > MAX_ANSWERS:
        raise invalid(f"at most {MAX_ANSWERS} answers", "input", "answers")
    questions = {q.id: q for q in survey.questions}
    sources = {q.id: q for q in source.questions}
    errors: list[HeedError] = []
    rows: list[AnswerRow] = []
    answered: set[str] = set()
    seen: set[str] = set()
    for answer in answers:
        question = questions.get(answer.question_id)
        where = ("answers", answer.question_id[:128])
        if question is None:
            known = ", ".join(questions)
            errors.append(
                invalid(
                    f"survey {survey.id!r} has no question {where[1]!r} (it has {known})", *where
                )
            )
            continue
        if question.id in seen:
            errors.append(invalid(f"question {question.id!r} is answered twice", *where))
            continue
        seen.add(question.id)
        try:
            found = _rows(question, sources.get(question.id, question), answer.value)
        except HeedError as error:
            errors.append(error)
            continue
        rows.extend(found)
        if found:
            answered.add(question.id)
    for question in survey.questions:
        if question.required and question.id not in answered and question.id not in seen:
            errors.append(
                invalid(f"question {question.id!r} needs an answer", "answers", question.id)
            )
    if errors:
        raise HeedErrors(errors)
    return rows


def _rows(question: Question, source: Question, value: Any) -> list[AnswerRow]:
    """A question's answer as stored rows ([] when an optional question is left empty)."""
    where = ("answers", question.id)
    if question.type in ("nps", "csat"):
        low, high = NPS_RANGE if question.type == "nps" else CSAT_RANGE
        if type(value) is not int or not low <= value <= high:
            raise invalid(
                f"{question.type.upper()} answers are whole numbers from {low} to {high}", *where
            )
        return [AnswerRow(question.id, question.type, number=value)]
    if question.type == "text":
        if not isinstance(value, str):
            raise invalid("a text answer is a string", *where)
        text = value.strip()
        if "\x00" in text or len(text) > MAX_TEXT:
            raise invalid(f"a text answer is at most {MAX_TEXT} characters, without NUL", *where)
        if not text and question.required:
            raise invalid(f"question {question.id!r} needs an answer", *where)
        return [AnswerRow(question.id, "text", text=text)] if text else []
    chosen = value if question.multiple else [value]
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        shape = "a list of options" if question.multiple else "one option (a string)"
        raise invalid(f"answer {question.id!r} with {shape}", *where)
    if len(set(chosen)) != len(chosen):
        raise invalid("an option is chosen twice", *where)
    rows = []
    for choice in chosen:
        options = question.options if choice in question.options else source.options
        if choice not in options:
            listed = ", ".join(repr(option) for option in question.options)
            raise invalid(f"{choice[:100]!r} is not an option; choose from {listed}", *where)
        rows.append(AnswerRow(question.id, "choice", choice=source.options[options.index(choice)]))
    if not rows and question.required:
        raise invalid(f"question {question.id!r} needs an answer", *where)
    return rows


def hidden_until(item: Item, mark: MarkRow | None) -> dt.datetime | None:
    """When a survey may show (and be answered) again after an answer or a dismissal: None
    if it never was, `datetime.max` if never again."""
    if mark is None:
        return None
    last = max((t for t in (mark.answered_at, mark.dismissed_at) if t is not None), default=None)
    if last is None:
        return None
    if item.repeat_after_days is None:
        return dt.datetime.max.replace(tzinfo=dt.UTC)
    return last + dt.timedelta(days=item.repeat_after_days)


async def submit_survey(
    actor: Actor,
    catalog: Catalog,
    hub: ProgressHub,
    survey_id: str,
    answers: Sequence[GivenAnswer],
    locale: str,
    now: dt.datetime,
    idempotency_key: str | None = None,
) -> SurveySubmitted:
    check_text(surveyId=survey_id, idempotencyKey=idempotency_key)
    member_pk = actor.acting_member()
    resolved = find_survey(catalog, survey_id, locale)
    if resolved is None:
        raise not_found(f"no survey {survey_id!r}", "input", "surveyId")
    survey = resolved.item
    source = catalog.get(survey_id, catalog.default_locale) or resolved
    rows = check_answers(survey, source.item, answers)
    revision = source.item.revision  # one revision for every locale of the survey
    given = [
        {"questionId": a.question_id, "value": a.value}
        for a in answers
        if any(r.question_id == a.question_id for r in rows)
    ]

    async def read_mark(_: UnderLock, connection: Any) -> MarkRow | None:
        return await load_mark(actor.organization_pk, actor.member_id, survey_id, connection)

    async def decide(change: Change) -> dict[str, Any]:
        flows = [r.item for r in catalog.items(kind="flow", locale=locale)]
        completed = completed_flow_ids(change.state, flows, actor.member_id)
        if not audience_matches(survey.audience, actor.roles, actor.attributes, locale, completed):
            raise not_found(f"no survey {survey_id!r}", "input", "surveyId")
        mark: MarkRow | None = change.more
        if mark is not None and mark.answered_at is not None:
            again = hidden_until(survey, MarkRow(survey_id, answered_at=mark.answered_at))
            if again is not None and change.now < again:
                when = (
                    ""
                    if again.year == dt.MAXYEAR
                    else f"; it can be answered again after {again.isoformat(timespec='minutes')}"
                )
                raise HeedError(
                    ErrorCode.ALREADY_ANSWERED,
                    f"you already answered {survey_id!r}{when}",
                    ("input", "surveyId"),
                )
        response_id = secrets.token_hex(8)
        organization_pk = actor.organization_pk
        change.write(
            insert_response(
                response_id,
                organization_pk,
                member_pk,
                survey_id,
                revision,
                resolved.served_locale,
                change.now,
            )
        )
        if rows:
            change.write(insert_answers(organization_pk, response_id, survey_id, rows, change.now))
        base = mark or MarkRow(survey_id)
        answered = replace(
            base,
            surface=base.surface or survey.placement,
            seen_at=base.seen_at or change.now,
            shown_at=base.shown_at or change.now,
            answered_at=change.now,
        )
        change.write(put_mark(organization_pk, actor.member_id, answered))
        change.emit(
            "survey.answered",
            {
                "organizationId": actor.organization_id,
                "memberId": actor.member_id,
                "surveyId": survey_id,
                "surveyRevision": revision,
                "responseId": response_id,
                "locale": resolved.served_locale,
                "answers": given,
            },
        )
        return {
            "responseId": response_id,
            "revision": revision,
            "answeredAt": change.now.isoformat(),
            "answers": given,
        }

    # The same key with other answers is another submission: IDEMPOTENCY_CONFLICT.
    target = {"surveyId": survey_id, "answers": given}
    key = Idempotency(idempotency_key, "submitSurvey", target) if idempotency_key else None
    committed = await commit(actor, hub, decide, idempotency=key, now=now, read_more=read_mark)
    record = committed.record
    return SurveySubmitted(
        record["responseId"],
        resolved,
        record["revision"],
        dt.datetime.fromisoformat(record["answeredAt"]),
        [GivenAnswer(a["questionId"], a["value"]) for a in record["answers"]],
    )


@dataclass(frozen=True)
class SurveyResultsView:
    survey: Item
    results: Results
    scope: ResultsScope  # for the figures per organization, read only when asked for


async def results(
    actor: Actor | None,
    reads: Reads | None,
    catalog: Catalog,
    survey_id: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> SurveyResultsView | None:
    """A survey's results over a time range: in the actor's organization (its owner or an
    admin, or the admin key acting for it), or in all of them (no actor: the admin key
    alone). None for an id that is not a survey of the served release."""
    check_text(surveyId=survey_id)
    organization_pk = None
    if actor is not None:
        if not actor.is_admin_key:
            assert reads is not None
            await require_driver(actor, reads, "reads survey results")
        organization_pk = actor.organization_pk
    resolved = find_survey(catalog, survey_id, catalog.default_locale)
    if resolved is None:
        return None
    if since is not None and until is not None and until <= since:
        raise invalid("`until` must be after `since`", "until")
    scope = ResultsScope(survey_id, organization_pk, _utc(since), _utc(until))
    return SurveyResultsView(resolved.item, await survey_results(scope, LATEST_TEXTS), scope)


async def results_per_organization(view: SurveyResultsView) -> list[OrganizationFigures]:
    """The results' responses, NPS and CSAT per organization (one for an owner)."""
    return await results_by_organization(view.scope)


async def export_rows(
    survey_id: str,
    organization_pk: int | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> list[Sequence[Any]]:
    """Every answer for the CSV export (`heed export surveys`)."""
    return await export_answers(ResultsScope(survey_id, organization_pk, _utc(since), _utc(until)))


EXPORT_COLUMNS = (
    "organization_id",
    "member_id",
    "survey_id",
    "survey_revision",
    "locale",
    "response_id",
    "question_id",
    "question_type",
    "number",
    "choice",
    "text",
    "answered_at",
)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
