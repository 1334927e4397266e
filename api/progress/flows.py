"""Flows as one viewer sees them: which flows they get, and each step's status in them.

Plain functions over the catalog and the state read for the request; the answers are plain
data (`FlowResult`) that the GraphQL layer turns into its types.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.actor import Actor
from api.content import Catalog, Item, audience_matches
from api.content.store import LiveRelease, served_catalog
from api.progress.engine import FlowView, Member, evaluate_flow
from api.progress.reads import Reads
from api.progress.store import MemberRow, ViewerState, completed_flow_ids, flow_definition


@dataclass(frozen=True)
class StepResult:
    """Who did a step, who is assigned, who could: the members behind a step's view."""

    done_by: MemberRow | None
    assignee: MemberRow | None
    candidates: tuple[MemberRow, ...]


NOBODY = StepResult(None, None, ())  # a step nobody did, nobody is assigned, anyone can do


@dataclass(frozen=True)
class FlowResult:
    item: Item
    view: FlowView
    completed_at: dt.datetime | None
    steps: Mapping[str, StepResult]
    requested_locale: str = ""  # the locale asked for, when it differs from the item's


def visible_flows(actor: Actor, catalog: Catalog, state: ViewerState, locale: str) -> list[Item]:
    """The flows this viewer's audience gets, prerequisites (`after`) included; the admin
    key acting for the organization (no member) sees every flow."""
    # Flows the viewer has progress on stay listed even without their locale's translation.
    flows = [
        resolved.item
        for resolved in catalog.items(kind="flow", locale=locale, engaged=state.marks.keys())
    ]
    if actor.member_pk is None:
        return flows
    completed = completed_flow_ids(state, flows, actor.member_id)
    return [
        item
        for item in flows
        if audience_matches(item.audience, actor.roles, actor.attributes, locale, completed)
    ]


def evaluate(
    item: Item,
    viewer: Member,
    state: ViewerState,
    members: Sequence[MemberRow],
    requested_locale: str = "",
) -> FlowResult:
    """One flow for one viewer: the engine's view, and the members it names; with the
    locale the viewer asked for, so the answer tells when it is a fallback."""
    flow = flow_definition(item)
    record = state.record(flow, viewer.id)
    view = evaluate_flow(
        flow, state.marks.get(flow.id, ()), viewer, [m.engine for m in members], record
    )
    by_pk = {member.pk: member for member in members}
    by_id = {member.id: member for member in members}
    assignees = state.assignees
    steps = {
        v.step_id: StepResult(
            done_by=by_pk.get(int(v.done_by)) if v.done_by else None,
            assignee=by_pk.get(assignees.get((flow.id, v.step_id), -1)) if assignees else None,
            candidates=tuple(by_id[c] for c in v.candidates if c in by_id) if v.candidates else (),
        )
        if v.done_by or v.candidates or assignees
        else NOBODY
        for v in view.steps
    }
    completed_at = record.completed_at if record else None
    return FlowResult(item, view, completed_at, steps, requested_locale)


def find_flow(
    actor: Actor, catalog: Catalog, state: ViewerState, locale: str, flow_id: str
) -> Item | None:
    return next(
        (item for item in visible_flows(actor, catalog, state, locale) if item.id == flow_id),
        None,
    )


async def viewer_flows(
    actor: Actor,
    release: LiveRelease | None,
    reads: Reads,
    locale: str,
    phase: str | None = None,
    flow_id: str | None = None,
) -> list[FlowResult]:
    """The viewer's flows (of one phase, or the one with `flow_id`), evaluated."""
    state = await reads.viewer_state()
    members = await reads.members()
    catalog = served_catalog(release)
    requested = catalog.chain(locale)[0]
    return [
        evaluate(item, actor.engine, state, members, requested)
        for item in visible_flows(actor, catalog, state, locale)
        if (phase is None or item.phase == phase) and flow_id in (None, item.id)
    ]
