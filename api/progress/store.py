"""Onboarding state in the database: what the engine reads, and the writes that change it.

Reads are whole-organization batches (one statement for every mark and flow record of an
organization and viewer, one for its members) so a checklist costs a constant number of
statements. Writes are conditional updates, so fifty members completing one organization
step at once record it exactly once.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from api.content.model import Item
from api.db.models import Event, HelpRequest, IdempotentResult, Member, Organization, StepState
from api.progress.engine import FlowDef, FlowRecord, Mark, Scope, StepDef
from api.progress.engine import Member as EngineMember

ORG_KEY = ""
FLOW_ROW = ""

# Column conversions for the hand-written statements, as Tortoise does them on each database.
_AT = StepState._meta.fields_map["at"]
_ROLES = Member._meta.fields_map["roles"]
_PROPERTIES = Event._meta.fields_map["properties"]
_CREATED_AT = Event._meta.fields_map["created_at"]
_OUTCOME = IdempotentResult._meta.fields_map["outcome"]
_RESOLVED_AT = HelpRequest._meta.fields_map["resolved_at"]


def flow_definition(item: Item) -> FlowDef:
    """The engine's view of a flow, made once per item: every request evaluates every flow
    it shows. Keyed by the item itself (kept alive by the entry, so its id stays unique)."""
    found = _DEFINITIONS.get(id(item))
    if found is None or found[0] is not item:
        if len(_DEFINITIONS) >= _MAX_DEFINITIONS:
            _DEFINITIONS.clear()  # a worker that served many releases: start again
        found = _DEFINITIONS[id(item)] = (item, _definition(item))
    return found[1]


_DEFINITIONS: dict[int, tuple[Item, FlowDef]] = {}
_MAX_DEFINITIONS = 256


def _definition(item: Item) -> FlowDef:
    return FlowDef(
        id=item.id,
        revision=item.revision,
        steps=tuple(
            StepDef(
                id=step.id,
                scope=Scope(step.scope),
                roles=frozenset(step.roles),
                requires=tuple(step.requires),
                optional=step.optional,
                skippable=step.skippable,
                completes_on=step.completes_on,
            )
            for step in item.steps
        ),
    )


def is_organization_flow(flow: FlowDef) -> bool:
    """A flow made only of organization steps is completed once for the whole account."""
    return bool(flow.steps) and all(step.scope is Scope.ORGANIZATION for step in flow.steps)


def flow_record_key(flow: FlowDef, member_key: str) -> str:
    return ORG_KEY if is_organization_flow(flow) else member_key


@dataclass(frozen=True)
class MemberRow:
    pk: int
    id: str
    name: str | None
    email: str | None
    locale: str | None
    roles: tuple[str, ...]

    @functools.cached_property
    def engine(self) -> EngineMember:
        return EngineMember(id=self.id, roles=frozenset(self.roles))


@dataclass
class ViewerState:
    """Every mark, assignment and flow record of one organization visible to one viewer."""

    marks: dict[str, list[Mark]] = field(default_factory=dict)
    assignees: dict[tuple[str, str], int] = field(default_factory=dict)
    records: dict[tuple[str, str], FlowRecord] = field(default_factory=dict)
    done_by: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def record(self, flow: FlowDef, member_key: str) -> FlowRecord | None:
        return self.records.get((flow.id, flow_record_key(flow, member_key)))

    def add_mark(
        self,
        flow_id: str,
        member_key: str,
        step_id: str,
        mark_state: str,
        by_pk: int,
        at: dt.datetime,
        revision: int,
    ) -> None:
        """A stored mark: a member's own (`member_key`) or the organization's (`ORG_KEY`)."""
        mark = Mark(step_id, member_key or None, mark_state, str(by_pk), at, revision)  # type: ignore[arg-type]
        self.marks.setdefault(flow_id, []).append(mark)
        self.done_by[(flow_id, step_id, member_key)] = by_pk

    # A write applies itself here too, so the payload after it needs no second read.

    def put_mark(
        self,
        flow_id: str,
        member_key: str,
        step_id: str,
        mark_state: str,
        by_pk: int,
        at: dt.datetime,
        revision: int,
    ) -> None:
        self.drop_mark(flow_id, step_id, member_key)
        self.add_mark(flow_id, member_key, step_id, mark_state, by_pk, at, revision)

    def drop_mark(self, flow_id: str, step_id: str, member_key: str) -> None:
        owner = member_key or None
        self.marks[flow_id] = [
            m
            for m in self.marks.get(flow_id, ())
            if not (m.step_id == step_id and m.member_id == owner)
        ]
        self.done_by.pop((flow_id, step_id, member_key), None)

    def set_completed_at(self, flow_id: str, record_key: str, at: dt.datetime | None) -> None:
        record = self.records.get((flow_id, record_key), FlowRecord())
        self.records[(flow_id, record_key)] = FlowRecord(at, record.dismissed_at)


STATE_COLUMNS = (
    "member_key",
    "flow_id",
    "step_id",
    "state",
    "by_member_id",
    "flow_revision",
    "at",
    "assignee_id",
)


_AT_COLUMN = STATE_COLUMNS.index("at")
# Built from the constant column names above, never from input.
_STATE_SQL = f"SELECT {', '.join(STATE_COLUMNS)} FROM step_state WHERE organization_id = $1"  # noqa: S608


async def load_state_rows(
    organization_pk: int, member_key: str | None = None, connection: Any = None
) -> list[tuple[Any, ...]]:
    """The organization's rows for one viewer (their own and the organization's), or all."""
    if member_key is None:
        rows = await _fetch(_STATE_SQL, [organization_pk], connection)
    else:
        sql = _STATE_SQL + " AND member_key IN ('', $2)"
        rows = await _fetch(sql, [organization_pk, member_key], connection)
    return [_state_row(row) for row in rows]


def _state_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A step_state row as Tortoise would give it (SQLite hands back datetimes as text)."""
    return (*row[:_AT_COLUMN], _AT.to_python_value(row[_AT_COLUMN]), *row[_AT_COLUMN + 1 :])


async def _fetch(sql: str, values: list[Any], connection: Any = None) -> list[Sequence[Any]]:
    """Rows of a hand-written statement: the hottest reads skip Tortoise's query building."""
    connection = connection or StepState._meta.db
    _, rows = await connection.execute_query(_dialect_sql(connection, sql), values)
    return list(rows)


async def _execute(sql: str, values: list[Any], connection: Any = None) -> None:
    connection = connection or StepState._meta.db
    await connection.execute_query(_dialect_sql(connection, sql), values)


async def _insert(table: str, row: Mapping[str, Any], connection: Any) -> None:
    """One row; table and column names are this module's constants, never input."""
    columns = ", ".join(row)
    placeholders = ", ".join(f"${n}" for n in range(1, len(row) + 1))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
    await _execute(sql, list(row.values()), connection)


async def load_viewer_state(
    organization_pk: int, member_key: str, connection: Any = None
) -> ViewerState:
    return viewer_state(await load_state_rows(organization_pk, member_key, connection))


def viewer_state(rows: Iterable[tuple[Any, ...]]) -> ViewerState:
    state = ViewerState()
    for member_key, flow_id, step_id, mark, by_pk, revision, at, assignee in rows:
        if step_id == FLOW_ROW:
            record = state.records.get((flow_id, member_key), FlowRecord())
            state.records[(flow_id, member_key)] = (
                FlowRecord(at, record.dismissed_at)
                if mark == "completed"
                else FlowRecord(record.completed_at, at)
            )
            continue
        if assignee is not None:
            state.assignees[(flow_id, step_id)] = assignee
        if mark in ("done", "skipped"):
            state.add_mark(flow_id, member_key, step_id, mark, by_pk, at, revision)
    return state


def completed_flow_ids(state: ViewerState, flows: Iterable[Item], member_key: str) -> set[str]:
    """The flows this viewer (or their organization, for organization flows) completed."""
    done = set()
    for item in flows:
        record = state.record(flow_definition(item), member_key)
        if record is not None and record.completed_at is not None:
            done.add(item.id)
    return done


async def load_members(organization_pk: int) -> list[MemberRow]:
    rows = await _fetch(
        "SELECT id, external_id, name, email, locale, roles FROM member"
        " WHERE organization_id = $1 ORDER BY id",
        [organization_pk],
    )
    return [
        MemberRow(pk, ext, name, email, locale, tuple(_ROLES.to_python_value(roles) or ()))
        for pk, ext, name, email, locale, roles in rows
    ]


async def bump_state_version(organization_pk: int, connection: Any = None) -> None:
    """Mark the organization's state as changed: cached answers of older versions are dead.

    Inside a write transaction it comes first, because the row lock it takes serializes the
    organization's writers until commit, so each sees the others' committed rows (without
    it, two members finishing the last two steps at once each miss the other's step and
    neither records the flow's completion). Outside one, it comes after the writes it
    announces, so no reader can cache the old state under the new version.
    """
    await _execute(_BUMP_SQL, [organization_pk], connection)


def _dialect_sql(connection: Any, sql: str) -> str:
    """Hand-written statements use `$n` placeholders; SQLite spells them `?n`."""
    return sql if connection.capabilities.dialect == "postgres" else sql.replace("$", "?")


_VERSIONED_STATE_SQL = (
    f"SELECT o.state_version, {', '.join('s.' + column for column in STATE_COLUMNS)}"  # noqa: S608
    " FROM organization o LEFT JOIN step_state s ON s.organization_id = o.id"
    " AND s.member_key IN ('', $2) WHERE o.id = $1"
)
_BUMP_SQL = "UPDATE organization SET state_version = state_version + 1 WHERE id = $1"


async def load_versioned_viewer_state(
    organization_pk: int, member_key: str
) -> tuple[int, ViewerState]:
    """The organization's state version and the viewer's state, read in one statement.

    One snapshot for both, so the state is exactly the version's: an answer computed from it
    may be cached under that version. A request that finds its answer cached spends only
    this statement.
    """
    rows = await _fetch(_VERSIONED_STATE_SQL, [organization_pk, member_key])
    if not rows:
        raise LookupError(f"organization {organization_pk} does not exist")
    version = int(rows[0][0])
    return version, viewer_state(_state_row(row[1:]) for row in rows if row[1] is not None)


_SET_STEP_STATE_SQL = (
    "INSERT INTO step_state (organization_id, member_key, flow_id, step_id, state,"
    " by_member_id, flow_revision, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (organization_id, member_key, flow_id, step_id) DO UPDATE SET"
    " state = excluded.state, by_member_id = excluded.by_member_id,"
    " flow_revision = excluded.flow_revision, at = excluded.at"
    " WHERE step_state.state NOT IN ($9, $10) RETURNING id"
)


async def set_step_state(
    organization_pk: int,
    member_key: str,
    flow: FlowDef,
    step_id: str,
    state: str,
    by_pk: int,
    at: dt.datetime,
    connection: Any,
    *,
    unless: tuple[str, ...],
) -> bool:
    """Move a step to `state` unless it already is in one of `unless`; True if it moved.

    One conditional upsert: when two requests race, exactly one of them changes the row.
    """
    assert 1 <= len(unless) <= 2
    at_value = _AT.to_db_value(at, StepState)
    # execute_query_dict: Tortoise's asyncpg execute_query misreads an INSERT's row count.
    moved = await connection.execute_query_dict(
        _dialect_sql(connection, _SET_STEP_STATE_SQL),
        [
            organization_pk,
            member_key,
            flow.id,
            step_id,
            state,
            by_pk,
            flow.revision,
            at_value,
            unless[0],
            unless[-1],
        ],
    )
    return bool(moved)


async def clear_step_state(
    organization_pk: int, member_key: str, flow_id: str, step_id: str, connection: Any
) -> bool:
    """Reopen: drop the mark, keeping the row only to remember an assignee."""
    key = {
        "organization_id": organization_pk,
        "member_key": member_key,
        "flow_id": flow_id,
        "step_id": step_id,
    }
    kept = (
        await StepState.filter(**key, assignee_id__isnull=False)
        .using_db(connection)
        .update(state="assigned")
    )
    removed = await StepState.filter(**key, assignee_id__isnull=True).using_db(connection).delete()
    return bool(kept or removed)


async def mark_flow_completed(
    organization_pk: int,
    record_key: str,
    flow: FlowDef,
    by_pk: int,
    at: dt.datetime,
    connection: Any,
) -> None:
    """Remember completion, so a flow stays completed when steps are added later."""
    await set_step_state(
        organization_pk,
        record_key,
        flow,
        FLOW_ROW,
        "completed",
        by_pk,
        at,
        connection,
        unless=("completed",),
    )


async def assign_step(
    organization_pk: int,
    flow: FlowDef,
    step_id: str,
    assignee_pk: int,
    by_pk: int,
    connection: Any,
) -> None:
    key = {
        "organization_id": organization_pk,
        "member_key": ORG_KEY,
        "flow_id": flow.id,
        "step_id": step_id,
    }
    if await StepState.filter(**key).using_db(connection).update(assignee_id=assignee_pk):
        return
    await StepState.create(
        **key,
        state="assigned",
        by_member_id=by_pk,
        flow_revision=flow.revision,
        at=dt.datetime.now(dt.UTC),
        assignee_id=assignee_pk,
        using_db=connection,
    )


async def forget_flow_completion(
    organization_pk: int, record_key: str, flow_id: str, connection: Any
) -> None:
    """A reopened required step un-completes the flow: "stays completed" guards against
    content changes, not against the team undoing its own work."""
    await (
        StepState.filter(
            organization_id=organization_pk,
            member_key=record_key,
            flow_id=flow_id,
            step_id=FLOW_ROW,
            state="completed",
        )
        .using_db(connection)
        .delete()
    )


async def record_event(
    organization_pk: int,
    member_pk: int | None,
    kind: str,
    name: str,
    properties: Mapping[str, Any],
    connection: Any,
) -> None:
    row = {
        "organization_id": organization_pk,
        "member_id": member_pk,
        "kind": kind,
        "name": name,
        "properties": _PROPERTIES.to_db_value(dict(properties), Event),
        "created_at": _CREATED_AT.to_db_value(dt.datetime.now(dt.UTC), Event),
    }
    await _insert("event", row, connection)


async def resolve_help_requests(
    organization_pk: int,
    flow_id: str,
    step_id: str,
    by_pk: int,
    at: dt.datetime,
    connection: Any,
    *,
    invitee_pk: int | None,
) -> None:
    """Open requests for a step are done once it is done (for a member's own step, only the
    ones addressed to that member)."""
    sql = (
        "UPDATE help_request SET status = 'done', resolved_at = $1, resolved_by_id = $2"
        " WHERE organization_id = $3 AND flow_id = $4 AND step_id = $5 AND status = 'open'"
    )
    values = [_RESOLVED_AT.to_db_value(at, HelpRequest), by_pk, organization_pk, flow_id, step_id]
    if invitee_pk is not None:
        sql += " AND invitee_id = $6"
        values.append(invitee_pk)
    await _execute(sql, values, connection)


async def idempotent_outcome(
    organization_pk: int, member_key: str, key: str | None, operation: str
) -> dict[str, Any] | None:
    if not key:
        return None
    rows = await _fetch(
        "SELECT operation, outcome FROM idempotent_result"
        " WHERE organization_id = $1 AND member_key = $2 AND key = $3",
        [organization_pk, member_key, key],
    )
    if not rows:
        return None
    stored_operation, outcome = rows[0]
    if stored_operation != operation:
        return {"conflict": stored_operation}
    return _OUTCOME.to_python_value(outcome)  # type: ignore[no-any-return]


async def remember_outcome(
    organization_pk: int,
    member_key: str,
    key: str | None,
    operation: str,
    outcome: Mapping[str, Any],
    connection: Any,
) -> None:
    """Raises IntegrityError when the same key was remembered first (a concurrent retry)."""
    if key:
        row = {
            "organization_id": organization_pk,
            "member_key": member_key,
            "key": key,
            "operation": operation,
            "outcome": _OUTCOME.to_db_value(dict(outcome), IdempotentResult),
            "created_at": _CREATED_AT.to_db_value(dt.datetime.now(dt.UTC), IdempotentResult),
        }
        await _insert("idempotent_result", row, connection)


async def organization_owner(organization_pk: int) -> int | None:
    return (
        await Organization.filter(id=organization_pk)
        .first()
        .values_list(  # type: ignore[return-value]
            "owner_id", flat=True
        )
    )
