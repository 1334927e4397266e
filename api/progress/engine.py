"""The step-status engine: what each step looks like to one viewer, computed, never stored.

Pure functions over frozen dataclasses (no I/O, no ORM, no GraphQL): the use cases feed it
the rows the store read, and tests check it exhaustively.

How marks apply (`current_marks`):

- A user-scope step reads the viewer's own marks (`member_id == viewer.id`).
- An organization-scope step reads the organization's marks (`member_id is None`): done once,
  for everyone. A member who holds none of the step's roles cannot decide for the whole
  organization, so their skip is stored under their own id (see `mark_key`) and shows
  `SKIPPED` to them only; an organization-level mark still wins over it.
- Marks on steps no longer in the flow are ignored (a removed step drops out). If several marks
  apply to one step the latest `at` wins (the database keeps one per key; be robust anyway).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple

from api.errors import ErrorCode

MarkState = Literal["done", "skipped"]
_MARK_STATES: frozenset[str] = frozenset({"done", "skipped"})


class StepStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    LOCKED = "LOCKED"
    NEEDS_ROLE = "NEEDS_ROLE"
    DONE = "DONE"
    SKIPPED = "SKIPPED"


class FlowState(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    DISMISSED = "DISMISSED"


class Scope(StrEnum):
    USER = "user"
    ORGANIZATION = "organization"


class Action(StrEnum):
    COMPLETE = "COMPLETE"
    SKIP = "SKIP"
    REOPEN = "REOPEN"


@dataclass(frozen=True)
class StepDef:
    id: str
    scope: Scope = Scope.USER
    roles: frozenset[str] = frozenset()  # empty: anyone
    requires: tuple[str, ...] = ()  # step ids of the same flow that must be DONE first
    optional: bool = False  # optional steps do not count towards progress or completion
    skippable: bool = True
    completes_on: str | None = None  # app event that completes the step


@dataclass(frozen=True)
class FlowDef:
    id: str
    revision: int
    steps: tuple[StepDef, ...]

    @functools.cached_property
    def step_ids(self) -> frozenset[str]:
        return frozenset(step.id for step in self.steps)

    @functools.cached_property
    def organization_wide(self) -> bool:
        """Made only of organization steps: completed once for the whole account."""
        return bool(self.steps) and all(step.scope is Scope.ORGANIZATION for step in self.steps)


@dataclass(frozen=True)
class Mark:
    step_id: str
    member_id: str | None  # None: the organization's mark (org scope)
    state: MarkState
    by: str  # member id of who made it
    at: datetime
    revision: int  # flow revision it was made on


@dataclass(frozen=True)
class Member:
    id: str
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FlowRecord:
    """Completion/dismissal stored per viewer+flow (user flows) or per organization (org)."""

    completed_at: datetime | None = None
    dismissed_at: datetime | None = None


class StepView(NamedTuple):
    """Built for every step of every answer: a tuple costs half a frozen dataclass."""

    step_id: str
    status: StepStatus
    done_by: str | None  # member id, only when DONE
    done_at: datetime | None  # only when DONE
    candidates: tuple[str, ...]  # members who could do it, only when NEEDS_ROLE
    missing_requires: tuple[str, ...]  # required steps not DONE for this viewer


@dataclass(frozen=True)
class FlowView:
    flow_id: str
    steps: tuple[StepView, ...]
    done: int
    total: int
    percent: float
    state: FlowState
    next_step_id: str | None
    completed_now: bool  # just became complete with nothing recorded: persist completed_at


@dataclass(frozen=True)
class ActionError:
    code: ErrorCode
    message: str
    roles: tuple[str, ...] = ()  # ROLE_REQUIRED: roles allowed, sorted
    candidates: tuple[str, ...] = ()  # ROLE_REQUIRED: members holding one of them
    missing: tuple[str, ...] = ()  # STEP_LOCKED: required steps not done yet


def holds_role(step: StepDef, viewer: Member) -> bool:
    """Whether the viewer may do the step (a step without roles is open to anyone)."""
    return not step.roles or not step.roles.isdisjoint(viewer.roles)


def mark_key(step: StepDef, viewer: Member, action: Action) -> str | None:
    """The `member_id` to write (COMPLETE, SKIP) or delete (REOPEN) the viewer's mark under.

    Org-scope steps are decided for the organization (None) by members who hold a role;
    a member without one skips or reopens only for themselves (check_action refuses them
    COMPLETE, and REOPEN of an organization-level mark).
    """
    if step.scope is Scope.USER:
        return viewer.id
    if action is Action.COMPLETE or holds_role(step, viewer):
        return None
    return viewer.id


def _latest(marks: Sequence[Mark]) -> Mark | None:
    if len(marks) < 2:  # the database keeps one per key: almost always the case
        return marks[0] if marks else None
    # Ties are broken on the other fields ("done" first), so row order never matters.
    return max(marks, key=lambda m: (m.at, m.state == "done", m.revision, m.by), default=None)


def current_marks(flow: FlowDef, marks: Iterable[Mark], viewer: Member) -> dict[str, Mark]:
    """The one mark that decides each step's status for this viewer (steps without one absent).

    See the module docstring for which marks apply.
    """
    step_ids = flow.step_ids
    org: dict[str, list[Mark]] = {}
    own: dict[str, list[Mark]] = {}
    for mark in marks:
        if mark.step_id not in step_ids or mark.state not in _MARK_STATES:
            continue
        if mark.member_id is None:
            org.setdefault(mark.step_id, []).append(mark)
        elif mark.member_id == viewer.id:
            own.setdefault(mark.step_id, []).append(mark)
    result: dict[str, Mark] = {}
    if not org and not own:
        return result
    for step in flow.steps:
        if step.scope is Scope.USER:
            mark = _latest(own.get(step.id, ()))
        else:
            mark = _latest(org.get(step.id, ()))
            if mark is None and not holds_role(step, viewer):
                mark = _latest([m for m in own.get(step.id, ()) if m.state == "skipped"])
        if mark is not None:
            result[step.id] = mark
    return result


def _candidates(step: StepDef, viewer: Member, members: Sequence[Member]) -> tuple[str, ...]:
    ids = (m.id for m in members if m.id != viewer.id and not step.roles.isdisjoint(m.roles))
    return tuple(dict.fromkeys(ids))


def _step_views(
    flow: FlowDef, current: dict[str, Mark], viewer: Member, members: Sequence[Member]
) -> tuple[StepView, ...]:
    step_ids = flow.step_ids
    done_ids = {step_id for step_id, mark in current.items() if mark.state == "done"}
    views = []
    for step in flow.steps:
        # A require naming a removed step cannot be met any more, so it no longer binds.
        missing = (
            tuple(dict.fromkeys(r for r in step.requires if r in step_ids and r not in done_ids))
            if step.requires
            else ()
        )
        mark = current.get(step.id)
        if mark is not None and mark.state == "done":
            views.append(StepView(step.id, StepStatus.DONE, mark.by, mark.at, (), missing))
            continue
        candidates: tuple[str, ...] = ()
        if mark is not None:
            status = StepStatus.SKIPPED
        elif missing:
            status = StepStatus.LOCKED
        elif not holds_role(step, viewer):
            status = StepStatus.NEEDS_ROLE
            candidates = _candidates(step, viewer, members)
        else:
            status = StepStatus.AVAILABLE
        views.append(StepView(step.id, status, None, None, candidates, missing))
    return tuple(views)


def _doable(step: StepDef, view: StepView, viewer: Member) -> bool:
    """A skipped step the viewer could still complete now."""
    return (
        view.status is StepStatus.SKIPPED and not view.missing_requires and holds_role(step, viewer)
    )


def evaluate_flow(
    flow: FlowDef,
    marks: Iterable[Mark],
    viewer: Member,
    members: Sequence[Member] = (),
    record: FlowRecord | None = None,
) -> FlowView:
    """The flow as this viewer sees it: step statuses, progress, state and next step.

    `members` are the organization's members, used only to name who can do a NEEDS_ROLE step.
    A recorded completion keeps the flow COMPLETED after new steps appear; `completed_now`
    tells the caller to record one.
    """
    current = current_marks(flow, marks, viewer)
    views = _step_views(flow, current, viewer, members)
    required = [v for s, v in zip(flow.steps, views, strict=True) if not s.optional]
    total = len(required)
    done = sum(v.status is StepStatus.DONE for v in required)
    all_done = bool(flow.steps) and done == total
    recorded = record is not None and record.completed_at is not None
    if recorded or all_done:
        state = FlowState.COMPLETED
    elif record is not None and record.dismissed_at is not None:
        state = FlowState.DISMISSED
    elif current:
        state = FlowState.IN_PROGRESS
    else:
        state = FlowState.NOT_STARTED
    if total:
        percent = round(100 * done / total, 1)
    else:
        percent = 100.0 if state is FlowState.COMPLETED else 0.0
    next_step = next((v.step_id for v in views if v.status is StepStatus.AVAILABLE), None)
    if next_step is None:
        next_step = next(
            (s.id for s, v in zip(flow.steps, views, strict=True) if _doable(s, v, viewer)),
            None,
        )
    return FlowView(
        flow_id=flow.id,
        steps=views,
        done=done,
        total=total,
        percent=percent,
        state=state,
        next_step_id=next_step,
        completed_now=all_done and not recorded,
    )


def check_action(
    flow: FlowDef,
    marks: Iterable[Mark],
    viewer: Member,
    step_id: str,
    action: Action,
    members: Sequence[Member] = (),
) -> ActionError | None:
    """Why the viewer may not do `action` on the step now, or None if they may.

    ALREADY_DONE (complete or skip of a DONE step) and ALREADY_SKIPPED (skip of a SKIPPED
    step) mean nothing needs writing: callers may answer them as idempotent successes.
    Skipping a LOCKED or NEEDS_ROLE step is allowed: that is the escape hatch. On None, write
    or delete the mark under `mark_key(step, viewer, action)`.
    """
    step = next((s for s in flow.steps if s.id == step_id), None)
    if step is None:
        return ActionError(ErrorCode.NOT_FOUND, f"Flow '{flow.id}' has no step '{step_id}'.")
    current = current_marks(flow, marks, viewer)
    index = flow.steps.index(step)
    view = _step_views(flow, current, viewer, members)[index]
    status = view.status
    roles = tuple(sorted(step.roles))

    def role_required(verb: str) -> ActionError:
        return ActionError(
            ErrorCode.ROLE_REQUIRED,
            f"Only members with the role {' or '.join(roles)} can {verb} step '{step.id}'.",
            roles=roles,
            candidates=_candidates(step, viewer, members),
        )

    if action is Action.COMPLETE:
        if status is StepStatus.DONE:
            return ActionError(ErrorCode.ALREADY_DONE, f"Step '{step.id}' is already done.")
        if view.missing_requires:
            return ActionError(
                ErrorCode.STEP_LOCKED,
                f"Step '{step.id}' is locked until these steps are done: "
                f"{', '.join(view.missing_requires)}.",
                missing=view.missing_requires,
            )
        if not holds_role(step, viewer):
            return role_required("complete")
        return None
    if action is Action.SKIP:
        if status is StepStatus.DONE:
            return ActionError(ErrorCode.ALREADY_DONE, f"Step '{step.id}' is already done.")
        if not step.skippable:
            return ActionError(ErrorCode.NOT_SKIPPABLE, f"Step '{step.id}' cannot be skipped.")
        if status is StepStatus.SKIPPED:
            return ActionError(ErrorCode.ALREADY_SKIPPED, f"Step '{step.id}' is already skipped.")
        return None
    mark = current.get(step.id)
    if mark is None:
        return ActionError(ErrorCode.NOT_DONE, f"Step '{step.id}' is neither done nor skipped.")
    if mark.member_id is None and not holds_role(step, viewer):  # the organization's mark
        return role_required("reopen")
    return None


def steps_completed_by_event(flows: Iterable[FlowDef], event: str) -> list[tuple[str, str]]:
    """(flow id, step id) of every step whose `completes_on` is this app event, in order.

    The host app already gated the action itself, so callers usually record these marks
    (under `mark_key(step, viewer, Action.COMPLETE)`) without check_action's role and lock
    checks, leaving steps that are already DONE alone.
    """
    return [
        (flow.id, step.id) for flow in flows for step in flow.steps if step.completes_on == event
    ]
