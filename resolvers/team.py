"""Team fields and mutations: parse the input, call one use case, build schema types."""

from __future__ import annotations

import strawberry

from api.progress import team as cases
from resolvers.content import viewer_locale
from schema import flows as flow_types
from schema import team as types
from schema.errors import mutate
from schema.members import Member
from schema.paging import Connection


async def organization(info: strawberry.Info) -> types.Organization:
    context = info.context
    return types.Organization.from_result(cases.organization(context.actor))


async def owner(info: strawberry.Info) -> Member | None:
    return Member.maybe(await cases.owner(info.context.reads))


async def organization_progress(
    info: strawberry.Info, first: int | None, after: str | None
) -> Connection[types.FlowProgress]:
    context = info.context
    page = await cases.organization_progress(
        context.actor, context.catalog, context.reads, viewer_locale(context, None), first, after
    )
    return Connection.from_page(page, types.FlowProgress.from_result)


async def team_members(
    info: strawberry.Info, first: int | None, after: str | None
) -> Connection[types.TeamMember]:
    context = info.context
    page = await cases.team_members(
        context.actor, context.catalog, context.reads, viewer_locale(context, None), first, after
    )
    return Connection.from_page(page, types.TeamMember.from_result)


async def help_requests(info: strawberry.Info, which: cases.Which) -> list[types.HelpRequest]:
    context = info.context
    results = await cases.help_requests(
        context.actor, context.catalog, context.reads, context.settings.default_locale, which
    )
    return [types.HelpRequest.from_result(result) for result in results]


async def open_help_requests(
    info: strawberry.Info, first: int | None, after: str | None
) -> Connection[types.HelpRequest]:
    context = info.context
    page = await cases.open_help_requests(
        context.actor, context.catalog, context.reads, context.settings.default_locale, first, after
    )
    return Connection.from_page(page, types.HelpRequest.from_result)


def _help_payload(result: cases.HelpRequestResult) -> types.RequestHelpPayload:
    return types.RequestHelpPayload(help_request=types.HelpRequest.from_result(result))


async def request_help(
    info: strawberry.Info, input: types.RequestHelpInput
) -> types.RequestHelpPayload:
    context = info.context
    return await mutate(
        info,
        types.RequestHelpPayload,
        lambda: cases.request_help(
            context.actor,
            context.catalog,
            context.runtime.progress_hub,
            input.flow_id,
            input.step_id,
            input.member_id,
            input.email,
            input.message,
            context.locale(),
            context.settings.default_locale,
            input.idempotency_key,
        ),
        _help_payload,
    )


async def cancel_help_request(info: strawberry.Info, request_id: str) -> types.RequestHelpPayload:
    context = info.context
    return await mutate(
        info,
        types.RequestHelpPayload,
        lambda: cases.cancel_help_request(
            context.actor,
            context.catalog,
            context.runtime.progress_hub,
            request_id,
            context.settings.default_locale,
        ),
        _help_payload,
    )


async def assign_step(
    info: strawberry.Info, input: types.AssignStepInput
) -> flow_types.StepPayload:
    context = info.context

    return await mutate(
        info,
        flow_types.StepPayload,
        lambda: cases.assign_step(
            context.actor,
            context.catalog,
            context.runtime.progress_hub,
            input.flow_id,
            input.step_id,
            input.member_id,
            context.locale(),
        ),
        flow_types.StepPayload.from_change,
    )


async def set_owner(info: strawberry.Info, member_id: str) -> types.OrganizationPayload:
    context = info.context
    return await mutate(
        info,
        types.OrganizationPayload,
        lambda: cases.set_owner(context.actor, context.runtime.progress_hub, member_id),
        lambda result: types.OrganizationPayload(
            organization=types.Organization.from_result(result)
        ),
    )
