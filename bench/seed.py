"""Bulk seeding with COPY: organizations, members, progress on every flow, help requests, events.

Rows are built in Python and sent with asyncpg's binary COPY, so 10,000 organizations take
seconds. Progress varies by organization and member so checklists show every status.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from api.content.model import Item
from api.progress.store import STATE_COLUMNS
from bench.people import (
    ACTIVE_SLOTS,
    MEMBERS_PER_ORG,
    ROLES_BY_SLOT,
    claims,
    claims_hash,
    member_external_id,
    org_external_id,
    org_name,
)

ORG_KEY = ""


@dataclass(frozen=True)
class FlowPlan:
    """What seeding needs to know about one published flow."""

    id: str
    revision: int
    steps: tuple[tuple[str, str, bool], ...]  # (step id, scope, optional)

    @property
    def org_flow(self) -> bool:
        return bool(self.steps) and all(scope == "organization" for _, scope, _ in self.steps)

    def scoped(self, scope: str) -> list[tuple[str, bool]]:
        return [(sid, optional) for sid, s, optional in self.steps if s == scope]


def flow_plans(items: Iterable[Item], locale: str = "en") -> list[FlowPlan]:
    return [
        FlowPlan(item.id, item.revision, tuple((s.id, s.scope, s.optional) for s in item.steps))
        for item in items
        if item.kind == "flow" and item.locale == locale
    ]


@dataclass
class Rows:
    orgs: list[tuple[Any, ...]] = field(default_factory=list)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    help: list[tuple[Any, ...]] = field(default_factory=list)
    owners: list[tuple[int, int]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "organizations": len(self.orgs),
            "members": len(self.members),
            "step_states": len(self.steps),
            "events": len(self.events),
            "help_requests": len(self.help),
        }


async def seed(
    conn: asyncpg.Connection, first_org: int, count: int, plans: list[FlowPlan]
) -> dict[str, Any]:
    """Add organizations `first_org .. first_org + count - 1` with everything they own."""
    started = time.perf_counter()
    org_base = await conn.fetchval("SELECT coalesce(max(id), 0) FROM organization")
    member_base = await conn.fetchval("SELECT coalesce(max(id), 0) FROM member")
    now = dt.datetime.now(dt.UTC)
    rows = Rows()
    for n in range(count):
        org = first_org + n
        org_pk = org_base + n + 1
        member_pks = [member_base + n * MEMBERS_PER_ORG + slot + 1 for slot in range(10)]
        _organization(rows, org, org_pk, member_pks, now)
        for plan in plans:
            _progress(rows, org, org_pk, member_pks, plan, now)
        _help_requests(rows, org, org_pk, member_pks, plans, now)
    built = time.perf_counter()
    async with conn.transaction():
        await _copy(conn, rows)
        await conn.executemany("UPDATE organization SET owner_id = $2 WHERE id = $1", rows.owners)
        for table in ("organization", "member"):
            await conn.execute(
                f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"  # noqa: S608
            )
    await conn.execute("ANALYZE")
    done = time.perf_counter()
    return {
        **rows.counts(),
        "build_rows_s": round(built - started, 2),
        "copy_s": round(done - built, 2),
        "seconds": round(done - started, 2),
    }


def _organization(
    rows: Rows, org: int, org_pk: int, member_pks: list[int], now: dt.datetime
) -> None:
    created = now - dt.timedelta(days=30, minutes=org)
    rows.orgs.append((org_pk, org_external_id(org), org_name(org), created, created))
    if org % 2 == 0:
        rows.owners.append((org_pk, member_pks[0]))
    for slot, pk in enumerate(member_pks):
        c = claims(org, slot)
        rows.members.append(
            (
                pk,
                org_pk,
                member_external_id(org, slot),
                c["name"],
                c["email"],
                None,
                orjson.dumps(sorted(set(ROLES_BY_SLOT[slot]))).decode(),
                "{}",
                claims_hash(org, slot),
                created,
                created,
            )
        )
        name = ("dashboard.viewed", "visitor.registered")[slot % 2]
        rows.events.append((org_pk, pk, "app", name, "{}", created + dt.timedelta(hours=slot)))


def _mark(
    rows: Rows,
    org_pk: int,
    member_key: str,
    plan: FlowPlan,
    step_id: str,
    state: str,
    by_pk: int,
    at: dt.datetime,
    assignee: int | None = None,
) -> None:
    rows.steps.append(
        (org_pk, member_key, plan.id, step_id, state, by_pk, plan.revision, at, assignee)
    )
    if state in ("done", "skipped", "completed"):
        kind, name = ("flow", "flow.completed") if state == "completed" else ("step", "")
        props = {"flowId": plan.id, "revision": plan.revision}
        if kind == "step":
            name = f"step.{'completed' if state == 'done' else 'skipped'}"
            props |= {"stepId": step_id, "scope": "user" if member_key else "organization"}
        rows.events.append((org_pk, by_pk, kind, name, orjson.dumps(props).decode(), at))


def _progress(
    rows: Rows,
    org: int,
    org_pk: int,
    member_pks: list[int],
    plan: FlowPlan,
    now: dt.datetime,
) -> None:
    """Org steps: a prefix of the flow done (optional ones sometimes skipped), one assignment;
    user steps: a prefix per active member. Completed flows get their flow record."""
    at = now - dt.timedelta(days=20, minutes=org)
    org_steps = plan.scoped("organization")
    done_org = (org * 7) % (len(org_steps) + 1)
    for n, (step_id, optional) in enumerate(org_steps):
        if n < done_org:
            state = "skipped" if optional and org % 2 == 1 else "done"
            _mark(rows, org_pk, ORG_KEY, plan, step_id, state, member_pks[0], at)
        elif n == done_org and org % 4 == 0:
            _mark(
                rows, org_pk, ORG_KEY, plan, step_id, "assigned", member_pks[0], at, member_pks[2]
            )
    org_complete = all(optional for _, optional in org_steps[done_org:])
    if plan.org_flow and org_complete:
        _mark(rows, org_pk, ORG_KEY, plan, "", "completed", member_pks[0], at)
    user_steps = plan.scoped("user")
    if not user_steps:
        return
    for slot in range(ACTIVE_SLOTS):
        key = member_external_id(org, slot)
        done = (org + slot) % (len(user_steps) + 1)
        for step_id, optional in user_steps[:done]:
            state = "skipped" if optional and (org + slot) % 2 == 0 else "done"
            _mark(rows, org_pk, key, plan, step_id, state, member_pks[slot], at)
        if org_complete and all(optional for _, optional in user_steps[done:]):
            _mark(rows, org_pk, key, plan, "", "completed", member_pks[slot], at)


def _help_requests(
    rows: Rows,
    org: int,
    org_pk: int,
    member_pks: list[int],
    plans: list[FlowPlan],
    now: dt.datetime,
) -> None:
    """An open request to a colleague (half the orgs), an email invite (a third), one resolved."""
    org_flow = next((p for p in plans if p.org_flow), plans[0])
    step_id = org_flow.steps[min(1, len(org_flow.steps) - 1)][0]
    at = now - dt.timedelta(days=10, minutes=org)
    wanted: list[tuple[str, int | None, str | None, str, dt.datetime | None, int | None]] = []
    if org % 2 == 0:
        wanted.append(("a", member_pks[1], None, "open", None, None))
    if org % 3 == 0:
        wanted.append(("b", None, f"newcomer@org{org:05d}.test", "open", None, None))
    if org % 5 == 0:
        resolved = at + dt.timedelta(hours=3)
        wanted.append(("c", member_pks[2], None, "done", resolved, member_pks[2]))
    for suffix, invitee, email, status, resolved_at, resolved_by in wanted:
        rows.help.append(
            (
                f"b{org}{suffix}",
                f"bench-{org}-{suffix}",
                org_pk,
                org_flow.id,
                step_id,
                member_pks[0],
                invitee,
                email,
                "Could you take this one?",
                status,
                at,
                resolved_at,
                resolved_by,
            )
        )


COLUMNS = {
    "organization": ("id", "external_id", "name", "created_at", "updated_at"),
    "member": (
        "id",
        "organization_id",
        "external_id",
        "name",
        "email",
        "locale",
        "roles",
        "attributes",
        "claims_hash",
        "created_at",
        "updated_at",
    ),
    "step_state": ("organization_id", *STATE_COLUMNS),
    "event": ("organization_id", "member_id", "kind", "name", "properties", "created_at"),
    "help_request": (
        "public_id",
        "token",
        "organization_id",
        "flow_id",
        "step_id",
        "inviter_id",
        "invitee_id",
        "invitee_email",
        "message",
        "status",
        "created_at",
        "resolved_at",
        "resolved_by_id",
    ),
}


async def _copy(conn: asyncpg.Connection, rows: Rows) -> None:
    tables = {
        "organization": rows.orgs,
        "member": rows.members,
        "step_state": rows.steps,
        "event": rows.events,
        "help_request": rows.help,
    }
    for table, records in tables.items():
        await conn.copy_records_to_table(table, records=records, columns=list(COLUMNS[table]))
