"""Customer-success insight per account: milestones, activation, time to value, adoption,
health, funnels, and the portfolio across accounts.

One computation serves one organization (its dashboard) or all of them (the portfolio, the
insight job, the exports): the store's statements take an optional organization, so the
figures an owner sees and the ones the admin key ranks by are the same numbers.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from api.content import Catalog, Item, audience_matches
from api.insight import rules, store
from api.insight.rules import Component, HealthFacts, MilestoneStatus
from api.insight.store import OrganizationRow, Reach, Read, TargetMove
from api.progress.store import flow_definition


@dataclass(frozen=True)
class Plan:
    """The success plan and the features content defines, from the served release."""

    milestones: tuple[Item, ...]
    flows: dict[str, Item]
    features: tuple[str, ...]

    @property
    def activation(self) -> Item | None:
        return next((m for m in self.milestones if m.activation), None)

    @property
    def first_value(self) -> Item | None:
        return next((m for m in self.milestones if m.first_value), None)

    @property
    def kpis(self) -> list[str]:
        """The app events counted beside the milestones."""
        return sorted({k for m in self.milestones for k in m.kpis})


@functools.lru_cache(maxsize=8)
def success_plan(catalog: Catalog, locale: str) -> Plan:
    """Milestones in target order (then id), flows by id, and feature prefixes: worked out
    once per catalog (a release) and locale, not for every dashboard."""
    milestones = sorted(
        (r.item for r in catalog.items(kind="milestone", locale=locale)),
        key=lambda m: (m.target_days or 0, m.id),
    )
    flows = {r.item.id: r.item for r in catalog.items(kind="flow", locale=locale)}
    features = sorted(
        {
            r.item.feature
            for kind in ("tutorial", "article")
            for r in catalog.items(kind=kind, locale=catalog.default_locale)
            if r.item.feature
        }
    )
    return Plan(tuple(milestones), flows, tuple(features))


@dataclass(frozen=True)
class MilestoneView:
    item: Item
    status: MilestoneStatus
    target_at: dt.datetime
    reached_at: dt.datetime | None
    days_to_reach: float | None
    met: float
    moved: TargetMove | None

    @property
    def on_time(self) -> bool:
        return self.reached_at is not None and self.reached_at <= self.target_at


@dataclass(frozen=True)
class Reached:
    """Whether and when an account reached a milestone, and the days it took from its start."""

    reached: bool
    at: dt.datetime | None
    days: float | None


@dataclass(frozen=True)
class Adoption:
    members: int
    members_done: int
    features_explored: tuple[str, ...]

    @property
    def rate(self) -> float:
        return rules.rate(self.members_done, self.members)


@dataclass(frozen=True)
class AccountInsight:
    """Everything the dashboard and the portfolio show about one account, as of `now`."""

    organization: OrganizationRow
    now: dt.datetime
    milestones: list[MilestoneView]
    adoption: Adoption
    facts: HealthFacts
    activation: Reached
    time_to_value: Reached
    kpi_counts: dict[tuple[int, str], int] | None = None  # one organization's, read with it
    health_score: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "health_score", rules.health_score(self.facts, self.now))

    @property
    def components(self) -> list[Component]:
        """The score's components with their details (built when shown)."""
        return rules.health_components(self.facts, self.now)

    @property
    def at_risk(self) -> list[MilestoneView]:
        risky = (MilestoneStatus.AT_RISK, MilestoneStatus.OVERDUE)
        return [m for m in self.milestones if m.status in risky]


def criterion_reach(
    organization_pk: store.Scope, milestone: Item, flows: dict[str, Item], now: dt.datetime
) -> Read[dict[int, Reach]]:
    """When each organization met the milestone's criterion, and how much of it."""
    criterion = milestone.reached_when
    assert criterion is not None
    if criterion.members is not None:
        return store.reach_by_members(organization_pk, criterion.members, now)
    if criterion.event is not None:
        return store.reach_by_event(
            organization_pk, criterion.event, criterion.times, criterion.within_days, now
        )
    flow = flows.get(criterion.flow or "")
    if flow is None:
        return store.known({})
    wanted = set(criterion.steps) or {s.id for s in flow.steps if not s.optional}
    chosen = [s for s in flow.steps if s.id in wanted]
    org_steps = [s.id for s in chosen if s.scope == "organization"]
    member_steps = [s.id for s in chosen if s.scope != "organization"]
    return store.reach_by_steps(
        organization_pk, flow.id, org_steps, member_steps, now, flow_record=not criterion.steps
    )


def milestone_view(
    milestone: Item,
    organization: OrganizationRow,
    reach: Reach | None,
    moved: TargetMove | None,
    now: dt.datetime,
) -> MilestoneView:
    started = organization.started
    target = moved.target_at if moved else started + dt.timedelta(days=milestone.target_days or 0)
    reached = reach.at if reach else None
    met = reach.met if reach else 0.0
    return MilestoneView(
        item=milestone,
        status=rules.milestone_status(now, started, target, reached, met),
        target_at=target,
        reached_at=reached,
        days_to_reach=None if reached is None else rules.days_between(started, reached),
        met=1.0 if reached else round(met, 4),
        moved=moved,
    )


def _reached(view: MilestoneView | None) -> Reached:
    if view is None or view.reached_at is None:
        return Reached(False, None, None)
    return Reached(True, view.reached_at, view.days_to_reach)


def member_flows(plan: Plan) -> list[Item]:
    return [flow for flow in plan.flows.values() if not flow_definition(flow).organization_wide]


def paths_done(
    plan: Plan, organization_pk: store.Scope, now: dt.datetime
) -> Read[dict[int, tuple[int, int]]]:
    """Per organization: (members, members who completed every member flow of their path,
    the flows whose audience their roles and attributes match). When every member flow is
    for everyone, SQL counts it alone; otherwise each member's path is matched here."""
    flows = member_flows(plan)
    if not any(_targeted(flow) for flow in flows):
        return store.members_done_everyone(organization_pk, [f.id for f in flows], now)
    return store.member_paths(organization_pk, now).then(lambda rows: members_done(plan, rows))


def _targeted(flow: Item) -> bool:
    audience = flow.audience
    return bool(audience.roles or audience.attributes or audience.after)


def members_done(plan: Plan, members: Sequence[store.MemberPathRow]) -> dict[int, tuple[int, int]]:
    """`paths_done` for members whose roles and attributes were read."""
    flows = member_flows(plan)
    out: dict[int, tuple[int, int]] = {}
    for member in members:
        path = [
            flow
            for flow in flows
            if audience_matches(
                flow.audience, member.roles, member.attributes, None, member.completed
            )
        ]
        done = all(flow.id in member.completed for flow in path)
        total, finished = out.get(member.organization_pk, (0, 0))
        out[member.organization_pk] = (total + 1, finished + int(done))
    return out


async def account_insights(
    plan: Plan,
    now: dt.datetime,
    organization_pk: store.Scope = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[AccountInsight]:
    """The insight of one organization, or of every organization started in [since, until),
    as of `now`: a fixed number of statements whatever the number of organizations (see
    `store.read_all`: one statement for one organization on Postgres). One organization's
    comes with its KPI counts."""
    one = [organization_pk] if isinstance(organization_pk, int) else []
    reads: list[Read[Any]] = [
        store.event_counts(one, plan.kpis, now).then(lambda counts: counts if one else None),
        store.organizations(organization_pk, since, until),
        store.moved_targets(organization_pk),
        store.last_activity(organization_pk, now),
        store.open_help(organization_pk, now),
        store.nps(organization_pk, now),
        paths_done(plan, organization_pk, now),
        store.features_used(organization_pk, plan.features, now),
        *(criterion_reach(organization_pk, m, plan.flows, now) for m in plan.milestones),
    ]
    found = await store.read_all(reads, organization_pk)
    kpi_counts, organizations, moved, activity, help_open, scores, paths, features, *reaches = found
    marked = [plan.milestones.index(m) if m else None for m in (plan.activation, plan.first_value)]
    out = []
    for org in organizations:
        views = [
            milestone_view(m, org, reach.get(org.pk), moved.get((org.pk, m.id)), now)
            for m, reach in zip(plan.milestones, reaches, strict=True)
        ]
        members, done = paths.get(org.pk, (0, 0))
        opened = help_open.get(org.pk)
        nps = scores.get(org.pk)
        facts = HealthFacts(
            last_activity=activity.get(org.pk),
            members=members,
            members_done=done,
            milestones=[(v.status, v.on_time) for v in views],
            open_help=opened.count if opened else 0,
            nps=nps[0] if nps else None,
            nps_answers=nps[1] if nps else 0,
        )
        activation, first_value = (None if n is None else views[n] for n in marked)
        out.append(
            AccountInsight(
                organization=org,
                now=now,
                milestones=views,
                adoption=Adoption(
                    members,
                    done,
                    tuple(f for f in plan.features if f in features.get(org.pk, ())),
                ),
                facts=facts,
                activation=_reached(activation),
                time_to_value=_reached(first_value),
                kpi_counts=kpi_counts,
            )
        )
    return out
