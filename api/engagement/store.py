"""Engagement state in the database: item marks, badge awards, survey responses and answers,
and the survey results aggregated in SQL (the same statements on SQLite and Postgres)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.db.models import BadgeAward, ItemMark, SurveyAnswer
from api.progress.store import Write, _fetch

_MARK_AT = ItemMark._meta.fields_map["seen_at"]
_EARNED_AT = BadgeAward._meta.fields_map["earned_at"]
_ANSWERED_AT = SurveyAnswer._meta.fields_map["created_at"]
_MARK_COLUMNS = "item_id, surface, seen_at, shown_at, dismissed_at, answered_at"


@dataclass(frozen=True)
class MarkRow:
    """What one member did with one item; times are None until it happened."""

    item_id: str
    surface: str | None = None
    seen_at: dt.datetime | None = None
    shown_at: dt.datetime | None = None
    dismissed_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None


def _at(value: dt.datetime | None) -> Any:
    return None if value is None else _MARK_AT.to_db_value(value, ItemMark)


def _mark(row: Sequence[Any]) -> MarkRow:
    item_id, surface, *times = row
    return MarkRow(item_id, surface, *(_MARK_AT.to_python_value(t) for t in times))


async def load_marks(organization_pk: int, member_key: str) -> dict[str, MarkRow]:
    """Every item mark of one member: one statement, whatever the number of items."""
    rows = await _fetch(
        f"SELECT {_MARK_COLUMNS} FROM item_mark"  # noqa: S608 - constant columns
        " WHERE organization_id = $1 AND member_key = $2",
        [organization_pk, member_key],
    )
    return {mark.item_id: mark for mark in map(_mark, rows)}


async def load_mark(
    organization_pk: int, member_key: str, item_id: str, connection: Any
) -> MarkRow | None:
    """One mark, read under the organization's lock."""
    rows = await _fetch(
        f"SELECT {_MARK_COLUMNS} FROM item_mark"  # noqa: S608 - constant columns
        " WHERE organization_id = $1 AND member_key = $2 AND item_id = $3",
        [organization_pk, member_key, item_id],
        connection,
    )
    return _mark(rows[0]) if rows else None


def put_mark(organization_pk: int, member_key: str, mark: MarkRow) -> Write:
    """The mark as the use case decided it, replacing the stored one."""
    return Write(
        "INSERT INTO item_mark (organization_id, member_key, item_id, surface, seen_at,"
        " shown_at, dismissed_at, answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (organization_id, member_key, item_id) DO UPDATE SET"
        " surface = excluded.surface, seen_at = excluded.seen_at,"
        " shown_at = excluded.shown_at, dismissed_at = excluded.dismissed_at,"
        " answered_at = excluded.answered_at",
        (
            organization_pk,
            member_key,
            mark.item_id,
            mark.surface,
            _at(mark.seen_at),
            _at(mark.shown_at),
            _at(mark.dismissed_at),
            _at(mark.answered_at),
        ),
    )


# --- badges ----------------------------------------------------------------------------


def award_badge(organization_pk: int, member_key: str, badge_id: str, at: dt.datetime) -> Write:
    """Earned once: the unique key holds even if two writers ever raced past the lock."""
    return Write(
        "INSERT INTO badge_award (organization_id, member_key, badge_id, earned_at)"
        " VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (organization_id, member_key, badge_id) DO NOTHING",
        (organization_pk, member_key, badge_id, _EARNED_AT.to_db_value(at, BadgeAward)),
    )


async def load_badges(organization_pk: int, member_key: str) -> dict[str, dt.datetime]:
    rows = await _fetch(
        "SELECT badge_id, earned_at FROM badge_award"
        " WHERE organization_id = $1 AND member_key = $2",
        [organization_pk, member_key],
    )
    return {badge_id: _EARNED_AT.to_python_value(at) for badge_id, at in rows}


async def count_app_events(organization_pk: int, member_pk: int, name: str, connection: Any) -> int:
    """How many times a member's app sent this event (`track`), read under the lock."""
    rows = await _fetch(
        "SELECT COUNT(*) FROM event WHERE organization_id = $1 AND member_id = $2"
        " AND kind = 'app' AND name = $3",
        [organization_pk, member_pk, name],
        connection,
    )
    return int(rows[0][0])


# --- survey responses ------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerRow:
    """One stored answer: a number, one chosen option or a text."""

    question_id: str
    question_type: str
    number: int | None = None
    choice: str | None = None
    text: str | None = None


def insert_response(
    public_id: str,
    organization_pk: int,
    member_pk: int,
    survey_id: str,
    revision: int,
    locale: str,
    at: dt.datetime,
) -> Write:
    return Write(
        "INSERT INTO survey_response (public_id, organization_id, member_id, survey_id,"
        " survey_revision, locale, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        (public_id, organization_pk, member_pk, survey_id, revision, locale, _answer_at(at)),
    )


def insert_answers(
    organization_pk: int,
    response_id: str,
    survey_id: str,
    answers: Sequence[AnswerRow],
    at: dt.datetime,
) -> Write:
    """All of a response's answers in one statement."""
    rows, values = [], []
    for answer in answers:
        start = len(values)
        values.extend(
            (
                organization_pk,
                response_id,
                survey_id,
                answer.question_id,
                answer.question_type,
                answer.number,
                answer.choice,
                answer.text,
                _answer_at(at),
            )
        )
        rows.append("(" + ", ".join(f"${start + n}" for n in range(1, 10)) + ")")
    return Write(
        "INSERT INTO survey_answer (organization_id, response_id, survey_id, question_id,"  # noqa: S608 - placeholders only
        " question_type, number, choice, text, created_at) VALUES " + ", ".join(rows),
        tuple(values),
    )


def _answer_at(at: dt.datetime) -> Any:
    return _ANSWERED_AT.to_db_value(at, SurveyAnswer)


# --- survey results --------------------------------------------------------------------


@dataclass(frozen=True)
class ResultsScope:
    """Which answers results count: one survey, one organization or all, a time range."""

    survey_id: str
    organization_pk: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def where(self, table: str = "") -> tuple[str, list[Any]]:
        prefix = f"{table}." if table else ""
        clauses, values = [f"{prefix}survey_id = $1"], [self.survey_id]
        if self.organization_pk is not None:
            values.append(self.organization_pk)
            clauses.append(f"{prefix}organization_id = ${len(values)}")
        if self.since is not None:
            values.append(_answer_at(self.since))
            clauses.append(f"{prefix}created_at >= ${len(values)}")
        if self.until is not None:
            values.append(_answer_at(self.until))
            clauses.append(f"{prefix}created_at < ${len(values)}")
        return " AND ".join(clauses), values


@dataclass(frozen=True)
class NumberStats:
    """One question's numeric answers: count, average, and the NPS groups and score."""

    question_id: str
    question_type: str
    answers: int
    average: float
    promoters: int
    passives: int
    detractors: int
    nps: float


@dataclass(frozen=True)
class Tally:
    """How many answers gave one number (CSAT) or chose one option."""

    question_id: str
    number: int | None
    choice: str | None
    count: int


@dataclass(frozen=True)
class TextAnswer:
    question_id: str
    text: str
    answered_at: dt.datetime


@dataclass(frozen=True)
class Results:
    responses: int
    numbers: list[NumberStats]
    overall: list[NumberStats]  # per question type (`nps`, `csat`), every question together
    tallies: list[Tally]
    texts: list[TextAnswer]


_NUMBER_STATS = (
    "COUNT(*),"
    " CAST(AVG(number) AS DOUBLE PRECISION),"
    " SUM(CASE WHEN number >= 9 THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN number BETWEEN 7 AND 8 THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN number <= 6 THEN 1 ELSE 0 END),"
    " CAST(100.0 * (SUM(CASE WHEN number >= 9 THEN 1 ELSE 0 END)"
    " - SUM(CASE WHEN number <= 6 THEN 1 ELSE 0 END)) / COUNT(*) AS DOUBLE PRECISION)"
)


async def survey_results(scope: ResultsScope, latest_texts: int) -> Results:
    """Responses, per-question and overall NPS/CSAT figures, CSAT and choice tallies, and
    each text question's latest answers: every figure is computed by the database."""
    where, values = scope.where()
    responses = await _fetch(
        f"SELECT COUNT(*) FROM survey_response WHERE {where}",  # noqa: S608 - built from constants
        values,
    )
    numbers = await _fetch(
        f"SELECT question_id, question_type, {_NUMBER_STATS} FROM survey_answer"  # noqa: S608
        f" WHERE {where} AND number IS NOT NULL GROUP BY question_id, question_type"
        " ORDER BY question_id",
        values,
    )
    overall = await _fetch(
        f"SELECT '', question_type, {_NUMBER_STATS} FROM survey_answer"  # noqa: S608
        f" WHERE {where} AND number IS NOT NULL GROUP BY question_type ORDER BY question_type",
        values,
    )
    tallies = await _fetch(
        "SELECT question_id, number, choice, COUNT(*) FROM survey_answer"  # noqa: S608
        f" WHERE {where} AND question_type IN ('csat', 'choice')"
        " GROUP BY question_id, number, choice ORDER BY question_id, number, choice",
        values,
    )
    texts = await _fetch(
        "SELECT question_id, text, created_at FROM (SELECT question_id, text, created_at,"  # noqa: S608
        " ROW_NUMBER() OVER (PARTITION BY question_id ORDER BY created_at DESC, id DESC) AS n"
        f" FROM survey_answer WHERE {where} AND text IS NOT NULL) latest"
        f" WHERE n <= {int(latest_texts)} ORDER BY question_id, created_at DESC",
        values,
    )
    return Results(
        responses=int(responses[0][0]),
        numbers=[_number_stats(row) for row in numbers],
        overall=[_number_stats(row) for row in overall],
        tallies=[Tally(q, n, c, int(count)) for q, n, c, count in tallies],
        texts=[TextAnswer(q, t, _ANSWERED_AT.to_python_value(at)) for q, t, at in texts],
    )


@dataclass(frozen=True)
class OrganizationFigures:
    """One organization's responses and its NPS and CSAT figures (`question_id` empty)."""

    organization_id: str
    responses: int
    overall: list[NumberStats]


async def results_by_organization(scope: ResultsScope) -> list[OrganizationFigures]:
    """The same figures per organization, in two grouped statements, by organization id."""
    where, values = scope.where("r")
    counts = await _fetch(
        "SELECT o.external_id, COUNT(*) FROM survey_response r"  # noqa: S608 - from constants
        f" JOIN organization o ON o.id = r.organization_id WHERE {where}"
        " GROUP BY o.external_id",
        values,
    )
    where, values = scope.where("a")
    numbers = await _fetch(
        f"SELECT o.external_id, a.question_type, {_NUMBER_STATS} FROM survey_answer a"  # noqa: S608
        f" JOIN organization o ON o.id = a.organization_id WHERE {where}"
        " AND a.number IS NOT NULL GROUP BY o.external_id, a.question_type",
        values,
    )
    overall: dict[str, list[NumberStats]] = {}
    for external_id, *row in numbers:
        overall.setdefault(external_id, []).append(_number_stats(("", *row)))
    return [
        OrganizationFigures(external_id, int(count), overall.get(external_id, []))
        for external_id, count in sorted((row[0], row[1]) for row in counts)
    ]


def _number_stats(row: Sequence[Any]) -> NumberStats:
    question_id, question_type, count, average, promoters, passives, detractors, nps = row
    return NumberStats(
        question_id,
        question_type,
        int(count),
        float(average),
        int(promoters),
        int(passives),
        int(detractors),
        float(nps),
    )


async def export_answers(scope: ResultsScope) -> list[Sequence[Any]]:
    """Every answer in scope, oldest first, with who gave it: the CSV export's rows."""
    where, values = scope.where("a")
    rows = await _fetch(
        "SELECT o.external_id, m.external_id, a.survey_id, r.survey_revision, r.locale,"  # noqa: S608
        " a.response_id, a.question_id, a.question_type, a.number, a.choice, a.text,"
        " a.created_at FROM survey_answer a"
        " JOIN survey_response r ON r.public_id = a.response_id"
        " JOIN organization o ON o.id = a.organization_id"
        " JOIN member m ON m.id = r.member_id"
        f" WHERE {where} ORDER BY a.created_at, a.id",
        values,
    )
    return [(*row[:-1], _ANSWERED_AT.to_python_value(row[-1])) for row in rows]
