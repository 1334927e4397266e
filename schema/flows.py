"""Checklists and tours with each step's status for the viewer, and the step mutations."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from resolvers import flows as resolve
from schema.content import Phase
from schema.members import Member


@strawberry.enum(description="A step as this viewer sees it; computed, never stored.")
class StepStatus(Enum):
    AVAILABLE = "AVAILABLE"
    LOCKED = "LOCKED"
    NEEDS_ROLE = "NEEDS_ROLE"
    DONE = "DONE"
    SKIPPED = "SKIPPED"


@strawberry.enum
class StepScope(Enum):
    USER = "user"
    ORGANIZATION = "organization"


@strawberry.enum
class FlowState(Enum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    DISMISSED = "DISMISSED"


@strawberry.enum(description="Why a mutation did not do what was asked.")
class ErrorCode(Enum):
    NOT_FOUND = "NOT_FOUND"
    STEP_LOCKED = "STEP_LOCKED"
    ROLE_REQUIRED = "ROLE_REQUIRED"
    NOT_SKIPPABLE = "NOT_SKIPPABLE"
    NOT_DONE = "NOT_DONE"
    ALREADY_DONE = "ALREADY_DONE"
    FORBIDDEN = "FORBIDDEN"
    INVALID_INPUT = "INVALID_INPUT"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"


@strawberry.type
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None
    roles: list[str] = strawberry.field(description="ROLE_REQUIRED: the roles that can.")
    candidates: list[Member] = strawberry.field(
        description="ROLE_REQUIRED: the members who hold them, to invite."
    )


@strawberry.type
class Progress:
    done: int
    total: int
    percent: float


@strawberry.type
class Step:
    id: strawberry.ID
    title: str
    status: StepStatus
    scope: StepScope
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
    body_tree: JSON

    @strawberry.field(description="The locale its text is in (the source's if not translated).")
    def locale(self) -> str:
        return self.content.locale  # type: ignore[attr-defined]


@strawberry.type
class Flow:
    id: strawberry.ID
    title: str
    summary: str
    phase: Phase
    locale: str
    revision: int
    state: FlowState
    progress: Progress
    next_step: Step | None
    steps: list[Step]
    completed_at: dt.datetime | None


@strawberry.type
class StepPayload:
    step: Step | None
    flow: Flow | None
    user_errors: list[UserError]


@strawberry.type
class TrackPayload:
    completed_steps: list[Step]
    user_errors: list[UserError]


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


@strawberry.type
class FlowsQuery:
    @strawberry.field(description="The flows this viewer's audience gets, with their state.")
    async def flows(
        self, info: strawberry.Info, locale: str | None = None, phase: Phase | None = None
    ) -> list[Flow]:
        return await resolve.flows(info.context, locale, phase.value if phase else None)  # type: ignore[return-value]

    @strawberry.field
    async def flow(
        self, info: strawberry.Info, id: strawberry.ID, locale: str | None = None
    ) -> Flow | None:
        return await resolve.flow(info.context, id, locale)  # type: ignore[return-value]


@strawberry.type
class FlowsMutation:
    @strawberry.mutation(description="Mark a step done (org steps: for the whole organization).")
    async def complete_step(self, info: strawberry.Info, input: StepInput) -> StepPayload:
        return await resolve.change_step(  # type: ignore[return-value]
            info.context, "complete", input.flow_id, input.step_id, input.idempotency_key
        )

    @strawberry.mutation(description="Skip a step for now; it can be done later.")
    async def skip_step(self, info: strawberry.Info, input: StepInput) -> StepPayload:
        return await resolve.change_step(  # type: ignore[return-value]
            info.context, "skip", input.flow_id, input.step_id, input.idempotency_key
        )

    @strawberry.mutation(description="Undo a done or skipped step.")
    async def reopen_step(self, info: strawberry.Info, input: StepInput) -> StepPayload:
        return await resolve.change_step(  # type: ignore[return-value]
            info.context, "reopen", input.flow_id, input.step_id, input.idempotency_key
        )

    @strawberry.mutation(description="Report an app event; steps that complete on it complete.")
    async def track(self, info: strawberry.Info, input: TrackInput) -> TrackPayload:
        return await resolve.track(  # type: ignore[return-value]
            info.context, input.event, input.properties, input.idempotency_key
        )


@strawberry.type(description="Something changed in the viewer's organization's onboarding.")
class ProgressEvent:
    organization_id: strawberry.ID
    flow_id: strawberry.ID
    step_id: strawberry.ID
    action: str = strawberry.field(description="completed, skipped, reopened or help_requested")
    member_id: strawberry.ID = strawberry.field(description="Who did it.")
    at: dt.datetime


@strawberry.type
class FlowsSubscription:
    @strawberry.subscription(description="The viewer's organization's progress, live.")
    async def progress_changed(self, info: strawberry.Info) -> AsyncGenerator[ProgressEvent, None]:
        async for event in resolve.progress_events(info.context):
            yield event  # type: ignore[misc]
