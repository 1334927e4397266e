"""Insight facts in the database: every figure is counted, dated and grouped by SQL (the same
statements on SQLite and Postgres), for one organization or for all of them at once.

`organization_pk` None means every organization (the admin key's portfolio and the insight
job); otherwise one tenant, and every statement is filtered by it. `until` is the clock's
now: facts after it are not seen, so a moved clock sees the past as it was.

Each fact is a `Read`: its statements and how their rows make the answer. One organization's
reads (a dashboard) go to Postgres as one statement (`read_all`); every organization's run
side by side on the pool; SQLite runs them one by one. The rows are the same either way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from tortoise.backends.base.client import TransactionalDBClient

from api.db.models import Event, InsightMark, Member, MilestoneTarget
from api.progress.store import (
    FLOW_ROW,
    ORG_KEY,
    Write,
    _connection,
    _dialect_sql,
    _fetch,
    shifted,
)
from api.progress.unit import EVENT_VERSION

T = TypeVar("T")
U = TypeVar("U")
Rows = list[Sequence[Any]]

_TIME = Event._meta.fields_map["created_at"]
_TARGET_AT = MilestoneTarget._meta.fields_map["target_at"]
_ROLES = Member._meta.fields_map["roles"]
_ATTRIBUTES = Member._meta.fields_map["attributes"]
_PROPERTIES = Event._meta.fields_map["properties"]


def db_time(value: dt.datetime) -> Any:
    return _TIME.to_db_value(value, Event)


def py_time(value: Any) -> dt.datetime | None:
    """A stored time as an aware datetime (asyncpg gives datetimes; SQLite, and Postgres
    inside JSON, ISO text)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value
    return None if value is None else _TIME.to_python_value(value)


def is_postgres() -> bool:
    return bool(_connection().capabilities.dialect == "postgres")


def pooled() -> bool:
    """Whether statements may run at once: Postgres, outside a transaction (a transaction
    has one connection, and SQLite has one for everything)."""
    return is_postgres() and not isinstance(_connection(), TransactionalDBClient)


def _seconds(start: str, end: str) -> str:
    """SQL for the seconds from `start` to `end` (two datetime columns)."""
    if is_postgres():
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


async def _returning(sql: str, values: list[Any], connection: Any = None) -> list[tuple[Any, ...]]:
    """An INSERT's RETURNING rows (Tortoise's asyncpg `execute_query` drops them)."""
    connection = _connection(connection)
    rows = await connection.execute_query_dict(_dialect_sql(connection, sql), values)
    return [tuple(row.values()) for row in rows]


# Which organizations a statement reads: one (its key), a slice of keys (the insight job
# works through them a slice at a time), or every one (None).
Scope = int | range | None


def _scope(column: str, organization_pk: Scope, values: list[Any]) -> str:
    """` AND <column> = $n` for one organization, `BETWEEN` for a slice (the values appended),
    or nothing for all."""
    if organization_pk is None:
        return ""
    if isinstance(organization_pk, range):
        values += [organization_pk.start, organization_pk.stop - 1]
        return f" AND {column} BETWEEN ${len(values) - 1} AND ${len(values)}"
    values.append(organization_pk)
    return f" AND {column} = ${len(values)}"


def _placeholders(items: Sequence[Any], values: list[Any]) -> str:
    start = len(values)
    values.extend(items)
    return ", ".join(f"${start + n + 1}" for n in range(len(items)))


# --- reads: statements and what their rows mean ------------------------------------------


@dataclass(frozen=True)
class Select:
    """One SELECT with `$1`-based placeholders of its own, and how many columns it gives."""

    sql: str
    values: list[Any]
    columns: int


@dataclass(frozen=True)
class Read(Generic[T]):
    """A fact: its SELECTs, and how their rows (one list per SELECT) make it."""

    selects: tuple[Select, ...]
    answer: Callable[[list[Rows]], T]

    async def run(self) -> T:
        """Its statements one by one."""
        return self.answer([await _fetch(s.sql, s.values) for s in self.selects])

    def then(self, shape: Callable[[T], U]) -> Read[U]:
        """The same statements, the answer reshaped."""
        answer = self.answer
        return Read(self.selects, lambda rows: shape(answer(rows)))


def known(value: T) -> Read[T]:
    """A fact that needs no statement."""
    return Read((), lambda _: value)


def _one(select: Select, answer: Callable[[Rows], T]) -> Read[T]:
    return Read((select,), lambda rows: answer(rows[0]))


def _together(selects: Sequence[Select]) -> tuple[str, list[Any]]:
    """Postgres: the SELECTs as one UNION ALL statement, each row a JSON array tagged with
    the number of its SELECT (JSON makes every branch the same two columns)."""
    branches, values = [], []
    for n, select in enumerate(selects):
        names = ", ".join(f"c{i}" for i in range(select.columns))
        branches.append(
            f"SELECT {n}, CAST(json_build_array({names}) AS TEXT)"  # noqa: S608 - placeholders
            f" FROM ({shifted(select.sql, len(values))}) AS s{n}({names})"
        )
        values.extend(select.values)
    return " UNION ALL ".join(branches), values


async def read_all(reads: Sequence[Read[Any]], organization_pk: Scope) -> list[Any]:
    """The reads' answers. One organization's, on Postgres, from one statement (a dashboard
    is many index probes on one organization: one round trip, one connection); every
    organization's at once on the pool, outside a transaction; else one by one."""
    if isinstance(organization_pk, int) and is_postgres():
        selects = [select for read in reads for select in read.selects]
        found: list[Rows] = [[] for _ in selects]
        if selects:
            for n, row in await _fetch(*_together(selects)):
                found[n].append(orjson.loads(row))
        out, start = [], 0
        for read in reads:
            out.append(read.answer(found[start : start + len(read.selects)]))
            start += len(read.selects)
        return out
    if organization_pk is None and pooled():
        return list(await asyncio.gather(*(read.run() for read in reads)))
    return [await read.run() for read in reads]


# --- organizations ---------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationRow:
    pk: int
    id: str
    name: str | None
    started: dt.datetime


def organizations(
    organization_pk: Scope, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> Read[list[OrganizationRow]]:
    """Organizations (one, or all started in [since, until)), by id."""
    values: list[Any] = []
    where = "1 = 1" + _scope("id", organization_pk, values)
    if since is not None:
        values.append(db_time(since))
        where += f" AND created_at >= ${len(values)}"
    if until is not None:
        values.append(db_time(until))
        where += f" AND created_at < ${len(values)}"
    select = Select(
        f"SELECT id, external_id, name, created_at FROM organization WHERE {where}"  # noqa: S608
        " ORDER BY external_id",
        values,
        4,
    )
    return _one(
        select,
        lambda rows: [OrganizationRow(pk, ext, name, py_time(at)) for pk, ext, name, at in rows],  # type: ignore[arg-type]
    )


# --- milestone criteria: when each organization met one, and how much of it -------------


@dataclass(frozen=True)
class Reach:
    """When an organization first met a criterion (None: not yet), and how far it is (0-1)."""

    at: dt.datetime | None
    met: float


def reach_by_steps(
    organization_pk: Scope,
    flow_id: str,
    org_steps: Sequence[str],
    member_steps: Sequence[str],
    until: dt.datetime,
    flow_record: bool,
) -> Read[dict[int, Reach]]:
    """Steps of a flow done: organization steps by anyone, member steps all by one member
    (the first member to finish them). With `flow_record`, a recorded completion of the flow
    counts too (a completed flow stays completed)."""
    total = len(org_steps) + len(member_steps)
    selects = []
    if org_steps:
        values: list[Any] = [flow_id, ORG_KEY, db_time(until)]
        steps = _placeholders(org_steps, values)
        scope = _scope("organization_id", organization_pk, values)
        selects.append(
            Select(
                "SELECT organization_id, COUNT(*), MAX(at) FROM step_state"  # noqa: S608 - placeholders
                " WHERE flow_id = $1 AND member_key = $2 AND state = 'done' AND at <= $3"
                f" AND step_id IN ({steps}){scope} GROUP BY organization_id",
                values,
                3,
            )
        )
    if member_steps:
        values = [flow_id, ORG_KEY, db_time(until)]
        steps = _placeholders(member_steps, values)
        scope = _scope("organization_id", organization_pk, values)
        values.append(len(member_steps))
        selects.append(
            Select(
                "SELECT organization_id, MAX(n), MIN(CASE WHEN n = $"  # noqa: S608 - placeholders
                f"{len(values)} THEN last END) FROM (SELECT organization_id, member_key,"
                " COUNT(*) AS n, MAX(at) AS last FROM step_state"
                " WHERE flow_id = $1 AND member_key <> $2 AND state = 'done' AND at <= $3"
                f" AND step_id IN ({steps}){scope} GROUP BY organization_id, member_key)"
                " per_member GROUP BY organization_id",
                values,
                3,
            )
        )
    if flow_record:
        values = [flow_id, FLOW_ROW, db_time(until)]
        scope = _scope("organization_id", organization_pk, values)
        selects.append(
            Select(
                "SELECT organization_id, MIN(at) FROM step_state WHERE flow_id = $1"  # noqa: S608
                f" AND step_id = $2 AND state = 'completed' AND at <= $3{scope}"
                " GROUP BY organization_id",
                values,
                2,
            )
        )

    def answer(found: list[Rows]) -> dict[int, Reach]:
        parts = iter(found)
        org_done = {pk: (int(n), py_time(at)) for pk, n, at in next(parts)} if org_steps else {}
        member_done = (
            {pk: (int(n), py_time(at)) for pk, n, at in next(parts)} if member_steps else {}
        )
        out: dict[int, Reach] = {}
        for pk in set(org_done) | set(member_done):
            org_n, org_at = org_done.get(pk, (0, None))
            member_n, member_at = member_done.get(pk, (0, None))
            done = org_n == len(org_steps) and (not member_steps or member_at is not None)
            times = [t for t in (org_at, member_at) if t is not None]
            out[pk] = Reach(max(times) if done and times else None, (org_n + member_n) / total)
        for pk, at in next(parts) if flow_record else ():
            reached = out.get(pk)
            completed = py_time(at)
            assert completed is not None
            if reached is None or reached.at is None or completed < reached.at:
                out[pk] = Reach(completed, 1.0)
        return out

    return Read(tuple(selects), answer)


def reach_by_event(
    organization_pk: Scope,
    name: str,
    times: int,
    within_days: int | None,
    until: dt.datetime,
) -> Read[dict[int, Reach]]:
    """An app event seen `times` times (within `within_days` days of each other, when given):
    reached at the event that made the count; met = the count (in the last `within_days`
    days) over `times`."""
    values: list[Any] = [name, db_time(until)]
    scope = _scope("organization_id", organization_pk, values)
    lag = int(times) - 1
    if within_days is None:
        reached = f"MIN(CASE WHEN n = {int(times)} THEN created_at END)"
        counted = "COUNT(*)"
    else:
        values.append(db_time(until - dt.timedelta(days=within_days)))
        window = float(within_days) * 86400
        reached = (
            "MIN(CASE WHEN first IS NOT NULL AND "
            f"{_seconds('first', 'created_at')} <= {window} THEN created_at END)"
        )
        counted = f"SUM(CASE WHEN created_at >= ${len(values)} THEN 1 ELSE 0 END)"
    first = f"LAG(created_at, {lag}) OVER w" if lag else "created_at"
    select = Select(
        f"SELECT organization_id, {counted}, {reached} FROM (SELECT organization_id,"  # noqa: S608
        f" created_at, ROW_NUMBER() OVER w AS n, {first} AS first FROM event"
        f" WHERE name = $1 AND kind = 'app' AND created_at <= $2{scope}"
        " WINDOW w AS (PARTITION BY organization_id ORDER BY created_at, id)) seen"
        " GROUP BY organization_id",
        values,
        3,
    )
    return _one(
        select,
        lambda rows: {pk: Reach(py_time(at), min(1.0, int(n or 0) / times)) for pk, n, at in rows},
    )


def reach_by_members(
    organization_pk: Scope, count: int, until: dt.datetime
) -> Read[dict[int, Reach]]:
    """`count` members active (seen with a token): reached when the count-th one joined."""
    values: list[Any] = [db_time(until)]
    scope = _scope("organization_id", organization_pk, values)
    select = Select(
        "SELECT organization_id, COUNT(*),"  # noqa: S608 - placeholders
        f" MIN(CASE WHEN n = {int(count)} THEN created_at END) FROM (SELECT organization_id,"
        " created_at, ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY created_at, id)"
        f" AS n FROM member WHERE created_at <= $1{scope}) joined GROUP BY organization_id",
        values,
        3,
    )
    return _one(
        select,
        lambda rows: {pk: Reach(py_time(at), min(1.0, int(n) / count)) for pk, n, at in rows},
    )


# --- moved targets ---------------------------------------------------------------------


@dataclass(frozen=True)
class TargetMove:
    milestone_id: str
    target_at: dt.datetime
    previous_target_at: dt.datetime
    moved_by: str  # a member id, or "@admin" for the admin key
    reason: str
    at: dt.datetime


def moved_targets(organization_pk: Scope) -> Read[dict[tuple[int, str], TargetMove]]:
    """The latest move of each milestone's target, per organization."""
    values: list[Any] = []
    scope = _scope("t.organization_id", organization_pk, values)
    select = Select(
        "SELECT t.organization_id, t.milestone_id, t.target_at, t.previous_target_at,"  # noqa: S608
        " t.moved_by, t.reason, t.created_at FROM milestone_target t"
        " WHERE t.id = (SELECT MAX(l.id) FROM milestone_target l WHERE"
        f" l.organization_id = t.organization_id AND l.milestone_id = t.milestone_id){scope}",
        values,
        7,
    )
    return _one(
        select,
        lambda rows: {
            (pk, mid): TargetMove(mid, py_time(to), py_time(prev), by, reason, py_time(at))  # type: ignore[arg-type]
            for pk, mid, to, prev, by, reason, at in rows
        },
    )


def insert_target_move(organization_pk: int, move: TargetMove) -> Write:
    return Write(
        "INSERT INTO milestone_target (organization_id, milestone_id, target_at,"
        " previous_target_at, moved_by, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        (
            organization_pk,
            move.milestone_id,
            _TARGET_AT.to_db_value(move.target_at, MilestoneTarget),
            _TARGET_AT.to_db_value(move.previous_target_at, MilestoneTarget),
            move.moved_by,
            move.reason,
            _TARGET_AT.to_db_value(move.at, MilestoneTarget),
        ),
    )


# --- activity, help, NPS, KPIs, features ------------------------------------------------


def event_counts(
    organization_pks: Sequence[int], names: Sequence[str], until: dt.datetime
) -> Read[dict[tuple[int, str], int]]:
    """How many times each organization's apps sent each of these events."""
    if not names or not organization_pks:
        return known({})
    values: list[Any] = [db_time(until)]
    listed = _placeholders(names, values)
    orgs = _placeholders(organization_pks, values)
    select = Select(
        "SELECT organization_id, name, COUNT(*) FROM event WHERE created_at <= $1"  # noqa: S608
        f" AND kind = 'app' AND name IN ({listed}) AND organization_id IN ({orgs})"
        " GROUP BY organization_id, name",
        values,
        3,
    )
    return _one(select, lambda rows: {(pk, name): int(n) for pk, name, n in rows})


def last_activity(organization_pk: Scope, until: dt.datetime) -> Read[dict[int, dt.datetime]]:
    """Each organization's latest event by a member: one index probe per organization."""
    values: list[Any] = [db_time(until)]
    scope = _scope("o.id", organization_pk, values)
    select = Select(
        "SELECT o.id, (SELECT MAX(e.created_at) FROM event e WHERE e.organization_id = o.id"  # noqa: S608
        f" AND e.created_at <= $1) FROM organization o WHERE 1 = 1{scope}",
        values,
        2,
    )
    return _one(
        select, lambda rows: {pk: at for pk, raw in rows if (at := py_time(raw)) is not None}
    )


@dataclass(frozen=True)
class OpenHelp:
    count: int
    oldest: dt.datetime


def open_help(organization_pk: Scope, until: dt.datetime) -> Read[dict[int, OpenHelp]]:
    values: list[Any] = [db_time(until)]
    scope = _scope("organization_id", organization_pk, values)
    select = Select(
        "SELECT organization_id, COUNT(*), MIN(created_at) FROM help_request"  # noqa: S608
        f" WHERE status = 'open' AND created_at <= $1{scope} GROUP BY organization_id",
        values,
        3,
    )
    return _one(
        select,
        lambda rows: {pk: OpenHelp(int(n), py_time(at)) for pk, n, at in rows},  # type: ignore[arg-type]
    )


def nps(organization_pk: Scope, until: dt.datetime) -> Read[dict[int, tuple[float, int]]]:
    """Each organization's NPS over every NPS answer (score, answers)."""
    values: list[Any] = [db_time(until)]
    scope = _scope("organization_id", organization_pk, values)
    select = Select(
        "SELECT organization_id, COUNT(*), CAST(100.0 * (SUM(CASE WHEN number >= 9"  # noqa: S608
        " THEN 1 ELSE 0 END) - SUM(CASE WHEN number <= 6 THEN 1 ELSE 0 END)) / COUNT(*)"
        " AS DOUBLE PRECISION) FROM survey_answer WHERE question_type = 'nps'"
        f" AND number IS NOT NULL AND created_at <= $1{scope} GROUP BY organization_id",
        values,
        3,
    )
    return _one(select, lambda rows: {pk: (float(score), int(n)) for pk, n, score in rows})


def features_used(
    organization_pk: Scope, prefixes: Sequence[str], until: dt.datetime
) -> Read[dict[int, set[str]]]:
    """Which feature prefixes each organization's apps sent an event of. A prefix is matched
    as a range of names (`name >= 'watchlist.' AND name < 'watchlist/'`) so the name index
    serves it."""
    if not prefixes:
        return known({})
    values: list[Any] = [db_time(until)]
    scope = _scope("organization_id", organization_pk, values)
    parts = []
    for n, prefix in enumerate(prefixes):
        values += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        low, high = len(values) - 1, len(values)
        parts.append(
            f"SELECT DISTINCT {n}, organization_id FROM event WHERE name >= ${low}"  # noqa: S608
            f" AND name < ${high} AND kind = 'app' AND created_at <= $1{scope}"
        )

    def answer(rows: Rows) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        for n, pk in rows:
            out.setdefault(pk, set()).add(prefixes[int(n)])
        return out

    return _one(Select(" UNION ALL ".join(parts), values, 2), answer)


def members_done_everyone(
    organization_pk: Scope, flow_ids: Sequence[str], until: dt.datetime
) -> Read[dict[int, tuple[int, int]]]:
    """Per organization: (members, members who completed every one of these flows), when the
    flows are everyone's path: one grouped statement."""
    values: list[Any] = [db_time(until)]
    listed = _placeholders(flow_ids, values) if flow_ids else "''"
    values += [FLOW_ROW, len(flow_ids)]
    row_key, wanted = len(values) - 1, len(values)
    scope = _scope("m.organization_id", organization_pk, values)
    select = Select(
        "SELECT m.organization_id, COUNT(*), SUM(CASE WHEN COALESCE(d.n, 0) >= $"  # noqa: S608
        f"{wanted} THEN 1 ELSE 0 END) FROM member m LEFT JOIN (SELECT organization_id,"
        " member_key, COUNT(DISTINCT flow_id) AS n FROM step_state"
        f" WHERE step_id = ${row_key} AND state = 'completed' AND at <= $1"
        f" AND flow_id IN ({listed}) GROUP BY organization_id, member_key) d"
        " ON d.organization_id = m.organization_id AND d.member_key = m.external_id"
        f" WHERE m.created_at <= $1{scope} GROUP BY m.organization_id",
        values,
        3,
    )
    return _one(select, lambda rows: {pk: (int(n), int(done or 0)) for pk, n, done in rows})


@dataclass(frozen=True)
class MemberPathRow:
    organization_pk: int
    id: str
    roles: tuple[str, ...]
    attributes: dict[str, Any]
    completed: frozenset[str]  # the member's own completed flows


def member_paths(organization_pk: Scope, until: dt.datetime) -> Read[list[MemberPathRow]]:
    """Every member with their roles, attributes and completed member flows: two statements."""
    values: list[Any] = [db_time(until)]
    scope = _scope("organization_id", organization_pk, values)
    members = Select(
        "SELECT organization_id, external_id, roles, attributes FROM member"  # noqa: S608
        f" WHERE created_at <= $1{scope} ORDER BY organization_id, external_id",
        values,
        4,
    )
    values = [FLOW_ROW, ORG_KEY, db_time(until)]
    scope = _scope("organization_id", organization_pk, values)
    records = Select(
        "SELECT organization_id, member_key, flow_id FROM step_state WHERE step_id = $1"  # noqa: S608
        f" AND member_key <> $2 AND state = 'completed' AND at <= $3{scope}",
        values,
        3,
    )

    def answer(found: list[Rows]) -> list[MemberPathRow]:
        member_rows, record_rows = found
        completed: dict[tuple[int, str], set[str]] = {}
        for pk, member_key, flow_id in record_rows:
            completed.setdefault((pk, member_key), set()).add(flow_id)
        return [
            MemberPathRow(
                pk,
                ext,
                tuple(_ROLES.to_python_value(roles) or ()),
                dict(_ATTRIBUTES.to_python_value(attributes) or {}),
                frozenset(completed.get((pk, ext), ())),
            )
            for pk, ext, roles, attributes in member_rows
        ]

    return Read((members, records), answer)


# --- funnels ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StepReach:
    step_id: str
    reached: int
    hours_from_previous: list[float]


def funnels(
    organization_pk: Scope,
    flow_id: str,
    steps: Sequence[tuple[str, bool]],
    since: dt.datetime | None,
    until: dt.datetime,
) -> Read[dict[int, list[StepReach]]]:
    """Per organization, for each step (id, organization scope) in order: how many members
    (or 1 for the organization) did it, and the hours each took from the previous step (same
    member, or from the organization's mark when the previous step is an organization step).
    Two statements, for one organization or all."""
    values: list[Any] = [flow_id, db_time(until)]
    if since is not None:
        values.append(db_time(since))
    organization_at = len(values) + 1
    scope = _scope("organization_id", organization_pk, values)

    def marks(table: str) -> str:
        """The marks counted: the flow's, done, in the window, of the organization(s)."""
        where = f" {table}.flow_id = $1 AND {table}.state = 'done' AND {table}.at <= $2"
        if since is not None:
            where += f" AND {table}.at >= $3"
        if scope:
            where += f" AND {table}.organization_id = ${organization_at}"
        return where

    selects = [
        Select(
            "SELECT organization_id, step_id, COUNT(DISTINCT member_key) FROM step_state s"  # noqa: S608
            f" WHERE{marks('s')} GROUP BY organization_id, step_id",
            values,
            3,
        )
    ]
    pairs, gap_values = [], list(values)
    for (prev, prev_org), (cur, _) in itertools.pairwise(steps):
        gap_values += [prev, cur, int(prev_org)]
        n = len(gap_values)
        pairs.append(
            f"SELECT CAST(${n - 2} AS VARCHAR(128)) AS prev, CAST(${n - 1} AS VARCHAR(128))"
            f" AS cur, CAST(${n} AS INTEGER) AS prev_org"
        )
    if pairs:
        selects.append(
            Select(
                f"SELECT c.organization_id, c.step_id, {_seconds('p.at', 'c.at')}"  # noqa: S608
                f" FROM ({' UNION ALL '.join(pairs)}) pair JOIN step_state c"
                " ON c.step_id = pair.cur JOIN step_state p ON p.step_id = pair.prev"
                " AND p.organization_id = c.organization_id AND p.flow_id = c.flow_id"
                " AND (p.member_key = c.member_key OR (pair.prev_org = 1 AND p.member_key = ''))"
                f" WHERE{marks('c')} AND p.state = 'done'",
                gap_values,
                3,
            )
        )

    def answer(found: list[Rows]) -> dict[int, list[StepReach]]:
        counts, *gap_rows = found
        reached = {(pk, step_id): int(n) for pk, step_id, n in counts}
        gaps: dict[tuple[int, str], list[float]] = {}
        for pk, step_id, seconds in gap_rows[0] if gap_rows else ():
            if seconds is not None and float(seconds) >= 0:
                gaps.setdefault((pk, step_id), []).append(float(seconds) / 3600)
        organizations = {pk for pk, _ in reached}
        if isinstance(organization_pk, int):
            organizations.add(organization_pk)
        return {
            pk: [
                StepReach(step, reached.get((pk, step), 0), sorted(gaps.get((pk, step), [])))
                for step, _ in steps
            ]
            for pk in organizations
        }

    return Read(tuple(selects), answer)


def member_counts(organization_pk: Scope, until: dt.datetime) -> Read[dict[int, int]]:
    values: list[Any] = [db_time(until)]
    scope = _scope("organization_id", organization_pk, values)
    select = Select(
        "SELECT organization_id, COUNT(*) FROM member"  # noqa: S608 - placeholders
        f" WHERE created_at <= $1{scope} GROUP BY organization_id",
        values,
        2,
    )
    return _one(select, lambda rows: {pk: int(n) for pk, n in rows})


# --- the insight job's records ----------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """A catalogue event to record once per (organization, kind, subject, period)."""

    organization_pk: int
    kind: str  # the event type, e.g. `nudge.member_stalled`
    subject: str
    period: str
    member_pk: int | None
    data: dict[str, Any]


_MARK_AT = InsightMark._meta.fields_map["created_at"]
BATCH = 2000  # rows per INSERT (Postgres takes at most 32767 parameters)


async def record_signals(
    signals: Sequence[Signal], at: dt.datetime, version: int = EVENT_VERSION
) -> int:
    """Record the signals not recorded before, with their events, in one transaction per
    batch: the unique key on `insight_mark` keeps out what an earlier run (or another worker)
    recorded, and only the new marks get an event. Returns how many were new."""
    from tortoise.transactions import in_transaction

    periods = sorted({s.period for s in signals})
    known = await recorded(periods) if periods else set()
    signals = [s for s in signals if (s.organization_pk, s.kind, s.subject, s.period) not in known]
    new = 0
    stamp = _MARK_AT.to_db_value(at, InsightMark)
    for start in range(0, len(signals), BATCH):
        batch = signals[start : start + BATCH]
        async with in_transaction() as connection:
            values: list[Any] = []
            rows = []
            for s in batch:
                values += [s.organization_pk, s.kind, s.subject, s.period, stamp]
                n = len(values)
                rows.append(f"(${n - 4}, ${n - 3}, ${n - 2}, ${n - 1}, ${n})")
            inserted = await _returning(
                "INSERT INTO insight_mark (organization_id, kind, subject, period, created_at)"  # noqa: S608
                f" VALUES {', '.join(rows)} ON CONFLICT (organization_id, kind, subject, period)"
                " DO NOTHING RETURNING organization_id, kind, subject, period",
                values,
                connection,
            )
            fresh = {tuple(row) for row in inserted}
            chosen = [s for s in batch if (s.organization_pk, s.kind, s.subject, s.period) in fresh]
            if not chosen:
                continue
            values, rows = [], []
            for s in chosen:
                data = {"version": version, "actorId": None, **s.data}
                values += [
                    s.organization_pk,
                    s.member_pk,
                    s.kind.split(".", 1)[0],
                    s.kind,
                    _PROPERTIES.to_db_value(data, Event),
                    stamp,
                ]
                n = len(values)
                rows.append(f"(${n - 5}, ${n - 4}, ${n - 3}, ${n - 2}, ${n - 1}, ${n})")
            await _returning(
                "INSERT INTO event (organization_id, member_id, kind, name, properties,"  # noqa: S608
                f" created_at) VALUES {', '.join(rows)} RETURNING id",
                values,
                connection,
            )
            new += len(chosen)
    return new


async def recorded(periods: Sequence[str]) -> set[tuple[int, str, str, str]]:
    """What is already recorded for these periods (one read, so a second run of the job in a
    period writes nothing at all)."""
    values: list[Any] = []
    listed = _placeholders(periods, values)
    rows = await _fetch(
        "SELECT organization_id, kind, subject, period FROM insight_mark"  # noqa: S608
        f" WHERE period IN ({listed})",
        values,
    )
    return {(pk, kind, subject, period) for pk, kind, subject, period in rows}


async def last_organization_pk() -> int:
    rows = await _fetch("SELECT COALESCE(MAX(id), 0) FROM organization", [])
    return int(rows[0][0])


async def try_job_lock(key: int) -> bool:
    """Postgres: take the job's advisory lock for the current transaction, if free."""
    rows = await _fetch("SELECT pg_try_advisory_xact_lock($1)", [key])
    return bool(rows[0][0])


@dataclass(frozen=True)
class UnansweredHelp:
    organization_pk: int
    request_id: str
    flow_id: str
    step_id: str
    inviter_id: str
    invitee_id: str | None
    email: str | None
    created_at: dt.datetime


async def unanswered_help(sent_before: dt.datetime) -> list[UnansweredHelp]:
    """Help requests still open that were sent before the cutoff, in every organization."""
    rows = await _fetch(
        "SELECT h.organization_id, h.public_id, h.flow_id, h.step_id, i.external_id,"
        " v.external_id, h.invitee_email, h.created_at FROM help_request h"
        " JOIN member i ON i.id = h.inviter_id LEFT JOIN member v ON v.id = h.invitee_id"
        " WHERE h.status = 'open' AND h.created_at <= $1 ORDER BY h.id",
        [db_time(sent_before)],
    )
    return [
        UnansweredHelp(pk, rid, flow, step, inviter, invitee, email, py_time(at))  # type: ignore[arg-type]
        for pk, rid, flow, step, inviter, invitee, email, at in rows
    ]


@dataclass
class MemberFlowMarks:
    """One member's own marks on one member flow, with what the step engine needs."""

    organization_pk: int
    member_pk: int
    member_id: str
    flow_id: str
    roles: tuple[str, ...]
    attributes: dict[str, Any]
    marks: list[tuple[str, str, int, dt.datetime, int]]  # step, state, by, at, revision
    last_at: dt.datetime
    closed: bool = False  # completed or dismissed
    completed: frozenset[str] = frozenset()  # the member's completed flows


async def member_flow_marks(organization_pk: Scope = None) -> list[MemberFlowMarks]:
    """Members' own marks, grouped by member and flow, in one statement (the flows they
    completed or dismissed are left out)."""
    values: list[Any] = [ORG_KEY]
    scope = _scope("s.organization_id", organization_pk, values)
    rows = await _fetch(
        "SELECT s.organization_id, m.id, s.member_key, s.flow_id, s.step_id, s.state,"  # noqa: S608
        " s.by_member_id, s.at, s.flow_revision, m.roles, m.attributes FROM step_state s"
        " JOIN member m ON m.organization_id = s.organization_id"
        f" AND m.external_id = s.member_key WHERE s.member_key <> $1{scope}"
        " ORDER BY s.organization_id, s.member_key, s.flow_id, s.id",
        values,
    )
    found: dict[tuple[int, str, str], MemberFlowMarks] = {}
    completed: dict[tuple[int, str], set[str]] = {}
    for pk, member_pk, member, flow, step, state, by, raw_at, revision, roles, attrs in rows:
        at = py_time(raw_at)
        assert at is not None
        key = (pk, member, flow)
        entry = found.get(key)
        if entry is None:
            entry = found[key] = MemberFlowMarks(
                pk,
                member_pk,
                member,
                flow,
                tuple(_ROLES.to_python_value(roles) or ()),
                dict(_ATTRIBUTES.to_python_value(attrs) or {}),
                [],
                at,
            )
        if step == FLOW_ROW:
            entry.closed = True
            if state == "completed":
                completed.setdefault((pk, member), set()).add(flow)
            continue
        entry.marks.append((step, state, by, at, revision))
        entry.last_at = max(entry.last_at, at)
    out = []
    for (pk, member, _), entry in found.items():
        if entry.closed or not entry.marks:
            continue
        entry.completed = frozenset(completed.get((pk, member), ()))
        out.append(entry)
    return out


async def health_snapshots(period: str) -> dict[int, int]:
    rows = await _fetch(
        "SELECT organization_id, score FROM health_snapshot WHERE period = $1", [period]
    )
    return {pk: int(score) for pk, score in rows}


async def save_health_snapshots(period: str, scores: dict[int, int], at: dt.datetime) -> None:
    """This period's scores, kept once per organization (the first run of a period wins)."""
    stamp = _MARK_AT.to_db_value(at, InsightMark)
    items = list(scores.items())
    for start in range(0, len(items), BATCH):
        values: list[Any] = []
        rows = []
        for pk, score in items[start : start + BATCH]:
            values += [pk, period, score, stamp]
            n = len(values)
            rows.append(f"(${n - 3}, ${n - 2}, ${n - 1}, ${n})")
        await _returning(
            "INSERT INTO health_snapshot (organization_id, period, score, created_at)"  # noqa: S608
            f" VALUES {', '.join(rows)} ON CONFLICT (organization_id, period) DO NOTHING"
            " RETURNING id",
            values,
        )
