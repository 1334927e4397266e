"""Customer-success insight: milestones, health, funnels, activation, time to value, adoption,
and the portfolio across organizations (`insights`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from api.insight import accounts, cases, rules
from resolvers import insight as resolve
from schema.errors import UserError
from schema.paging import AFTER, FIRST, Connection
from schema.permissions import HoldsAdminKey

MilestoneStatus = strawberry.enum(
    rules.MilestoneStatus,
    description=(
        "Where an account stands on a milestone: REACHED; OVERDUE once the target passed;"
        " AT_RISK with less than a fifth of the time left and less than half of it met;"
        " else ON_TRACK."
    ),
)
OrganizationOrder = strawberry.enum(
    cases.OrganizationOrder, description="How the portfolio is sorted (ties by organization id)."
)


@strawberry.type(description="An app event counted beside a milestone.")
class Kpi:
    event: str = strawberry.field(description="The app event's name.")
    count: int = strawberry.field(description="How many times the account's apps sent it.")


@strawberry.type(description="A milestone's target moved for this account: by whom and why.")
class TargetMove:
    target_at: dt.datetime = strawberry.field(description="The target in force.")
    previous_target_at: dt.datetime = strawberry.field(description="The target before.")
    moved_by: str = strawberry.field(
        description="The member id of who moved it, or `@admin` for the admin key."
    )
    reason: str = strawberry.field(description="Why it moved.")
    at: dt.datetime = strawberry.field(description="When it moved.")

    @classmethod
    def maybe(cls, move: accounts.TargetMove | None) -> TargetMove | None:
        if move is None:
            return None
        return cls(
            target_at=move.target_at,
            previous_target_at=move.previous_target_at,
            moved_by=move.moved_by,
            reason=move.reason,
            at=move.at,
        )


@strawberry.type(description="One milestone of the account's success plan, and where it stands.")
class Milestone:
    id: strawberry.ID
    title: str
    description: str = strawberry.field(description="The milestone's summary, as written.")
    status: MilestoneStatus  # type: ignore[valid-type]
    target_at: dt.datetime | None = strawberry.field(
        description="When it is due: the content's target days after the start, or as moved."
    )
    reached_at: dt.datetime | None = strawberry.field(description="When it was first reached.")
    days_to_reach: float | None = strawberry.field(
        description="Days from the account's start to reaching it."
    )
    met: float = strawberry.field(description="How much of its criterion is met, 0 to 1.")
    activation: bool = strawberry.field(description="Reaching it is the account's activation.")
    first_value: bool = strawberry.field(description="Reaching it is the account's first value.")
    target_move: TargetMove | None = strawberry.field(
        description="The latest move of its target for this account, if any."
    )
    view: strawberry.Private[accounts.MilestoneView]
    kpi_counts: strawberry.Private[cases.KpiCounts]
    organization_pk: strawberry.Private[int]

    @classmethod
    def from_view(
        cls, view: accounts.MilestoneView, counts: cases.KpiCounts, organization_pk: int
    ) -> Milestone:
        item = view.item
        return cls(
            id=strawberry.ID(item.id),
            title=item.title,
            description=item.summary,
            status=view.status,
            target_at=view.target_at,
            reached_at=view.reached_at,
            days_to_reach=view.days_to_reach,
            met=view.met,
            activation=item.activation,
            first_value=item.first_value,
            target_move=TargetMove.maybe(view.moved),
            view=view,
            kpi_counts=counts,
            organization_pk=organization_pk,
        )

    @strawberry.field(description="The KPI events shown beside it, with their counts.")
    async def kpis(self) -> list[Kpi]:
        counts = await self.kpi_counts.of(self.organization_pk, self.view.item.kpis)
        return [Kpi(event=name, count=n) for name, n in counts]


@strawberry.type(description="One part of the health score, so a low score explains itself.")
class HealthComponent:
    name: str = strawberry.field(
        description="recency, adoption, milestones, help or nps (see the README's formula)."
    )
    value: float = strawberry.field(description="From 0 (bad) to 1 (good).")
    weight: float = strawberry.field(description="Its share of the score (0: not counted).")
    detail: str | None = strawberry.field(description="The facts behind the value.")


@strawberry.type(description="An account's health: a score from 0 to 100 and its components.")
class Health:
    score: int
    components: list[HealthComponent]

    @classmethod
    def of(cls, account: accounts.AccountInsight) -> Health:
        return cls(
            score=account.health_score,
            components=[
                HealthComponent(name=c.name, value=c.value, weight=c.weight, detail=c.detail)
                for c in account.components
            ],
        )


@strawberry.type(
    name="MilestoneReach",
    description="Whether, when and how fast the account reached a milestone.",
)
class Reach:
    reached: bool
    at: dt.datetime | None
    days: float | None = strawberry.field(description="Days from the account's start.")

    @classmethod
    def of(cls, reached: accounts.Reached) -> Reach:
        return cls(reached=reached.reached, at=reached.at, days=reached.days)


@strawberry.type(description="How much of the product the account's members took up.")
class Adoption:
    members: int
    members_done: int = strawberry.field(
        description="Members who completed every flow of their role's path."
    )
    rate: float = strawberry.field(description="membersDone over members, 0 to 1.")
    features_explored: list[str] = strawberry.field(
        description="Feature event prefixes (named in tutorials and articles) the apps sent."
    )

    @classmethod
    def of(cls, adoption: accounts.Adoption) -> Adoption:
        return cls(
            members=adoption.members,
            members_done=adoption.members_done,
            rate=adoption.rate,
            features_explored=list(adoption.features_explored),
        )


@strawberry.type(description="One step of a funnel.")
class FunnelStep:
    step_id: strawberry.ID
    title: str
    organization_step: bool = strawberry.field(
        description="Done once for the account: `reached` is 0 or 1."
    )
    reached: int = strawberry.field(description="Members (or the account) who did the step.")
    drop_off: float = strawberry.field(
        description="Share lost from the step before (the first: from all members), 0 to 1."
    )
    median_hours_from_previous: float | None = strawberry.field(
        description="Median hours from the step before, per member (or for the account)."
    )


@strawberry.type(description="A flow's funnel in one account.")
class Funnel:
    flow_id: strawberry.ID
    steps: list[FunnelStep]

    @classmethod
    def of(cls, flow_id: str, steps: list[cases.FunnelStep]) -> Funnel:
        return cls(
            flow_id=strawberry.ID(flow_id),
            steps=[
                FunnelStep(
                    step_id=strawberry.ID(s.step_id),
                    title=s.title,
                    organization_step=s.scope == "organization",
                    reached=s.reached,
                    drop_off=s.drop_off,
                    median_hours_from_previous=s.median_hours_from_previous,
                )
                for s in steps
            ],
        )


@strawberry.type(description="One account in the portfolio, with its insight.")
class OrganizationInsight:
    id: strawberry.ID
    name: str | None
    started_at: dt.datetime = strawberry.field(description="When Heed first saw the account.")
    health: Health
    activation: Reach
    time_to_value: Reach
    adoption: Adoption
    milestones: list[Milestone]
    at_risk: list[Milestone] = strawberry.field(
        description="Its milestones AT_RISK or OVERDUE: why it needs attention."
    )

    @classmethod
    def of(cls, account: accounts.AccountInsight, counts: cases.KpiCounts) -> OrganizationInsight:
        org = account.organization
        milestones = [Milestone.from_view(v, counts, org.pk) for v in account.milestones]
        return cls(
            id=strawberry.ID(org.id),
            name=org.name,
            started_at=org.started,
            health=Health.of(account),
            activation=Reach.of(account.activation),
            time_to_value=Reach.of(account.time_to_value),
            adoption=Adoption.of(account.adoption),
            milestones=milestones,
            at_risk=[m for m in milestones if m.view in account.at_risk],
        )


@strawberry.type(name="OrganizationConnection", description="A page of the portfolio.")
class OrganizationConnection(Connection[OrganizationInsight]):
    pass


@strawberry.type(description="Activation of the accounts that started in one week.")
class WeekActivation:
    week: dt.date = strawberry.field(description="The Monday (UTC) the week starts on.")
    organizations: int
    activated: int
    rate: float


@strawberry.type(description="Onboarding across every account (the admin key).")
class Insights:
    activation_rate: float = strawberry.field(description="Accounts activated, 0 to 1.")
    member_activation_rate: float = strawberry.field(
        description="Members who completed their role's path, 0 to 1."
    )
    median_time_to_value_days: float | None = strawberry.field(
        description="Median days to first value, over the accounts that reached it."
    )
    p90_time_to_value_days: float | None = strawberry.field(
        description="90th percentile of days to first value."
    )
    activation_by_week: list[WeekActivation] = strawberry.field(
        description="Activation by week of start (a year at most), oldest first."
    )
    found: strawberry.Private[cases.Portfolio]

    @classmethod
    def of(cls, found: cases.Portfolio) -> Insights:
        return cls(
            activation_rate=found.activation_rate,
            member_activation_rate=found.member_activation_rate,
            median_time_to_value_days=found.median_time_to_value_days,
            p90_time_to_value_days=found.p90_time_to_value_days,
            activation_by_week=[
                WeekActivation(
                    week=w.week, organizations=w.organizations, activated=w.activated, rate=w.rate
                )
                for w in found.weeks()
            ],
            found=found,
        )

    @strawberry.field(description="Every account with its health and activation, by page.")
    def organizations(
        self,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        order_by: OrganizationOrder = cases.OrganizationOrder.HEALTH_ASC,  # type: ignore[valid-type,assignment]
    ) -> OrganizationConnection:
        page = cases.portfolio_page(self.found, order_by, first, after)
        counts = resolve.kpi_counts_for([a.organization.pk for a in page.items], self.found)
        return OrganizationConnection.from_page(  # type: ignore[return-value]
            page, lambda account: OrganizationInsight.of(account, counts)
        )


@strawberry.input(description="A new target date for one milestone, and why.")
class MoveMilestoneTargetInput:
    milestone_id: strawberry.ID
    target_at: dt.datetime
    reason: str
    idempotency_key: str | None = None


@strawberry.type(description="The account's milestones after the move; or why not.")
class MoveMilestoneTargetPayload:
    milestones: list[Milestone] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class InsightQuery:
    @strawberry.field(
        description=(
            "Onboarding across every account (the admin key): `since`/`until` choose accounts"
            " by when they started, at most a year apart."
        ),
        permission_classes=[HoldsAdminKey],
    )
    async def insights(
        self,
        info: strawberry.Info,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> Insights | None:
        return Insights.of(await resolve.portfolio(info, since, until))


@strawberry.type
class InsightMutation:
    @strawberry.mutation(
        description="The owner or an admin moves a milestone's target date for the account."
    )
    async def move_milestone_target(
        self, info: strawberry.Info, input: MoveMilestoneTargetInput
    ) -> MoveMilestoneTargetPayload:
        return await resolve.move_milestone_target(info, input)
