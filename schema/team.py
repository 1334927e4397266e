"""The team: members, the organization with its owner and overview, help requests."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.progress import store
from api.progress import team as domain
from resolvers import insight
from resolvers import team as resolve
from schema.errors import UserError
from schema.flows import FlowState, StepPayload
from schema.members import Member
from schema.paging import AFTER, FIRST, Connection
from schema.permissions import ActsForOrganization, DrivesOrganization

if TYPE_CHECKING:
    from schema.insight import Adoption, Funnel, Health, Milestone, Reach

HelpRequestStatus = strawberry.enum(
    store.HelpRequestStatus, description="Where a help request stands."
)


@strawberry.type(description="A step nobody in the organization holds a role for.")
class BlockedStep:
    step_id: strawberry.ID
    title: str
    roles: list[str]


@strawberry.type(description="Where one flow stands.")
class FlowProgress:
    flow_id: strawberry.ID
    title: str
    state: FlowState  # type: ignore[valid-type]
    done: int
    total: int
    percent: float
    blocked: list[BlockedStep]

    @classmethod
    def from_result(cls, result: domain.FlowProgress) -> FlowProgress:
        return cls(
            flow_id=strawberry.ID(result.flow_id),
            title=result.title,
            state=result.state,
            done=result.done,
            total=result.total,
            percent=result.percent,
            blocked=[
                BlockedStep(step_id=strawberry.ID(b.step_id), title=b.title, roles=list(b.roles))
                for b in result.blocked
            ],
        )


@strawberry.type(description="A member of the team and where they stand.")
class TeamMember:
    member: Member
    is_owner: bool
    result: strawberry.Private[domain.TeamMember]

    @classmethod
    def from_result(cls, result: domain.TeamMember) -> TeamMember:
        return cls(member=Member.from_row(result.member), is_owner=result.is_owner, result=result)

    @strawberry.field(description="Their progress on each flow the viewer sees, by flow id.")
    def progress(
        self,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[FlowProgress]:
        page = domain.member_progress(self.result, first, after)
        return Connection.from_page(page, FlowProgress.from_result)


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
    status: HelpRequestStatus  # type: ignore[valid-type]
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: Member | None = strawberry.field(description="Who did the step.")
    token: str | None = strawberry.field(description="The invite token; only for the inviter.")

    @classmethod
    def from_result(cls, result: domain.HelpRequestResult) -> HelpRequest:
        row = result.row
        return cls(
            id=strawberry.ID(row.id),
            flow_id=strawberry.ID(row.flow_id),
            step_id=strawberry.ID(row.step_id),
            flow_title=result.flow_title,
            step_title=result.step_title,
            step_summary=result.step_summary,
            organization=Organization.from_result(result.organization),
            inviter=Member.maybe(result.inviter),
            invitee=Member.maybe(result.invitee),
            email=row.email,
            message=row.message,
            status=row.status,
            created_at=row.created_at,
            resolved_at=row.resolved_at,
            resolved_by=Member.maybe(result.resolved_by),
            token=result.token,
        )


@strawberry.type(description="A customer account, identified by the host product's id.")
class Organization:
    id: strawberry.ID
    name: str | None

    @classmethod
    def from_result(cls, result: domain.OrganizationResult) -> Organization:
        return cls(id=strawberry.ID(result.id), name=result.name)

    @strawberry.field(description="The onboarding owner, who drives the account.")
    async def owner(self, info: strawberry.Info) -> Member | None:
        return await resolve.owner(info)

    @strawberry.field(
        description=(
            "Flows done once for the whole account, by flow id (owner and admins; null with a"
            " FORBIDDEN error for anyone else, the rest of the organization still answers)."
        ),
        permission_classes=[DrivesOrganization],
    )
    async def progress(
        self,
        info: strawberry.Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[FlowProgress] | None:
        return await resolve.organization_progress(info, first, after)

    @strawberry.field(
        description="Members by id, with their flows (owner and admins; else null, FORBIDDEN).",
        permission_classes=[DrivesOrganization],
    )
    async def members(
        self,
        info: strawberry.Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[TeamMember] | None:
        return await resolve.team_members(info, first, after)

    @strawberry.field(
        description=(
            "The success plan's milestones, by target (owner and admins; else null, FORBIDDEN)."
        ),
        permission_classes=[DrivesOrganization],
    )
    async def milestones(
        self, info: strawberry.Info
    ) -> list[Annotated[Milestone, strawberry.lazy("schema.insight")]] | None:
        return await insight.milestones(info)  # type: ignore[return-value]

    @strawberry.field(
        description="The health score with its components (owner and admins; else null).",
        permission_classes=[DrivesOrganization],
    )
    async def health(
        self, info: strawberry.Info
    ) -> Annotated[Health, strawberry.lazy("schema.insight")] | None:
        from schema.insight import Health

        return Health.of(await insight.account(info))

    @strawberry.field(
        description=(
            "A flow's funnel in the account, steps done in [since, until) (owner and admins);"
            " null for an unknown flow."
        ),
        permission_classes=[DrivesOrganization],
    )
    async def funnel(
        self,
        info: strawberry.Info,
        flow_id: strawberry.ID,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> Annotated[Funnel, strawberry.lazy("schema.insight")] | None:
        return await insight.funnel(info, flow_id, since, until)  # type: ignore[return-value]

    @strawberry.field(
        description="Whether and when the account reached its activation milestone.",
        permission_classes=[DrivesOrganization],
    )
    async def activation(
        self, info: strawberry.Info
    ) -> Annotated[Reach, strawberry.lazy("schema.insight")] | None:
        from schema.insight import Reach

        return Reach.of((await insight.account(info)).activation)

    @strawberry.field(
        description="Whether and when the account reached its first-value milestone.",
        permission_classes=[DrivesOrganization],
    )
    async def time_to_value(
        self, info: strawberry.Info
    ) -> Annotated[Reach, strawberry.lazy("schema.insight")] | None:
        from schema.insight import Reach

        return Reach.of((await insight.account(info)).time_to_value)

    @strawberry.field(
        description="Members who finished their path, and the features the apps used.",
        permission_classes=[DrivesOrganization],
    )
    async def adoption(
        self, info: strawberry.Info
    ) -> Annotated[Adoption, strawberry.lazy("schema.insight")] | None:
        from schema.insight import Adoption

        return Adoption.of((await insight.account(info)).adoption)

    @strawberry.field(
        description="Open help requests, oldest first (owner and admins; else null, FORBIDDEN).",
        permission_classes=[DrivesOrganization],
    )
    async def help_requests(
        self,
        info: strawberry.Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[HelpRequest] | None:
        return await resolve.open_help_requests(info, first, after)


@strawberry.input(description="The step to ask about, and whom: a member or an email address.")
class RequestHelpInput:
    flow_id: strawberry.ID
    step_id: strawberry.ID
    member_id: strawberry.ID | None = None
    email: str | None = None
    message: str | None = None
    idempotency_key: str | None = None


@strawberry.input(description="An organization step and the member to give it to.")
class AssignStepInput:
    flow_id: strawberry.ID
    step_id: strawberry.ID
    member_id: strawberry.ID


@strawberry.type
class TeamQuery:
    @strawberry.field(
        description="The viewer's organization: owner, team progress, requests.",
        permission_classes=[ActsForOrganization],
    )
    async def organization(self, info: strawberry.Info) -> Organization | None:
        return await resolve.organization(info)


@strawberry.type(description="The help request as it now stands; or why not.")
class RequestHelpPayload:
    help_request: HelpRequest | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="The organization after a change; or why not.")
class OrganizationPayload:
    organization: Organization | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TeamMutation:
    @strawberry.mutation(description="Ask a colleague (member or email) to do a step.")
    async def request_help(
        self, info: strawberry.Info, input: RequestHelpInput
    ) -> RequestHelpPayload:
        return await resolve.request_help(info, input)

    @strawberry.mutation(description="Withdraw a help request (the inviter, owner or admin).")
    async def cancel_help_request(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> RequestHelpPayload:
        return await resolve.cancel_help_request(info, id)

    @strawberry.mutation(description="The owner or an admin assigns an organization step.")
    async def assign_step(self, info: strawberry.Info, input: AssignStepInput) -> StepPayload:
        return await resolve.assign_step(info, input)

    @strawberry.mutation(description="Name the onboarding owner (admins or the current owner).")
    async def set_onboarding_owner(
        self, info: strawberry.Info, member_id: strawberry.ID
    ) -> OrganizationPayload:
        return await resolve.set_owner(info, member_id)
