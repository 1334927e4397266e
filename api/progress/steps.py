"""Use cases that move steps: complete, skip, reopen, an app event (`track`), and the admin's
reset of a member's progress on a flow.

Each takes an explicit actor, decides on the state read under the organization's lock (see
`api.progress.unit`), and answers with the flow as the change left it, computed in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from api.actor import Actor
from api.content import Catalog
from api.engagement.badges import award_badges, event_count_reader
from api.errors import SUCCESS_CODES, HeedError, forbidden, invalid, not_found
from api.progress.engine import (
    Action,
    ActionError,
    FlowDef,
    check_action,
    evaluate_flow,
    mark_key,
    steps_completed_by_event,
)
from api.progress.flows import FlowResult, evaluate, find_flow, visible_flows
from api.progress.live import ProgressAction, ProgressHub
from api.progress.store import (
    ORG_KEY,
    MemberRow,
    clear_mark,
    clear_member_flow,
    flow_definition,
    flow_record_key,
    forget_flow_completion,
    put_mark,
    resolve_help_requests,
)
from api.progress.unit import Change, Idempotency, commit

MAX_ID = 128
MAX_EVENT = 200

# What each action writes, the event it records, and what live subscribers are told.
_MARKS = {Action.COMPLETE: "done", Action.SKIP: "skipped"}
_EVENTS = {
    Action.COMPLETE: ("step.completed", ProgressAction.COMPLETED),
    Action.SKIP: ("step.skipped", ProgressAction.SKIPPED),
    Action.REOPEN: ("step.reopened", ProgressAction.REOPENED),
}


@dataclass(frozen=True)
class StepChanged:
    flow: FlowResult
    step_id: str


@dataclass(frozen=True)
class Tracked:
    """The steps an app event completed, with their flows as they stand now."""

    completed: list[tuple[FlowResult, str]]


def check_text(limit: int = MAX_ID, **values: str | None) -> None:
    """Strings Heed cannot store (Postgres refuses NUL) or longer than their column allows
    (ids and keys: 128 characters)."""
    for name, value in values.items():
        if value is None:
            continue
        if "\x00" in value:
            raise invalid(f"{name} contains a NUL character", "input", name)
        if len(value) > limit:
            raise invalid(f"{name} is longer than {limit} characters", "input", name)


async def change_step(
    actor: Actor,
    catalog: Catalog,
    hub: ProgressHub,
    action: Action,
    flow_id: str,
    step_id: str,
    locale: str,
    idempotency_key: str | None = None,
) -> StepChanged:
    check_text(flowId=flow_id, stepId=step_id, idempotencyKey=idempotency_key)
    actor.acting_member()

    async def decide(change: Change) -> dict[str, Any]:
        item = find_flow(actor, catalog, change.state, locale, flow_id)
        if item is None:
            raise not_found(f"no flow {flow_id!r}", "input", "flowId")
        flow = flow_definition(item)
        problem = check_action(
            flow,
            change.state.marks.get(flow.id, ()),
            actor.engine,
            step_id,
            action,
            [m.engine for m in change.members],
        )
        if problem is not None and problem.code not in SUCCESS_CODES:
            raise action_error(problem)
        if problem is None:
            move_step(change, flow, step_id, action)
            award_badges(change, catalog, locale)
        return {}

    key = _idempotency(action.value.lower(), idempotency_key, flowId=flow_id, stepId=step_id)
    committed = await commit(actor, hub, decide, idempotency=key)
    change = committed.change
    item = find_flow(actor, catalog, change.state, locale, flow_id)
    if item is None:
        raise not_found(f"no flow {flow_id!r}", "input", "flowId")
    return StepChanged(
        evaluate(item, actor.engine, change.state, change.members, catalog.chain(locale)[0]),
        step_id,
    )


def action_error(problem: ActionError) -> HeedError:
    return HeedError(
        problem.code,
        problem.message,
        ("input", "stepId"),
        roles=problem.roles,
        candidates=problem.candidates,
    )


def move_step(change: Change, flow: FlowDef, step_id: str, action: Action) -> None:
    """Write the step's new mark (in the database and in `change.state`), its event, and
    what follows: help requests answered, the flow completed or reopened."""
    actor, state = change.actor, change.state
    member_pk = actor.acting_member()
    step = next(s for s in flow.steps if s.id == step_id)
    owner_key = mark_key(step, actor.engine, action) or ORG_KEY
    organization_pk = actor.organization_pk
    if action is Action.REOPEN:
        assigned = owner_key == ORG_KEY and (flow.id, step_id) in state.assignees
        change.write(clear_mark(organization_pk, owner_key, flow.id, step_id, assigned=assigned))
        state.drop_mark(flow.id, step_id, owner_key)
        record_key = flow_record_key(flow, actor.member_id)
        record = state.record(flow, actor.member_id)
        if not step.optional and record is not None and record.completed_at is not None:
            change.write(forget_flow_completion(organization_pk, record_key, flow.id))
            state.set_completed_at(flow.id, record_key, None)
    else:
        mark = _MARKS[action]
        change.write(
            put_mark(organization_pk, owner_key, flow, step_id, mark, member_pk, change.now)
        )
        state.put_mark(flow.id, owner_key, step_id, mark, member_pk, change.now, flow.revision)
    event_type, notice = _EVENTS[action]
    scope = "organization" if owner_key == ORG_KEY else "user"
    change.emit(
        event_type,
        {
            "flowId": flow.id,
            "stepId": step_id,
            "flowRevision": flow.revision,
            "scope": scope,
            "memberId": actor.member_id,
        },
    )
    change.announce(flow.id, step_id, notice)
    if action is Action.COMPLETE:
        _answer_help_requests(change, flow, step_id, owner_key)
        _record_completion(change, flow)


def _answer_help_requests(change: Change, flow: FlowDef, step_id: str, owner_key: str) -> None:
    """Open requests for a step are done once it is done (for a member's own step, only the
    ones addressed to that member)."""
    actor = change.actor
    answered = [
        request
        for request in change.open_help
        if (request.flow_id, request.step_id) == (flow.id, step_id)
        and (owner_key == ORG_KEY or request.invitee_pk == actor.member_pk)
    ]
    if not answered:
        return
    change.write(resolve_help_requests([r.pk for r in answered], actor.acting_member(), change.now))
    by_pk = {member.pk: member for member in change.members}
    for request in answered:
        inviter = by_pk.get(request.inviter_pk)
        change.emit(
            "help.resolved",
            {
                "requestId": request.id,
                "flowId": flow.id,
                "stepId": step_id,
                "resolvedById": actor.member_id,
                "inviterId": inviter.id if inviter else None,
            },
        )


def _record_completion(change: Change, flow: FlowDef) -> None:
    """Remember completion, so a flow stays completed when steps are added later."""
    actor, state = change.actor, change.state
    view = evaluate_flow(
        flow, state.marks.get(flow.id, ()), actor.engine, (), state.record(flow, actor.member_id)
    )
    if not view.completed_now:
        return
    record_key = flow_record_key(flow, actor.member_id)
    member_pk = actor.acting_member()
    change.write(
        put_mark(actor.organization_pk, record_key, flow, "", "completed", member_pk, change.now)
    )
    state.set_completed_at(flow.id, record_key, change.now)
    change.emit(
        "flow.completed",
        {
            "flowId": flow.id,
            "flowRevision": flow.revision,
            "scope": "organization" if record_key == ORG_KEY else "user",
            "memberId": record_key or None,
        },
    )


async def track(
    actor: Actor,
    catalog: Catalog,
    hub: ProgressHub,
    event: str,
    properties: Any,
    locale: str,
    idempotency_key: str | None = None,
) -> Tracked:
    """Record an app event; the steps that complete on it, and that this viewer could
    complete by hand (roles held, prerequisites done), are completed."""
    _check_track(event, properties, idempotency_key)
    actor.acting_member()

    async def decide(change: Change) -> dict[str, Any]:
        change.record_app_event(event, properties or {})
        definitions = {
            item.id: flow_definition(item)
            for item in visible_flows(actor, catalog, change.state, locale)
        }
        completed = []
        for flow_id, step_id in steps_completed_by_event(list(definitions.values()), event):
            flow = definitions[flow_id]
            marks = change.state.marks.get(flow.id, ())
            if check_action(flow, marks, actor.engine, step_id, Action.COMPLETE):
                continue  # locked, someone else's role, or done already
            move_step(change, flow, step_id, Action.COMPLETE)
            completed.append([flow_id, step_id])
        seen_before = change.more or {}
        award_badges(change, catalog, locale, {name: n + 1 for name, n in seen_before.items()})
        return {"completed": completed}

    key = _idempotency("track", idempotency_key, event=event)
    committed = await commit(
        actor,
        hub,
        decide,
        idempotency=key,
        read_more=event_count_reader(actor, catalog, locale, event),
    )
    change = committed.change
    flows = {item.id: item for item in visible_flows(actor, catalog, change.state, locale)}
    results: dict[str, FlowResult] = {}
    completed = []
    for flow_id, step_id in committed.record.get("completed", []):
        if flow_id not in flows:
            continue
        if flow_id not in results:
            results[flow_id] = evaluate(
                flows[flow_id], actor.engine, change.state, change.members, catalog.chain(locale)[0]
            )
        completed.append((results[flow_id], step_id))
    return Tracked(completed)


def _check_track(event: str, properties: Any, idempotency_key: str | None) -> None:
    if not event or len(event) > MAX_EVENT:
        raise invalid(f"event must be 1 to {MAX_EVENT} characters", "input", "event")
    if properties is not None and not isinstance(properties, dict):
        raise invalid("properties must be a JSON object", "input", "properties")
    if "\\u0000" in orjson.dumps(properties or {}).decode():
        raise invalid("properties contain a NUL character", "input", "properties")
    if "\x00" in event:
        raise invalid("event contains a NUL character", "input", "event")
    check_text(idempotencyKey=idempotency_key)


async def reset_progress(
    actor: Actor,
    catalog: Catalog,
    hub: ProgressHub,
    member_id: str,
    flow_id: str,
    idempotency_key: str | None = None,
) -> FlowResult:
    """The admin key clears one member's own marks and completion on a flow, so they start
    it again; the organization's marks stay (they are the whole team's)."""
    check_text(memberId=member_id, flowId=flow_id, idempotencyKey=idempotency_key)
    if not actor.is_admin_key:
        raise forbidden("only the admin key resets a member's progress")
    resolved = catalog.get(flow_id, None)
    if resolved is None or resolved.item.kind != "flow":
        raise not_found(f"no flow {flow_id!r}", "input", "flowId")
    item = resolved.item

    async def decide(change: Change) -> dict[str, Any]:
        member = _member(change.members, member_id)
        marks = [m for m in change.state.marks.get(flow_id, ()) if m.member_id == member.id]
        record = change.state.records.get((flow_id, member.id))
        change.write(clear_member_flow(actor.organization_pk, member.id, flow_id))
        for mark in marks:
            change.state.drop_mark(flow_id, mark.step_id, member.id)
        change.state.records.pop((flow_id, member.id), None)
        cleared = len(marks) + (record is not None)
        change.emit(
            "progress.reset", {"memberId": member.id, "flowId": flow_id, "cleared": cleared}
        )
        change.announce(flow_id, None, ProgressAction.RESET)
        return {}

    key = _idempotency("reset", idempotency_key, memberId=member_id, flowId=flow_id)
    committed = await commit(actor, hub, decide, idempotency=key, state_of=member_id)
    change = committed.change
    member = _member(change.members, member_id)
    return evaluate(item, member.engine, change.state, change.members)


def _member(members: Sequence[MemberRow], member_id: str) -> MemberRow:
    found = next((m for m in members if m.id == member_id), None)
    if found is None:
        raise not_found(f"no member {member_id!r} here", "input", "memberId")
    return found


def _idempotency(operation: str, key: str | None, **target: Any) -> Idempotency | None:
    return Idempotency(key, operation, target) if key else None
