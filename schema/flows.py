"""Checklists and tours with each step's status for the viewer, and the step mutations."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.content.model import Step as ContentStep
from api.progress import engine
from api.progress.flows import FlowResult
from api.progress.steps import StepChanged
from resolvers import flows as resolve
from schema.content import Phase
from schema.errors import UserError
from schema.members import Member
from schema.permissions import ReadsAsMember

StepStatus = strawberry.enum(
    engine.StepStatus, description="A step as this viewer sees it; computed, never stored."
)
StepScope = strawberry.enum(engine.Scope, name="StepScope")
FlowState = strawberry.enum(engine.FlowState)


@strawberry.type
class Progress:
    done: int
    total: int
    percent: float


@strawberry.type
class Step:
    id: strawberry.ID
    title: str
    status: StepStatus  # type: ignore[valid-type]
    scope: StepScope  # type: ignore[valid-type]
    roles: list[str]
    candidates: list[Member] = strawberry.field(
        description="NEEDS_ROLE: members who hold an allowed role."
    )
    requires: list[strawberry.ID]
    optional: bool
    skippable: bool
    completes_on: str | None = strawberry.field(description="App event that completes it.")
    completed_by: Member | None
    completed_at: dt.datetime | None
    assignee: Member | None
    cta: JSON | None = strawberry.field(description="Call to action: {label, url}.")
    tour: JSON | None = strawberry.field(description="Tour hints: {selector, placement, route}.")
    body_markdown: str
    body_html: str
    content: strawberry.Private[ContentStep]

    @strawberry.field
    def body_tree(self) -> JSON:
        """Decoded only when a query asks for it."""
        return self.content.body_tree


@strawberry.type
class Flow:
    id: strawberry.ID
    title: str
    summary: str
    phase: Phase
    locale: str
    revision: int
    state: FlowState  # type: ignore[valid-type]
    progress: Progress
    next_step: Step | None
    steps: list[Step]
    completed_at: dt.datetime | None

    @classmethod
    def from_result(cls, result: FlowResult) -> Flow:
        item, view = result.item, result.view
        steps = []
        for step_view in view.steps:
            step = item.step(step_view.step_id)
            members = result.steps[step_view.step_id]
            assert step is not None
            steps.append(
                Step(
                    id=strawberry.ID(step.id),
                    title=step.title,
                    status=step_view.status,
                    scope=engine.Scope(step.scope),
                    roles=list(step.roles),
                    candidates=[Member.from_row(m) for m in members.candidates],
                    requires=[strawberry.ID(r) for r in step.requires],
                    optional=step.optional,
                    skippable=step.skippable,
                    completes_on=step.completes_on,
                    completed_by=Member.maybe(members.done_by),
                    completed_at=step_view.done_at,
                    assignee=Member.maybe(members.assignee),
                    cta=step.cta,
                    tour=step.tour,
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
        )

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


@strawberry.type
class StepPayload:
    step: Step | None = None
    flow: Flow | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def from_change(cls, changed: StepChanged) -> StepPayload:
        flow = Flow.from_result(changed.flow)
        return cls(step=flow.step(changed.step_id), flow=flow)


@strawberry.type
class TrackPayload:
    completed_steps: list[Step] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ResetProgressPayload:
    flow: Flow | None = strawberry.field(
        default=None, description="The flow as the member now sees it."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class StepInput:
    flow_id: strawberry.ID
    step_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class TrackInput:
    event: str
    properties: JSON | None = None
    idempotency_key: str | None = None


@strawberry.input
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

    @strawberry.field(permission_classes=[ReadsAsMember])
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
    step_id: strawberry.ID
    action: str = strawberry.field(
        description="completed, skipped, reopened, help_requested or badge_earned"
    )
    member_id: strawberry.ID = strawberry.field(description="Who did it.")
    at: dt.datetime
    badge_id: strawberry.ID | None = strawberry.field(
        default=None, description="badge_earned: the badge."
    )

    @classmethod
    def from_notice(cls, notice: dict[str, Any]) -> ProgressEvent:
        return cls(
            organization_id=notice["organizationId"],
            flow_id=notice["flowId"],
            step_id=notice["stepId"],
            action=notice["action"],
            member_id=notice["memberId"],
            at=dt.datetime.fromisoformat(notice["at"]),
            badge_id=notice.get("badgeId"),
        )


@strawberry.type
class FlowsSubscription:
    @strawberry.subscription(description="The viewer's organization's progress, live.")
    async def progress_changed(self, info: strawberry.Info) -> AsyncGenerator[ProgressEvent, None]:
        async for notice in resolve.progress_notices(info):
            yield ProgressEvent.from_notice(notice)
