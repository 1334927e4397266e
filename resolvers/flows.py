"""Flow queries and step mutations: parse the input, call one use case, build schema types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import strawberry

from api.progress import engine
from api.progress.flows import viewer_flows
from api.progress.steps import change_step as change_step_case
from api.progress.steps import reset_progress as reset_case
from api.progress.steps import track as track_case
from resolvers.content import viewer_locale
from schema import flows as types
from schema.errors import mutate

if TYPE_CHECKING:
    from schema.content import Phase


async def flows(info: strawberry.Info, locale: str | None, phase: Phase | None) -> list[types.Flow]:
    context = info.context
    results = await viewer_flows(
        context.actor,
        context.release,
        context.reads,
        viewer_locale(context, locale),
        phase.value if phase else None,
    )
    return [types.Flow.from_result(result) for result in results]


async def flow(info: strawberry.Info, flow_id: str, locale: str | None) -> types.Flow | None:
    context = info.context
    results = await viewer_flows(
        context.actor, context.release, context.reads, viewer_locale(context, locale), None, flow_id
    )
    return types.Flow.from_result(results[0]) if results else None


async def change_step(
    info: strawberry.Info, action: engine.Action, input: types.StepInput
) -> types.StepPayload:
    context = info.context

    return await mutate(
        info,
        types.StepPayload,
        lambda: change_step_case(
            context.actor,
            context.catalog,
            context.runtime.progress_hub,
            action,
            input.flow_id,
            input.step_id,
            context.locale(),
            input.idempotency_key,
        ),
        types.StepPayload.from_change,
    )


async def track(info: strawberry.Info, input: types.TrackInput) -> types.TrackPayload:
    context = info.context

    def answer(tracked: Any) -> types.TrackPayload:
        steps = [types.Flow.from_result(flow).step(step_id) for flow, step_id in tracked.completed]
        return types.TrackPayload(completed_steps=[s for s in steps if s is not None])

    return await mutate(
        info,
        types.TrackPayload,
        lambda: track_case(
            context.actor,
            context.catalog,
            context.runtime.progress_hub,
            input.event,
            input.properties,
            context.locale(),
            input.idempotency_key,
        ),
        answer,
    )


async def reset_progress(
    info: strawberry.Info, input: types.ResetProgressInput
) -> types.ResetProgressPayload:
    context = info.context
    return await mutate(
        info,
        types.ResetProgressPayload,
        lambda: reset_case(
            context.actor,
            context.catalog,
            context.runtime.progress_hub,
            input.member_id,
            input.flow_id,
            input.idempotency_key,
        ),
        lambda flow: types.ResetProgressPayload(flow=types.Flow.from_result(flow)),
    )


async def progress_notices(info: strawberry.Info) -> AsyncIterator[dict[str, Any]]:
    """Changes in the viewer's own organization only: the hub is keyed by organization."""
    context = info.context
    async for notice in context.runtime.progress_hub.subscribe(context.actor.organization_id):
        yield notice
