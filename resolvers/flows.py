"""Flows and steps as the viewer sees them, and the mutations that move steps.

Statuses come from the pure engine (`api.progress.engine`) over rows the request's loaders
read once; every write goes through one transaction with its event, its notification and
its idempotency record, so a failure part-way leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api.content import Item
from api.content.model import Step as ContentStep
from api.context import Context
from api.progress.engine import (
    Action,
    ActionError,
    ErrorCode,
    FlowDef,
    FlowView,
    StepView,
    check_action,
    evaluate_flow,
    mark_key,
    steps_completed_by_event,
)
from api.progress.engine import Member as EngineMember
from api.progress.store import (
    ORG_KEY,
    MemberRow,
    ViewerState,
    bump_state_version,
    clear_step_state,
    completed_flow_ids,
    flow_definition,
    flow_record_key,
    forget_flow_completion,
    idempotent_outcome,
    load_viewer_state,
    mark_flow_completed,
    record_event,
    remember_outcome,
    resolve_help_requests,
    set_step_state,
)
from resolvers.content import Audience, viewer_locale
from resolvers.viewer import MemberView

SUCCESS_CODES = (ErrorCode.ALREADY_DONE, ErrorCode.ALREADY_SKIPPED)


def member_view(row: MemberRow) -> MemberView:
    return MemberView(
        id=row.id, name=row.name, email=row.email, locale=row.locale, roles=list(row.roles)
    )


@dataclass(frozen=True)
class ProgressView:
    done: int
    total: int
    percent: float


@dataclass
class StepObject:
    id: str
    title: str
    status: str
    scope: str
    roles: list[str]
    requires: list[str]
    optional: bool
    skippable: bool
    completes_on: str | None
    cta: Any
    tour: Any
    body_markdown: str
    body_html: str
    content: ContentStep  # what the writer wrote, for fields decoded only when asked
    candidates: list[MemberView]
    completed_by: MemberView | None
    completed_at: dt.datetime | None
    assignee: MemberView | None

    @property
    def body_tree(self) -> Any:
        return self.content.body_tree


@dataclass
class FlowObject:
    id: str
    title: str
    summary: str
    phase: str
    locale: str
    revision: int
    state: str
    progress: ProgressView
    steps: list[StepObject]
    next_step: StepObject | None
    completed_at: dt.datetime | None


@dataclass
class UserErrorObject:
    code: str
    message: str
    field: list[str]
    roles: list[str] = field(default_factory=list)
    candidates: list[MemberView] = field(default_factory=list)


@dataclass
class StepPayloadObject:
    step: StepObject | None
    flow: FlowObject | None
    user_errors: list[UserErrorObject]


def engine_viewer(context: Context) -> EngineMember:
    member = context.member
    return EngineMember(id=member.member_id, roles=frozenset(member.roles))


def visible_flows(context: Context, state: ViewerState, locale: str | None) -> list[Item]:
    """The flows this viewer's audience gets, prerequisites (`after`) included."""
    assert context.release is not None
    flows = [
        r.item
        for r in context.release.catalog.items(
            kind="flow", locale=viewer_locale(context, locale), engaged=state.marks.keys()
        )
    ]
    audience = Audience(context, locale, completed_flow_ids(state, flows, context.member.member_id))
    return [item for item in flows if audience(item)]


def build_flow(
    item: Item,
    view: FlowView,
    state: ViewerState,
    members: Sequence[MemberRow],
    record_completed_at: dt.datetime | None,
) -> FlowObject:
    by_pk = {member.pk: member for member in members}
    by_id = {member.id: member for member in members}
    steps = [build_step(item, step_view, state, by_pk, by_id) for step_view in view.steps]
    next_step = next((s for s in steps if s.id == view.next_step_id), None)
    return FlowObject(
        id=item.id,
        title=item.title,
        summary=item.summary,
        phase=item.phase,
        locale=item.locale,
        revision=item.revision,
        state=view.state.value,
        progress=ProgressView(view.done, view.total, view.percent),
        steps=steps,
        next_step=next_step,
        completed_at=record_completed_at,
    )


def build_step(
    item: Item,
    view: StepView,
    state: ViewerState,
    by_pk: Mapping[int, MemberRow],
    by_id: Mapping[str, MemberRow],
) -> StepObject:
    step = item.step(view.step_id)
    assert step is not None
    done_by = by_pk.get(int(view.done_by)) if view.done_by else None
    assignee = by_pk.get(state.assignees.get((item.id, step.id), -1))
    return StepObject(
        id=step.id,
        title=step.title,
        status=view.status.value,
        scope=step.scope,
        roles=list(step.roles),
        requires=list(step.requires),
        optional=step.optional,
        skippable=step.skippable,
        completes_on=step.completes_on,
        cta=step.cta,
        tour=step.tour,
        body_markdown=step.body_markdown,
        body_html=step.body_html,
        content=step,
        candidates=[member_view(by_id[c]) for c in view.candidates if c in by_id],
        completed_by=member_view(done_by) if done_by else None,
        completed_at=view.done_at,
        assignee=member_view(assignee) if assignee else None,
    )


def evaluate(
    context: Context, item: Item, state: ViewerState, members: Sequence[MemberRow]
) -> tuple[FlowDef, FlowView]:
    flow = flow_definition(item)
    record = state.record(flow, context.member.member_id)
    view = evaluate_flow(
        flow,
        state.marks.get(flow.id, ()),
        engine_viewer(context),
        [member.engine for member in members],
        record,
    )
    return flow, view


async def flows(
    context: Context, locale: str | None, phase: str | None, flow_id: str | None = None
) -> list[FlowObject]:
    """The viewer's flows (of one phase, or the one with `flow_id`), evaluated."""
    state = await context.loaders.viewer_state()
    members = await context.loaders.members()
    result = []
    for item in visible_flows(context, state, locale):
        if (phase is not None and item.phase != phase) or flow_id not in (None, item.id):
            continue
        flow, view = evaluate(context, item, state, members)
        record = state.record(flow, context.member.member_id)
        result.append(build_flow(item, view, state, members, record and record.completed_at))
    return result


async def flow(context: Context, flow_id: str, locale: str | None) -> FlowObject | None:
    return next(iter(await flows(context, locale, None, flow_id)), None)


def user_error(
    code: ErrorCode | str,
    message: str,
    field_path: Sequence[str] = (),
    roles: Sequence[str] = (),
    candidates: Sequence[MemberView] = (),
) -> UserErrorObject:
    return UserErrorObject(str(code), message, list(field_path), list(roles), list(candidates))


def _errors_from_outcome(outcome: Mapping[str, Any]) -> list[UserErrorObject]:
    return [
        UserErrorObject(e["code"], e["message"], e["field"], e.get("roles", []))
        for e in outcome.get("errors", [])
    ]


def _outcome(errors: Sequence[UserErrorObject]) -> dict[str, Any]:
    return {
        "errors": [
            {"code": e.code, "message": e.message, "field": e.field, "roles": e.roles}
            for e in errors
        ]
    }


async def step_payload(
    context: Context,
    flow_id: str,
    step_id: str,
    errors: list[UserErrorObject],
    state: ViewerState | None = None,
) -> StepPayloadObject:
    """The payload after a change: the flow as it stands now. Read fresh, unless the
    transaction that made the change hands over the state it left."""
    _reload(context, state)
    current = await flow(context, flow_id, None)
    step = next((s for s in current.steps if s.id == step_id), None) if current else None
    return StepPayloadObject(step=step, flow=current, user_errors=errors)


ACTIONS = {
    "complete": (Action.COMPLETE, "done", ("done",), "step.completed"),
    "skip": (Action.SKIP, "skipped", ("done", "skipped"), "step.skipped"),
    "reopen": (Action.REOPEN, "", (), "step.reopened"),
}


MAX_KEY = 128


def invalid_text(**values: str | None) -> UserErrorObject | None:
    """Strings Heed cannot store (Postgres refuses NUL) or keys over their column's size."""
    for name, value in values.items():
        if value is None:
            continue
        if "\x00" in value:
            return user_error("INVALID_INPUT", f"{name} contains a NUL character", ("input", name))
        if name == "idempotencyKey" and len(value) > MAX_KEY:
            return user_error(
                "INVALID_INPUT", f"idempotencyKey is longer than {MAX_KEY}", ("input", name)
            )
    return None


async def replayed(
    context: Context, operation: str, idempotency_key: str | None, target: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The stored outcome of this key, or a conflict error if it was used for something else."""
    ref = context.member_ref
    assert ref is not None
    outcome = await idempotent_outcome(
        ref.organization_pk, context.member.member_id, idempotency_key, operation
    )
    if outcome is None:
        return None
    if "conflict" in outcome or outcome.get("target", target) != target:
        used = outcome.get("conflict", operation)
        return {
            "errors": [
                {
                    "code": "IDEMPOTENCY_CONFLICT",
                    "message": f"this idempotency key was already used for another {used}",
                    "field": ["input", "idempotencyKey"],
                }
            ]
        }
    return outcome


async def change_step(
    context: Context, name: str, flow_id: str, step_id: str, idempotency_key: str | None
) -> StepPayloadObject:
    bad = invalid_text(flowId=flow_id, stepId=step_id, idempotencyKey=idempotency_key)
    if bad is not None:
        return StepPayloadObject(None, None, [bad])
    target = {"flowId": flow_id, "stepId": step_id}
    replay = await replayed(context, name, idempotency_key, target)
    if replay is not None:
        return await step_payload(context, flow_id, step_id, _errors_from_outcome(replay))
    errors, state = await _apply(context, name, flow_id, step_id, idempotency_key, target)
    return await step_payload(context, flow_id, step_id, errors, state)


async def _apply(
    context: Context,
    name: str,
    flow_id: str,
    step_id: str,
    idempotency_key: str | None,
    target: Mapping[str, Any],
) -> tuple[list[UserErrorObject], ViewerState | None]:
    """The change in one transaction; its errors, and the state it left (None: read again)."""
    action = ACTIONS[name][0]
    member = context.member
    ref = context.member_ref
    assert ref is not None
    members = await context.loaders.members()
    events: list[dict[str, Any]] = []
    try:
        async with in_transaction() as connection:
            await bump_state_version(ref.organization_pk, connection)
            # Checked on the state as it is now, inside the lock, not as the request began.
            state = await load_viewer_state(ref.organization_pk, member.member_id, connection)
            item = next((f for f in visible_flows(context, state, None) if f.id == flow_id), None)
            if item is None:
                error = user_error(ErrorCode.NOT_FOUND, f"no flow {flow_id!r}", ("input", "flowId"))
                return [error], state
            flow = flow_definition(item)
            problem = check_action(
                flow,
                state.marks.get(flow.id, ()),
                engine_viewer(context),
                step_id,
                action,
                [m.engine for m in members],
            )
            errors = (
                []
                if problem is None or problem.code in SUCCESS_CODES
                else [_action_error(problem, members, step_id)]
            )
            if problem is None:
                events += await _change(context, name, flow, step_id, state, connection)
            await remember_outcome(
                ref.organization_pk,
                member.member_id,
                idempotency_key,
                name,
                {**_outcome(errors), "target": dict(target)},
                connection,
            )
    except IntegrityError:
        # The same idempotency key committed first, concurrently: replay its outcome.
        replay = await replayed(context, name, idempotency_key, target)
        return _errors_from_outcome(replay or {}), None
    for event in events:
        context.progress_hub.deliver_local(event)
    return errors, state


async def _change(
    context: Context,
    name: str,
    flow: FlowDef,
    step_id: str,
    state: ViewerState,
    connection: Any,
) -> list[dict[str, Any]]:
    """Inside the transaction: move the step (in the database and in `state`), then what
    follows from it. Nothing follows when a concurrent request moved it first."""
    action, new_state, unless, event_name = ACTIONS[name]
    ref = context.member_ref
    assert ref is not None
    member_key = context.member.member_id
    step = next(s for s in flow.steps if s.id == step_id)
    owner_key = mark_key(step, engine_viewer(context), action) or ORG_KEY
    now = dt.datetime.now(dt.UTC)
    if action is Action.REOPEN:
        changed = await clear_step_state(
            ref.organization_pk, owner_key, flow.id, step_id, connection
        )
        if changed:
            state.drop_mark(flow.id, step_id, owner_key)
        if changed and not step.optional:
            record_key = flow_record_key(flow, member_key)
            await forget_flow_completion(ref.organization_pk, record_key, flow.id, connection)
            state.set_completed_at(flow.id, record_key, None)
    else:
        changed = await set_step_state(
            ref.organization_pk,
            owner_key,
            flow,
            step_id,
            new_state,
            ref.member_pk,
            now,
            connection,
            unless=unless,
        )
        if changed:
            state.put_mark(
                flow.id, owner_key, step_id, new_state, ref.member_pk, now, flow.revision
            )
    if not changed:
        return []
    return await _after_change(
        context, flow, step_id, event_name, owner_key, state, now, connection
    )


def _action_error(
    problem: ActionError, members: Sequence[MemberRow], step_id: str
) -> UserErrorObject:
    by_id = {member.id: member for member in members}
    return user_error(
        problem.code,
        problem.message,
        ("input", "stepId"),
        problem.roles,
        [member_view(by_id[c]) for c in problem.candidates if c in by_id],
    )


async def _after_change(
    context: Context,
    flow: FlowDef,
    step_id: str,
    event_name: str,
    owner_key: str,
    state: ViewerState,
    now: dt.datetime,
    connection: Any,
) -> list[dict[str, Any]]:
    """Inside the transaction: the event, help requests, flow completion, the notification."""
    ref = context.member_ref
    assert ref is not None
    member = context.member
    await record_event(
        ref.organization_pk,
        ref.member_pk,
        "step",
        event_name,
        {
            "flowId": flow.id,
            "stepId": step_id,
            "revision": flow.revision,
            "scope": "organization" if owner_key == ORG_KEY else "user",
        },
        connection,
    )
    if event_name == "step.completed":
        await resolve_help_requests(
            ref.organization_pk,
            flow.id,
            step_id,
            ref.member_pk,
            now,
            connection,
            invitee_pk=None if owner_key == ORG_KEY else ref.member_pk,
        )
        await _record_completion(context, flow, state, now, connection)
    notice = {
        "organizationId": member.organization_id,
        "flowId": flow.id,
        "stepId": step_id,
        "action": event_name.removeprefix("step."),
        "memberId": member.member_id,
        "at": now.isoformat(),
    }
    await context.progress_hub.announce(notice, connection)
    return [notice]


async def _record_completion(
    context: Context, flow: FlowDef, state: ViewerState, now: dt.datetime, connection: Any
) -> None:
    ref = context.member_ref
    assert ref is not None
    member_key = context.member.member_id
    view = evaluate_flow(
        flow,
        state.marks.get(flow.id, ()),
        engine_viewer(context),
        (),
        state.record(flow, member_key),
    )
    if view.completed_now:
        record_key = flow_record_key(flow, member_key)
        await mark_flow_completed(
            ref.organization_pk, record_key, flow, ref.member_pk, now, connection
        )
        state.set_completed_at(flow.id, record_key, now)
        await record_event(
            ref.organization_pk,
            ref.member_pk,
            "flow",
            "flow.completed",
            {"flowId": flow.id, "revision": flow.revision},
            connection,
        )


@dataclass
class TrackPayloadObject:
    completed_steps: list[StepObject]
    user_errors: list[UserErrorObject]


async def track(
    context: Context, event: str, properties: Any, idempotency_key: str | None
) -> TrackPayloadObject:
    """Record an app event; the steps that complete on it, and that this viewer could
    complete by hand (roles held, prerequisites done), are completed."""
    ref = context.member_ref
    assert ref is not None
    member = context.member
    problem = _track_input_problem(event, properties, idempotency_key)
    if problem is not None:
        return TrackPayloadObject([], [problem])
    target = {"event": event}
    replay = await replayed(context, "track", idempotency_key, target)
    if replay is not None:
        return TrackPayloadObject(
            await _steps_now(context, replay.get("completed", [])), _errors_from_outcome(replay)
        )
    events: list[dict[str, Any]] = []
    completed: list[tuple[str, str]] = []
    viewer = engine_viewer(context)
    try:
        async with in_transaction() as connection:
            await bump_state_version(ref.organization_pk, connection)
            state = await load_viewer_state(ref.organization_pk, member.member_id, connection)
            definitions = {
                item.id: flow_definition(item) for item in visible_flows(context, state, None)
            }
            await record_event(
                ref.organization_pk, ref.member_pk, "app", event, properties or {}, connection
            )
            for flow_id, step_id in steps_completed_by_event(list(definitions.values()), event):
                flow = definitions[flow_id]
                if check_action(
                    flow, state.marks.get(flow.id, ()), viewer, step_id, Action.COMPLETE
                ):
                    continue  # locked, someone else's role, or done already
                changes = await _change(context, "complete", flow, step_id, state, connection)
                if changes:
                    completed.append((flow_id, step_id))
                    events += changes
            await remember_outcome(
                ref.organization_pk,
                member.member_id,
                idempotency_key,
                "track",
                {"completed": completed, "target": target},
                connection,
            )
    except IntegrityError:
        replay = await replayed(context, "track", idempotency_key, target)
        return TrackPayloadObject(
            await _steps_now(context, (replay or {}).get("completed", [])),
            _errors_from_outcome(replay or {}),
        )
    for notice in events:
        context.progress_hub.deliver_local(notice)
    return TrackPayloadObject(await _steps_now(context, completed, state), [])


def _track_input_problem(
    event: str, properties: Any, idempotency_key: str | None
) -> UserErrorObject | None:
    if not event or len(event) > 200:
        return user_error("INVALID_INPUT", "event must be 1 to 200 characters", ("input", "event"))
    if properties is not None and not isinstance(properties, dict):
        return user_error(
            "INVALID_INPUT", "properties must be a JSON object", ("input", "properties")
        )
    if "\\u0000" in orjson.dumps(properties or {}).decode():
        return user_error(
            "INVALID_INPUT", "properties contain a NUL character", ("input", "properties")
        )
    return invalid_text(event=event, idempotencyKey=idempotency_key)


async def _steps_now(
    context: Context, keys: Sequence[Sequence[str]], state: ViewerState | None = None
) -> list[StepObject]:
    """The given (flow id, step id) steps as they stand now."""
    if not keys:
        return []
    _reload(context, state)
    current = {f.id: f for f in await flows(context, None, None)}
    return [
        step
        for flow_id, step_id in keys
        if flow_id in current
        for step in current[flow_id].steps
        if step.id == step_id
    ]


def _reload(context: Context, state: ViewerState | None) -> None:
    """Loaders for reading after this request's write: fresh, or primed with the state the
    write's transaction left (a step change changes no member, so members carry over)."""
    context.loaders = (
        context.loaders.after_write(state) if state is not None else context.fresh_loaders()
    )


@dataclass(frozen=True)
class ProgressEventObject:
    organization_id: str
    flow_id: str
    step_id: str
    action: str
    member_id: str
    at: dt.datetime


async def progress_events(context: Context) -> AsyncIterator[ProgressEventObject]:
    """Changes in the viewer's own organization only: the hub is keyed by organization."""
    async for event in context.progress_hub.subscribe(context.member.organization_id):
        yield ProgressEventObject(
            organization_id=event["organizationId"],
            flow_id=event["flowId"],
            step_id=event["stepId"],
            action=event["action"],
            member_id=event["memberId"],
            at=dt.datetime.fromisoformat(event["at"]),
        )
