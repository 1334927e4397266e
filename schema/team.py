"""The team: members, the organization with its owner and overview, help requests."""

from __future__ import annotations

import datetime as dt

import strawberry

from resolvers import team as resolve
from schema.flows import StepPayload, UserError
from schema.members import Member


@strawberry.type(description="A step nobody in the organization holds a role for.")
class BlockedStep:
    step_id: strawberry.ID
    title: str
    roles: list[str]


@strawberry.type(description="Where one flow stands.")
class FlowProgress:
    flow_id: strawberry.ID
    title: str
    state: str
    done: int
    total: int
    percent: float
    blocked: list[BlockedStep]


@strawberry.type
class TeamMember:
    member: Member
    is_owner: bool
    progress: list[FlowProgress]


@strawberry.type(description="An invitation to do a step, with what a notification needs.")
class HelpRequest:
    id: strawberry.ID
    flow_id: strawberry.ID
    step_id: strawberry.ID
    flow_title: str
    step_title: str = strawberry.field(description="In the invitee's locale.")
    step_summary: str
    organization: Organization
    inviter: Member | None
    invitee: Member | None
    email: str | None
    message: str | None
    status: str = strawberry.field(description="open, done or cancelled")
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: Member | None = strawberry.field(description="Who did the step.")
    token: str | None = strawberry.field(description="The invite token; only for the inviter.")


@strawberry.type(description="A customer account, identified by the host product's id.")
class Organization:
    id: strawberry.ID
    name: str | None

    @strawberry.field(description="The onboarding owner, who drives the account.")
    async def owner(self, info: strawberry.Info) -> Member | None:
        return (await resolve.organization(info.context)).owner  # type: ignore[return-value]

    @strawberry.field(description="Organization-level flows (owner and admins).")
    async def progress(self, info: strawberry.Info) -> list[FlowProgress]:
        return (await resolve.team_progress(info.context))[0]  # type: ignore[return-value]

    @strawberry.field(description="Every member and their flows (owner and admins).")
    async def members(self, info: strawberry.Info) -> list[TeamMember]:
        return (await resolve.team_progress(info.context))[1]  # type: ignore[return-value]

    @strawberry.field(description="Open help requests (owner and admins).")
    async def help_requests(self, info: strawberry.Info) -> list[HelpRequest]:
        return await resolve.open_help_requests(info.context)  # type: ignore[return-value]


@strawberry.input
class RequestHelpInput:
    flow_id: strawberry.ID
    step_id: strawberry.ID
    member_id: strawberry.ID | None = None
    email: str | None = None
    message: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class AssignStepInput:
    flow_id: strawberry.ID
    step_id: strawberry.ID
    member_id: strawberry.ID


@strawberry.type
class TeamQuery:
    @strawberry.field(description="The viewer's organization: owner, team progress, requests.")
    async def organization(self, info: strawberry.Info) -> Organization | None:
        return await resolve.organization(info.context)  # type: ignore[return-value]


@strawberry.type
class RequestHelpPayload:
    help_request: HelpRequest | None
    user_errors: list[UserError]


@strawberry.type
class OrganizationPayload:
    organization: Organization | None
    user_errors: list[UserError]


@strawberry.type
class TeamMutation:
    @strawberry.mutation(description="Ask a colleague (member or email) to do a step.")
    async def request_help(
        self, info: strawberry.Info, input: RequestHelpInput
    ) -> RequestHelpPayload:
        return await resolve.request_help(  # type: ignore[return-value]
            info.context,
            input.flow_id,
            input.step_id,
            input.member_id,
            input.email,
            input.message,
            input.idempotency_key,
        )

    @strawberry.mutation(description="Withdraw a help request (the inviter, owner or admin).")
    async def cancel_help_request(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> RequestHelpPayload:
        return await resolve.cancel_help_request(info.context, id)  # type: ignore[return-value]

    @strawberry.mutation(description="The owner or an admin assigns an organization step.")
    async def assign_step(self, info: strawberry.Info, input: AssignStepInput) -> StepPayload:
        return await resolve.assign(  # type: ignore[return-value]
            info.context, input.flow_id, input.step_id, input.member_id
        )

    @strawberry.mutation(description="Name the onboarding owner (admins or the current owner).")
    async def set_onboarding_owner(
        self, info: strawberry.Info, member_id: strawberry.ID
    ) -> OrganizationPayload:
        return await resolve.set_owner(info.context, member_id)  # type: ignore[return-value]
