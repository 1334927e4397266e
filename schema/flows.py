"""Checklists and tours with each step's status for the viewer, and the step mutations."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from api.content.model import Step as ContentStep
from api.content.model import TourPlacement as DomainTourPlacement
from api.progress import engine
from api.progress.flows import FlowResult
from api.progress.live import ProgressAction as DomainProgressAction
from api.progress.steps import StepChanged
from api.progress.store import MemberRow
from resolvers import flows as resolve
from schema.content import Phase
from schema.errors import UserError
from schema.members import Member
from schema.permissions import ReadsAsMember

StepStatus = strawberry.enum(
    engine.StepStatus, description="A step as this viewer sees it; computed, never stored."
)
StepScope = strawberry.enum(
    engine.Scope, name="StepScope", description="Who does a step: each member, or the account once."
)
FlowState = strawberry.enum(engine.FlowState, description="Where a flow stands for this viewer.")
SCOPES = {scope.value: scope for scope in engine.Scope}  # a content step's scope, as the enum
TourPlacement = strawberry.enum(
    DomainTourPlacement, name="TourPlacement", description="Where a tour's tooltip sits."
)
ProgressAction = strawberry.enum(
    DomainProgressAction, name="ProgressAction", description="What happened to a step or flow."
)


@strawberry.type(description="A step's button: its text and where it leads.")
class CallToAction:
    label: str
    url: str = strawberry.field(
        description="An app path (`/settings`), an https URL, or `heed:<content item id>`."
    )

    @classmethod
    def maybe(cls, cta: Mapping[str, str] | None) -> CallToAction | None:
        return cls(label=cta["label"], url=cta["url"]) if cta is not None else None


@strawberry.type(description="Where a product tour points for a step.")
class TourHint:
    selector: str = strawberry.field(description="CSS selector of the element.")
    placement: TourPlacement  # type: ignore[valid-type]
    route: str | None = strawberry.field(description="App route where the element lives.")

    @classmethod
    def maybe(cls, tour: Mapping[str, str | None] | None) -> TourHint | None:
        if tour is None:
            return None
        return cls(
            selector=tour["selector"] or "",
            placement=DomainTourPlacement(tour.get("placement") or DomainTourPlacement.AUTO),
            route=tour.get("route"),
        )


@strawberry.type(description="Done steps over the steps that count (not optional ones).")
class Progress:
    done: int
    total: int
    percent: float


@strawberry.type(description="A step of a flow, as this viewer sees it.")
class Step:
    id: strawberry.ID
    title: str
    status: StepStatus  # type: ignore[valid-type]
    scope: StepScope  # type: ignore[valid-type]
    # Sequences: a step's roles and requires are its content's tuples, shared, never copied.
    roles: Sequence[str]
    candidates: Sequence[Member] = strawberry.field(
        description="NEEDS_ROLE: members who hold an allowed role."
    )
    requires: Sequence[strawberry.ID]
    optional: bool
    skippable: bool
    completes_on: str | None = strawberry.field(description="App event that completes it.")
    completed_by: Member | None
    completed_at: dt.datetime | None
    assignee: Member | None
    body_markdown: str
    body_html: str
    content: strawberry.Private[ContentStep]

    @strawberry.field
    def body_tree(self) -> JSON:
        """Decoded only when a query asks for it."""
        return self.content.body_tree

    @strawberry.field(description="The locale its text is in (the source's if not translated).")
    def locale(self) -> str:
        return self.content.locale  # type: ignore[attr-defined]

    # Built only when a query asks for them, like the body tree.

    @strawberry.field(description="The step's button.")
    def cta(self) -> CallToAction | None:
        return CallToAction.maybe(self.content.cta)

    @strawberry.field(description="Where a product tour points.")
    def tour(self) -> TourHint | None:
        return TourHint.maybe(self.content.tour)


@strawberry.type(description="A checklist or tour, with each step's status for this viewer.")
class Flow:
    id: strawberry.ID
    title: str
    summary: str
    phase: Phase  # type: ignore[valid-type]
    locale: str
    revision: int
    state: FlowState  # type: ignore[valid-type]
    progress: Progress
    next_step: Step | None
    steps: list[Step]
    completed_at: dt.datetime | None
    requested_locale: str = strawberry.field(description="The locale asked for.")
    is_fallback: bool = strawberry.field(
        description="Served in another locale than asked (no translation of this flow)."
    )
    fallback_steps: list[strawberry.ID] = strawberry.field(
        description="Steps not translated yet, served in the source's locale (see Step.locale)."
    )

    @classmethod
    def from_result(cls, result: FlowResult) -> Flow:
        item, view = result.item, result.view
        known: dict[str, Member] = {}  # a teammate is a candidate of many steps: built once

        def member(row: MemberRow) -> Member:
            found = known.get(row.id)
            if found is None:
                found = known[row.id] = Member.from_row(row)
            return found

        steps = []
        # The engine's views follow the flow's steps, in order.
        for step, step_view in zip(item.steps, view.steps, strict=True):
            members = result.steps[step_view.step_id]
            steps.append(
                Step(
                    id=strawberry.ID(step.id),
                    title=step.title,
                    status=step_view.status,
                    scope=SCOPES[step.scope],
                    roles=step.roles,
                    candidates=[member(m) for m in members.candidates]
                    if members.candidates
                    else (),
                    requires=cast(tuple[strawberry.ID, ...], step.requires),  # ID is str
                    optional=step.optional,
                    skippable=step.skippable,
                    completes_on=step.completes_on,
                    completed_by=member(members.done_by) if members.done_by else None,
                    completed_at=step_view.done_at,
                    assignee=member(members.assignee) if members.assignee else None,
                    body_markdown=step.body_markdown,
                    body_html=step.body_html,
                    content=step,
                )
            )
        return cls(
            id=strawberry.ID(item.id),
            title=item.title,
            summary=item.summary,
            phase=Phase(item.phase),
            locale=item.locale,
            revision=item.revision,
            state=view.state,
            progress=Progress(done=view.done, total=view.total, percent=view.percent),
            next_step=next((s for s in steps if s.id == view.next_step_id), None),
            steps=steps,
            completed_at=result.completed_at,
            requested_locale=result.requested_locale or item.locale,
            is_fallback=bool(result.requested_locale) and result.requested_locale != item.locale,
            fallback_steps=[strawberry.ID(s) for s in item.fallback_steps],
        )

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


@strawberry.type(description="A step after a change, with its flow; or why not.")
class StepPayload:
    step: Step | None = None
    flow: Flow | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def from_change(cls, changed: StepChanged) -> StepPayload:
        flow = Flow.from_result(changed.flow)
        return cls(step=flow.step(changed.step_id), flow=flow)


@strawberry.type(description="The steps an app event completed.")
class TrackPayload:
    completed_steps: list[Step] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="A member's flow after a reset; or why not.")
class ResetProgressPayload:
    flow: Flow | None = strawberry.field(
        default=None, description="The flow as the member now sees it."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="A step of a flow; a retry with the same key changes nothing twice.")
class StepInput:
    flow_id: strawberry.ID
    step_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input(description="An app event, with any properties the host sends.")
class TrackInput:
    event: str
    properties: JSON | None = None
    idempotency_key: str | None = None


@strawberry.input(description="Whose progress on which flow to clear.")
class ResetProgressInput:
    member_id: strawberry.ID
    flow_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.type
class FlowsQuery:
    @strawberry.field(
        description="The flows this viewer's audience gets, with their state.",
        permission_classes=[ReadsAsMember],
    )
    async def flows(
        self, info: strawberry.Info, locale: str | None = None, phase: Phase | None = None
    ) -> list[Flow]:
        return await resolve.flows(info, locale, phase)

    @strawberry.field(
        description="One flow, with its state, if this viewer's audience gets it.",
        permission_classes=[ReadsAsMember],
    )
    async def flow(
        self, info: strawberry.Info, id: strawberry.ID, locale: str | None = None
    ) -> Flow | None:
        return await resolve.flow(info, id, locale)


@strawberry.type
class FlowsMutation:
    @strawberry.mutation(description="Mark a step done (org steps: for the whole organization).")
    async def complete_step(self, info: strawberry.Info, input: StepInput) -> StepPayload:
        return await resolve.change_step(info, engine.Action.COMPLETE, input)

    @strawberry.mutation(description="Skip a step for now; it can be done later.")
    async def skip_step(self, info: strawberry.Info, input: StepInput) -> StepPayload:
        return await resolve.change_step(info, engine.Action.SKIP, input)

    @strawberry.mutation(description="Undo a done or skipped step.")
    async def reopen_step(self, info: strawberry.Info, input: StepInput) -> StepPayload:
        return await resolve.change_step(info, engine.Action.REOPEN, input)

    @strawberry.mutation(description="Report an app event; steps that complete on it complete.")
    async def track(self, info: strawberry.Info, input: TrackInput) -> TrackPayload:
        return await resolve.track(info, input)

    @strawberry.mutation(
        description=(
            "Admin key with X-Heed-Organization: clear one member's own marks and completion"
            " on a flow, so they start it again (the organization's marks stay)."
        )
    )
    async def reset_progress(
        self, info: strawberry.Info, input: ResetProgressInput
    ) -> ResetProgressPayload:
        return await resolve.reset_progress(info, input)


@strawberry.type(description="Something changed in the viewer's organization's onboarding.")
class ProgressEvent:
    organization_id: strawberry.ID
    flow_id: strawberry.ID
    step_id: strawberry.ID | None = strawberry.field(
        description="The step; null when the change is to the whole flow (RESET)."
    )
    action: ProgressAction  # type: ignore[valid-type]
    member_id: strawberry.ID | None = strawberry.field(
        description="Who did it; null when it was the admin key (RESET), and for RESYNC."
    )
    at: dt.datetime
    badge_id: strawberry.ID | None = strawberry.field(
        default=None, description="badge_earned: the badge."
    )

    @classmethod
    def from_notice(cls, notice: dict[str, Any]) -> ProgressEvent:
        return cls(
            organization_id=notice["organizationId"],
            flow_id=notice["flowId"],
            step_id=notice["stepId"] or None,
            action=DomainProgressAction(notice["action"]),
            member_id=notice["memberId"] or None,
            at=dt.datetime.fromisoformat(notice["at"]),
            badge_id=notice.get("badgeId"),
        )


@strawberry.type
class FlowsSubscription:
    @strawberry.subscription(description="The viewer's organization's progress, live.")
    async def progress_changed(self, info: strawberry.Info) -> AsyncGenerator[ProgressEvent, None]:
        async for notice in resolve.progress_notices(info):
            yield ProgressEvent.from_notice(notice)
