"""Insight fields and mutations: parse the input, call one use case, build schema types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import strawberry

from api.auth import AdminPrincipal
from api.insight import cases
from api.insight.accounts import AccountInsight, success_plan
from resolvers.content import viewer_locale
from schema import insight as types
from schema.errors import mutate


async def account(info: strawberry.Info) -> AccountInsight:
    """The organization's insight, computed once per request for all its fields."""
    context = info.context
    return await cases.organization_insight(
        context.actor,
        context.catalog,
        context.reads,
        viewer_locale(context, None),
        context.runtime.clock(),
    )


def _kpi_counts(info: strawberry.Info, found: AccountInsight) -> cases.KpiCounts:
    context = info.context
    plan = success_plan(context.catalog, viewer_locale(context, None))
    return cases.KpiCounts([found.organization.pk], plan, found.now, found.kpi_counts)


async def milestones(info: strawberry.Info) -> list[types.Milestone]:
    found = await account(info)
    counts = _kpi_counts(info, found)
    return [types.Milestone.from_view(v, counts, found.organization.pk) for v in found.milestones]


async def funnel(
    info: strawberry.Info, flow_id: str, since: dt.datetime | None, until: dt.datetime | None
) -> types.Funnel | None:
    context = info.context
    steps = await cases.funnel(
        context.actor,
        context.catalog,
        viewer_locale(context, None),
        flow_id,
        since,
        until,
        context.runtime.clock(),
    )
    return None if steps is None else types.Funnel.of(flow_id, steps)


async def portfolio(
    info: strawberry.Info, since: dt.datetime | None, until: dt.datetime | None
) -> cases.Portfolio:
    context = info.context
    return await cases.portfolio(
        isinstance(context.principal, AdminPrincipal),
        context.catalog,
        context.release.number,
        context.runtime.portfolios,
        context.runtime.clock(),
        since,
        until,
    )


def kpi_counts_for(organization_pks: Sequence[int], found: cases.Portfolio) -> cases.KpiCounts:
    return cases.KpiCounts(organization_pks, found.plan, found.now)


async def move_milestone_target(
    info: strawberry.Info, input: types.MoveMilestoneTargetInput
) -> types.MoveMilestoneTargetPayload:
    context = info.context

    def answer(found: AccountInsight) -> types.MoveMilestoneTargetPayload:
        counts = _kpi_counts(info, found)
        return types.MoveMilestoneTargetPayload(
            milestones=[
                types.Milestone.from_view(v, counts, found.organization.pk)
                for v in found.milestones
            ]
        )

    return await mutate(
        info,
        types.MoveMilestoneTargetPayload,
        lambda: cases.move_milestone_target(
            context.actor,
            context.catalog,
            context.runtime.progress_hub,
            context.reads,
            input.milestone_id,
            input.target_at,
            input.reason,
            viewer_locale(context, None),
            context.runtime.clock(),
            input.idempotency_key,
        ),
        answer,
    )
