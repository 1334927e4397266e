"""Onboarding state in the database: the reads the engine needs and the writes that change it.

All of the progress domain's SQL is here. Reads are whole-organization batches (every mark
and flow record of an organization and viewer in one statement, its members in one more), so
a checklist costs a constant number of statements. Writes are built as `Write` values and
sent by the write unit (`api.progress.unit`), which holds the organization's lock while it
reads and writes, so the writes never race each other.

Hot statements are hand-written (`$n` placeholders, rewritten for SQLite) and run through
Tortoise's connection: no query building per request.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from api.content.model import Item
from api.db.models import Event, HelpRequest, IdempotentResult, Member, StepState
from api.progress.engine import FlowDef, FlowRecord, Mark, Scope, StepDef
from api.progress.engine import Member as EngineMember
from api.progress.live import PROGRESS_CHANNEL

ORG_KEY = ""
FLOW_ROW = ""
# Whose idempotency keys the admin key's changes are kept under, in each organization.
ADMIN_KEY_OWNER = "@admin"

# Column conversions for the hand-written statements, as Tortoise does them on each database.
_AT = StepState._meta.fields_map["at"]
_ROLES = Member._meta.fields_map["roles"]
_ATTRIBUTES = Member._meta.fields_map["attributes"]
_PROPERTIES = Event._meta.fields_map["properties"]
_CREATED_AT = Event._meta.fields_map["created_at"]
_OUTCOME = IdempotentResult._meta.fields_map["outcome"]
_HELP_AT = HelpRequest._meta.fields_map["created_at"]


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


def flow_record_key(flow: FlowDef, member_key: str) -> str:
    """Whose record of the flow counts: the organization's for an organization-wide flow."""
    return ORG_KEY if flow.organization_wide else member_key


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


class HelpRequestStatus(StrEnum):
    """Where a help request stands; stored as its value."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class HelpRequestRow:
    pk: int
    id: str
    token: str
    flow_id: str
    step_id: str
    inviter_pk: int
    invitee_pk: int | None
    email: str | None
    message: str | None
    status: HelpRequestStatus
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by_pk: int | None


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
_HELP_COLUMNS = (
    "id, public_id, token, flow_id, step_id, inviter_id, invitee_id, invitee_email, message,"
    " status, created_at, resolved_at, resolved_by_id"
)

# Built from the constant column names above, never from input.
_STATE_SQL = f"SELECT {', '.join(STATE_COLUMNS)} FROM step_state WHERE organization_id = $1"  # noqa: S608
_VIEWER_STATE_SQL = _STATE_SQL + " AND member_key IN ('', $2)"
_MEMBERS_SQL = (
    "SELECT id, external_id, name, email, locale, roles FROM member"
    " WHERE organization_id = $1 ORDER BY id"
)
# The version row, then the viewer's state rows, unless the version is the one the caller
# holds an answer for ($3): Postgres then skips the state (a one-time filter).
_VERSIONED_STATE_SQL = (
    f"SELECT state_version, {', '.join('NULL' for _ in STATE_COLUMNS)}"  # noqa: S608
    " FROM organization WHERE id = $1"
    f" UNION ALL SELECT NULL, {', '.join(STATE_COLUMNS)} FROM step_state"
    " WHERE organization_id = $1 AND member_key IN ('', $2)"
    " AND (SELECT state_version FROM organization WHERE id = $1) <> $3"
)
# The same for several viewers (Postgres arrays of organizations, members and held
# versions), each row led by the viewer's place in the arrays.
_VERSIONED_STATES_SQL = (
    "WITH asked AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])"  # noqa: S608
    " WITH ORDINALITY AS a(org, member, held, n)),"
    " versions AS (SELECT asked.*, o.state_version FROM asked"
    " JOIN organization o ON o.id = asked.org)"
    f" SELECT n, state_version, {', '.join('NULL' for _ in STATE_COLUMNS)} FROM versions"
    f" UNION ALL SELECT v.n, NULL, {', '.join('s.' + c for c in STATE_COLUMNS)}"
    " FROM versions v JOIN step_state s ON s.organization_id = v.org"
    " AND s.member_key IN ('', v.member) WHERE v.state_version <> v.held"
)
_LOCK_SQL = (
    "UPDATE organization SET state_version = state_version + 1 WHERE id = $1"
    " RETURNING state_version, owner_id"
)
# Under the lock, one statement reads everything a change decides on: the viewer's state
# ('s'), the members ('m'), the open help requests ('h'), the idempotency key's record
# ('i') and the viewer's badges ('b'). Every branch has the same ten columns.
_UNDER_LOCK_SQL = (
    f"SELECT 's', {', '.join(STATE_COLUMNS)}, NULL FROM step_state"  # noqa: S608
    " WHERE organization_id = $1 AND member_key IN ('', $2)"
    " UNION ALL SELECT 'm', external_id, name, email, locale, id, NULL, NULL, NULL,"
    " CAST(roles AS TEXT) FROM member WHERE organization_id = $1"
    " UNION ALL SELECT 'h', public_id, flow_id, step_id, token, id, inviter_id, NULL,"
    " invitee_id, invitee_email FROM help_request WHERE organization_id = $1 AND status = 'open'"
    " UNION ALL SELECT 'i', operation, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " CAST(outcome AS TEXT) FROM idempotent_result"
    " WHERE organization_id = $1 AND member_key = $3 AND key = $4"
    " UNION ALL SELECT 'b', badge_id, NULL, NULL, NULL, NULL, NULL, earned_at, NULL, NULL"
    " FROM badge_award WHERE organization_id = $1 AND member_key = $2"
)


def _dialect_sql(connection: Any, sql: str) -> str:
    """Hand-written statements use `$n` placeholders; SQLite spells them `?n`."""
    return sql if connection.capabilities.dialect == "postgres" else sql.replace("$", "?")


def _connection(connection: Any = None) -> Any:
    return connection or StepState._meta.db


async def _fetch(sql: str, values: list[Any], connection: Any = None) -> list[Sequence[Any]]:
    connection = _connection(connection)
    _, rows = await connection.execute_query(_dialect_sql(connection, sql), values)
    return list(rows)


def _state_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A step_state row as Tortoise would give it (SQLite hands back datetimes as text)."""
    return (*row[:_AT_COLUMN], _AT.to_python_value(row[_AT_COLUMN]), *row[_AT_COLUMN + 1 :])


def _member_row(pk: int, ext: str, name: Any, email: Any, locale: Any, roles: Any) -> MemberRow:
    return MemberRow(pk, ext, name, email, locale, tuple(_ROLES.to_python_value(roles) or ()))


async def load_state_rows(organization_pk: int, member_key: str) -> list[tuple[Any, ...]]:
    """The organization's rows for one viewer: their own and the organization's."""
    rows = await _fetch(_VIEWER_STATE_SQL, [organization_pk, member_key])
    return [_state_row(row) for row in rows]


async def load_members_state_rows(
    organization_pk: int, member_keys: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The organization's rows and those of the given members (a page of the team)."""
    placeholders = ", ".join(f"${n}" for n in range(2, len(member_keys) + 2))
    sql = _STATE_SQL + f" AND member_key IN (''{', ' if member_keys else ''}{placeholders})"
    rows = await _fetch(sql, [organization_pk, *member_keys])
    return [_state_row(row) for row in rows]


async def load_viewer_state(organization_pk: int, member_key: str) -> ViewerState:
    return viewer_state(await load_state_rows(organization_pk, member_key))


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


VersionedState = tuple[int, Callable[[], ViewerState] | None]


async def load_versioned_viewer_states(
    asked: Sequence[tuple[int, str, int | None]],
) -> list[VersionedState | LookupError]:
    """For each viewer asked (organization, member, held version): the organization's state
    version and the viewer's state, in the order asked (a LookupError where the
    organization does not exist).

    One snapshot for a version and its state, so the state is exactly the version's: an
    answer computed from it may be cached under that version. The state comes as a function
    that builds it from the rows, and not at all (None) when the version is the held one, of
    an answer the caller already holds: a request answered from the cache reads one row.
    Several viewers are read in one statement on Postgres (one round trip); one viewer, or
    any number on SQLite, a statement each.
    """
    connection = _connection()
    held = [-1 if version is None else version for _, _, version in asked]  # versions start at 0
    rows_of: list[list[Sequence[Any]]]
    if len(asked) == 1 or connection.capabilities.dialect != "postgres":
        rows_of = [
            await _fetch(_VERSIONED_STATE_SQL, [organization_pk, member_key, version], connection)
            for (organization_pk, member_key, _), version in zip(asked, held, strict=True)
        ]
    else:
        rows_of = [[] for _ in asked]
        values = [[pk for pk, _, _ in asked], [member for _, member, _ in asked], held]
        for n, *row in await _fetch(_VERSIONED_STATES_SQL, values, connection):
            rows_of[n - 1].append(row)
    answers: list[VersionedState | LookupError] = []
    for (organization_pk, _, held_version), rows in zip(asked, rows_of, strict=True):
        try:
            answers.append(_versioned(organization_pk, held_version, rows))
        except LookupError as missing:
            answers.append(missing)
    return answers


def _versioned(
    organization_pk: int, held_version: int | None, rows: list[Sequence[Any]]
) -> VersionedState:
    """The version row (state_version, NULLs) and the state rows (NULL, columns)."""
    versions = [row[0] for row in rows if row[0] is not None]
    if not versions:
        raise LookupError(f"organization {organization_pk} does not exist")
    version = int(versions[0])
    if version == held_version:
        return version, None
    states = [row[1:] for row in rows if row[0] is None]
    return version, lambda: viewer_state(_state_row(row) for row in states)


async def load_members(organization_pk: int) -> list[MemberRow]:
    rows = await _fetch(_MEMBERS_SQL, [organization_pk])
    return [_member_row(*row) for row in rows]


@dataclass(frozen=True)
class MemberProfile:
    """What Heed stored of a member's token: enough to see the product as they do."""

    row: MemberRow
    attributes: Mapping[str, Any]


async def load_member_profile(organization_pk: int, member_id: str) -> MemberProfile | None:
    rows = await _fetch(
        "SELECT id, external_id, name, email, locale, roles, attributes FROM member"
        " WHERE organization_id = $1 AND external_id = $2",
        [organization_pk, member_id],
    )
    if not rows:
        return None
    *columns, attributes = rows[0]
    return MemberProfile(_member_row(*columns), _ATTRIBUTES.to_python_value(attributes) or {})


async def load_organization(organization_pk: int) -> tuple[str | None, int | None]:
    """The organization's name and its onboarding owner's key."""
    rows = await _fetch("SELECT name, owner_id FROM organization WHERE id = $1", [organization_pk])
    return (rows[0][0], rows[0][1]) if rows else (None, None)


async def find_organization(external_id: str) -> tuple[int, str | None] | None:
    rows = await _fetch("SELECT id, name FROM organization WHERE external_id = $1", [external_id])
    return (rows[0][0], rows[0][1]) if rows else None


async def load_help_requests(organization_pk: int) -> list[HelpRequestRow]:
    """All of an organization's help requests, oldest first: requests are few per
    organization, and one read serves every help-request field of a query."""
    rows = await _fetch(
        f"SELECT {_HELP_COLUMNS} FROM help_request WHERE organization_id = $1"  # noqa: S608
        " ORDER BY created_at, id",
        [organization_pk],
    )
    return [
        HelpRequestRow(
            *row[:9],
            HelpRequestStatus(row[9]),
            _HELP_AT.to_python_value(row[10]),
            _HELP_AT.to_python_value(row[11]),
            row[12],
        )
        for row in rows
    ]


# --- the write unit's statements ---------------------------------------------------------


@dataclass(frozen=True)
class UnderLock:
    """What the write unit read while holding the organization's lock."""

    version: int
    owner_pk: int | None
    state: ViewerState
    members: list[MemberRow]
    open_help: list[OpenHelpRequest]
    stored: tuple[str, dict[str, Any]] | None  # (operation, outcome) under the key
    badges: dict[str, dt.datetime] = field(default_factory=dict)  # the viewer's, by badge id


@dataclass(frozen=True)
class OpenHelpRequest:
    pk: int
    id: str
    token: str
    flow_id: str
    step_id: str
    inviter_pk: int
    invitee_pk: int | None
    email: str | None


async def lock_organization(organization_pk: int, connection: Any) -> tuple[int, int | None]:
    """Take the organization's write lock by bumping its state version; the new version and
    the onboarding owner, as of the lock.

    The row lock it takes serializes the organization's writers until commit, so each reads
    the others' committed rows (without it, two members finishing the last two steps at once
    each miss the other's step and neither records the flow's completion). The bump also
    tells every worker's answer cache that older answers are dead.
    """
    rows = await connection.execute_query_dict(
        _dialect_sql(connection, _LOCK_SQL), [organization_pk]
    )
    if not rows:
        raise LookupError(f"organization {organization_pk} does not exist")
    return int(rows[0]["state_version"]), rows[0]["owner_id"]


async def read_under_lock(
    organization_pk: int,
    locked: tuple[int, int | None],
    member_key: str,
    idempotency: tuple[str, str] | None,
    connection: Any,
) -> UnderLock:
    """Everything a change decides on, in one statement, read after the lock was taken."""
    key_owner, key = idempotency or ("", "")
    rows = await _fetch(
        _UNDER_LOCK_SQL, [organization_pk, member_key, key_owner, key or None], connection
    )
    state_rows, members, open_help = [], [], []
    stored = None
    badges: dict[str, dt.datetime] = {}
    for part, *columns in rows:
        if part == "s":
            state_rows.append(_state_row(columns[:8]))
        elif part == "m":
            ext, name, email, locale, pk, *_, roles = columns
            members.append(_member_row(pk, ext, name, email, locale, roles))
        elif part == "h":
            public_id, flow_id, step_id, token, pk, inviter, _, invitee, email = columns
            open_help.append(
                OpenHelpRequest(pk, public_id, token, flow_id, step_id, inviter, invitee, email)
            )
        elif part == "b":
            badges[columns[0]] = _AT.to_python_value(columns[6])
        else:
            stored = (columns[0], orjson.loads(columns[-1]))
    members.sort(key=lambda member: member.pk)
    return UnderLock(*locked, viewer_state(state_rows), members, open_help, stored, badges)


@dataclass(frozen=True)
class Write:
    """One statement of a change, with `$1`-based placeholders of its own."""

    sql: str
    values: tuple[Any, ...]


_PLACEHOLDER = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=1024)
def shifted(sql: str, offset: int) -> str:
    """A statement's `$n` placeholders moved up by `offset`, to join it with statements whose
    values come before its own (statements repeat: worked out once each)."""
    return _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


async def run_writes(
    writes: Sequence[Write], notices: Sequence[str], connection: Any, *, in_order: bool = False
) -> None:
    """Send a change's writes. On Postgres they go as one statement (data-modifying CTEs,
    with the NOTIFYs as its result), so a change costs one round trip whatever it touches;
    SQLite runs them one by one, in process, and so does Postgres for writes that must see
    each other (`in_order`: all CTEs of one statement see the same snapshot)."""
    if connection.capabilities.dialect != "postgres" or in_order:
        for write in writes:
            await connection.execute_query(_dialect_sql(connection, write.sql), list(write.values))
        if connection.capabilities.dialect == "postgres":
            for notice in notices:
                await connection.execute_query(
                    f"SELECT pg_notify('{PROGRESS_CHANNEL}', $1)", [notice]
                )
        return
    parts, values = [], []
    for n, write in enumerate(writes):
        offset = len(values)
        parts.append(f"w{n} AS ({shifted(write.sql, offset)})")
        values.extend(write.values)
    calls = []
    for notice in notices:
        values.append(notice)
        calls.append(f"pg_notify('{PROGRESS_CHANNEL}', ${len(values)})")
    head = f"WITH {', '.join(parts)} " if parts else ""
    if not calls and not parts:
        return
    await connection.execute_query(head + f"SELECT {', '.join(calls) or '1'}", values)


_UPSERT_STATE_SQL = (
    "INSERT INTO step_state (organization_id, member_key, flow_id, step_id, state,"
    " by_member_id, flow_revision, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (organization_id, member_key, flow_id, step_id) DO UPDATE SET"
    " state = excluded.state, by_member_id = excluded.by_member_id,"
    " flow_revision = excluded.flow_revision, at = excluded.at"
)


def put_mark(
    organization_pk: int,
    member_key: str,
    flow: FlowDef,
    step_id: str,
    state: str,
    by_pk: int,
    at: dt.datetime,
) -> Write:
    """A step's mark (or, with `FLOW_ROW`, a flow's completion record), replacing any."""
    at_value = _AT.to_db_value(at, StepState)
    values = (organization_pk, member_key, flow.id, step_id, state, by_pk, flow.revision)
    return Write(_UPSERT_STATE_SQL, (*values, at_value))


def clear_mark(
    organization_pk: int, member_key: str, flow_id: str, step_id: str, *, assigned: bool
) -> Write:
    """Reopen: drop the mark, keeping the row only to remember an assignee."""
    change = "UPDATE step_state SET state = 'assigned'" if assigned else "DELETE FROM step_state"
    where = " WHERE organization_id = $1 AND member_key = $2 AND flow_id = $3 AND step_id = $4"
    return Write(change + where, (organization_pk, member_key, flow_id, step_id))


def forget_flow_completion(organization_pk: int, record_key: str, flow_id: str) -> Write:
    """A reopened required step un-completes the flow: "stays completed" guards against
    content changes, not against the team undoing its own work."""
    return Write(
        "DELETE FROM step_state WHERE organization_id = $1 AND member_key = $2"
        " AND flow_id = $3 AND step_id = '' AND state = 'completed'",
        (organization_pk, record_key, flow_id),
    )


def clear_member_flow(organization_pk: int, member_key: str, flow_id: str) -> Write:
    """Every mark and the completion record one member holds on a flow (assignments live on
    organization rows, so none is lost)."""
    return Write(
        "DELETE FROM step_state WHERE organization_id = $1 AND member_key = $2 AND flow_id = $3",
        (organization_pk, member_key, flow_id),
    )


def assign(
    organization_pk: int,
    flow: FlowDef,
    step_id: str,
    assignee_pk: int,
    by_pk: int,
    at: dt.datetime,
) -> Write:
    return Write(
        "INSERT INTO step_state (organization_id, member_key, flow_id, step_id, state,"
        " by_member_id, flow_revision, at, assignee_id)"
        " VALUES ($1, '', $2, $3, 'assigned', $4, $5, $6, $7)"
        " ON CONFLICT (organization_id, member_key, flow_id, step_id)"
        " DO UPDATE SET assignee_id = excluded.assignee_id",
        (
            organization_pk,
            flow.id,
            step_id,
            by_pk,
            flow.revision,
            _AT.to_db_value(at, StepState),
            assignee_pk,
        ),
    )


@dataclass(frozen=True)
class EventRow:
    member_pk: int | None
    name: str
    properties: Mapping[str, Any]
    kind: str | None = None  # the type's prefix (`step` for `step.completed`) unless given


def insert_events(organization_pk: int, events: Sequence[EventRow], at: dt.datetime) -> Write:
    """A change's event rows, the audit trail and the source of every metric and webhook, in
    one statement whose rows keep their order (ids rise as written): the outbox delivers an
    organization's events in that order."""
    rows, values = [], []
    for event in events:
        n = len(values)
        rows.append(f"(${n + 1}, ${n + 2}, ${n + 3}, ${n + 4}, ${n + 5}, ${n + 6})")
        values += [
            organization_pk,
            event.member_pk,
            event.kind or event.name.split(".", 1)[0],
            event.name,
            _PROPERTIES.to_db_value(dict(event.properties), Event),
            _CREATED_AT.to_db_value(at, Event),
        ]
    columns = "organization_id, member_id, kind, name, properties, created_at"
    sql = f"INSERT INTO event ({columns}) VALUES {', '.join(rows)}"  # noqa: S608 - placeholders
    return Write(sql, tuple(values))


def remember_outcome(
    organization_pk: int,
    key_owner: str,
    key: str,
    operation: str,
    outcome: Mapping[str, Any],
    at: dt.datetime,
) -> Write:
    return Write(
        "INSERT INTO idempotent_result (organization_id, member_key, key, operation, outcome,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        (
            organization_pk,
            key_owner,
            key,
            operation,
            _OUTCOME.to_db_value(dict(outcome), IdempotentResult),
            _CREATED_AT.to_db_value(at, IdempotentResult),
        ),
    )


def resolve_help_requests(pks: Sequence[int], by_pk: int, at: dt.datetime) -> Write:
    placeholders = ", ".join(f"${n}" for n in range(3, len(pks) + 3))
    sql = (
        "UPDATE help_request SET status = 'done', resolved_at = $1, resolved_by_id = $2"  # noqa: S608
        f" WHERE id IN ({placeholders}) AND status = 'open'"
    )
    return Write(sql, (_HELP_AT.to_db_value(at, HelpRequest), by_pk, *pks))


def cancel_help_request(pk: int, by_pk: int, at: dt.datetime) -> Write:
    return Write(
        "UPDATE help_request SET status = 'cancelled', resolved_at = $1, resolved_by_id = $2"
        " WHERE id = $3 AND status = 'open'",
        (_HELP_AT.to_db_value(at, HelpRequest), by_pk, pk),
    )


def insert_help_request(
    organization_pk: int,
    public_id: str,
    token: str,
    flow_id: str,
    step_id: str,
    inviter_pk: int,
    invitee_pk: int | None,
    email: str | None,
    message: str | None,
    at: dt.datetime,
) -> Write:
    return Write(
        "INSERT INTO help_request (public_id, token, organization_id, flow_id, step_id,"
        " inviter_id, invitee_id, invitee_email, message, status, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10)",
        (
            public_id,
            token,
            organization_pk,
            flow_id,
            step_id,
            inviter_pk,
            invitee_pk,
            email,
            message,
            _HELP_AT.to_db_value(at, HelpRequest),
        ),
    )


def set_owner(organization_pk: int, member_pk: int) -> Write:
    return Write(
        "UPDATE organization SET owner_id = $1 WHERE id = $2", (member_pk, organization_pk)
    )


# --- organizations and members, as their tokens describe them ------------------------------

_ORG_CREATED_AT = Member._meta.fields_map["created_at"]


async def find_member_by_claims(
    organization_id: str, member_id: str, claims_hash: str
) -> tuple[int, int, str | None] | None:
    """(member key, organization key, organization name) when stored with these claims."""
    rows = await _fetch(
        "SELECT m.id, o.id, o.name FROM member m JOIN organization o ON o.id = m.organization_id"
        " WHERE o.external_id = $1 AND m.external_id = $2 AND m.claims_hash = $3",
        [organization_id, member_id, claims_hash],
    )
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else None


async def ensure_organization(external_id: str) -> tuple[int, str | None]:
    """The organization's key and stored name, created on first sight."""
    now = _ORG_CREATED_AT.to_db_value(dt.datetime.now(dt.UTC), Member)
    connection = _connection()
    await connection.execute_query(
        _dialect_sql(
            connection,
            "INSERT INTO organization (external_id, state_version, created_at, updated_at)"
            " VALUES ($1, 0, $2, $2) ON CONFLICT (external_id) DO NOTHING",
        ),
        [external_id, now],
    )
    found = await find_organization(external_id)
    assert found is not None
    return found


def rename_organization(organization_pk: int, name: str) -> Write:
    return Write("UPDATE organization SET name = $1 WHERE id = $2", (name, organization_pk))


def upsert_member(
    organization_pk: int,
    member_id: str,
    name: str | None,
    email: str | None,
    locale: str | None,
    roles: Sequence[str],
    attributes: Mapping[str, Any],
    claims_hash: str,
    at: dt.datetime,
) -> Write:
    """A member as their token describes them, created or brought up to date."""
    at_value = _ORG_CREATED_AT.to_db_value(at, Member)
    return Write(
        "INSERT INTO member (organization_id, external_id, name, email, locale, roles,"
        " attributes, claims_hash, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
        " ON CONFLICT (organization_id, external_id) DO UPDATE SET name = excluded.name,"
        " email = excluded.email, locale = excluded.locale, roles = excluded.roles,"
        " attributes = excluded.attributes, claims_hash = excluded.claims_hash,"
        " updated_at = excluded.updated_at",
        (
            organization_pk,
            member_id,
            name,
            email,
            locale,
            _ROLES.to_db_value(list(roles), Member),
            _ATTRIBUTES.to_db_value(dict(attributes), Member),
            claims_hash,
            at_value,
        ),
    )


def link_invitations(organization_pk: int, member_id: str, email: str) -> Write:
    """Help requests sent to this email before its owner signed in now reach them as a
    member (run after `upsert_member`, in order: it looks the member up)."""
    return Write(
        "UPDATE help_request SET invitee_id = (SELECT id FROM member"
        " WHERE organization_id = $1 AND external_id = $2)"
        " WHERE organization_id = $1 AND invitee_id IS NULL AND invitee_email = $3",
        (organization_pk, member_id, email.lower()),
    )
