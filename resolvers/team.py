"""The team side: the organization's owner and overview, help requests between members.

Heed sends no email: a help request records an event carrying everything a notification
needs (inviter, organization, the step in the invitee's locale, the invite token), for the
host product or a webhook to deliver.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api.context import Context
from api.db.models import HelpRequest, Member, Organization
from api.progress.engine import ErrorCode, StepStatus, evaluate_flow
from api.progress.engine import Member as EngineMember
from api.progress.store import (
    MemberRow,
    assign_step,
    bump_state_version,
    flow_definition,
    load_state_rows,
    record_event,
    remember_outcome,
    viewer_state,
)
from resolvers.flows import (
    StepPayloadObject,
    UserErrorObject,
    _errors_from_outcome,
    invalid_text,
    member_view,
    replayed,
    step_payload,
    user_error,
    visible_flows,
)
from resolvers.viewer import MemberView, OrganizationView

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_MESSAGE = 2000


class NotAllowed(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


@dataclass
class HelpRequestObject:
    id: str
    flow_id: str
    step_id: str
    flow_title: str
    step_title: str
    step_summary: str
    organization: OrganizationView
    inviter: MemberView | None
    invitee: MemberView | None
    email: str | None
    message: str | None
    status: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: MemberView | None
    token: str | None


@dataclass
class FlowProgressObject:
    flow_id: str
    title: str
    state: str
    done: int
    total: int
    percent: float
    blocked: list[BlockedStepObject]


@dataclass
class BlockedStepObject:
    step_id: str
    title: str
    roles: list[str]


@dataclass
class TeamMemberObject:
    member: MemberView
    is_owner: bool
    progress: list[FlowProgressObject]


@dataclass
class OrganizationObject:
    id: str
    name: str | None
    owner: MemberView | None


@dataclass
class RequestHelpPayloadObject:
    help_request: HelpRequestObject | None
    user_errors: list[UserErrorObject]


@dataclass
class OrganizationPayloadObject:
    organization: OrganizationObject | None
    user_errors: list[UserErrorObject]


async def organization(context: Context) -> OrganizationObject:
    member = context.member
    ref = context.member_ref
    assert ref is not None
    owner_pk = await context.loaders.owner_pk()
    by_pk = await context.loaders.members_by_pk()
    owner = by_pk.get(owner_pk) if owner_pk else None
    return OrganizationObject(
        id=member.organization_id,
        name=member.organization_name or ref.organization_name,
        owner=member_view(owner) if owner else None,
    )


async def may_drive(context: Context) -> bool:
    """The onboarding owner and admins see the whole team and move the account forward."""
    ref = context.member_ref
    assert ref is not None
    if "admin" in context.member.roles:
        return True
    return await context.loaders.owner_pk() == ref.member_pk


async def team_progress(
    context: Context,
) -> tuple[list[FlowProgressObject], list[TeamMemberObject]]:
    """Organization-level flows once, and every member's own flows: owners and admins only.

    Computed once per request, however many of its fields the query asks for."""
    return await context.loaders.once("team_progress", lambda: _team_progress(context))


async def _team_progress(
    context: Context,
) -> tuple[list[FlowProgressObject], list[TeamMemberObject]]:
    if not await may_drive(context):
        raise NotAllowed("only the onboarding owner or an admin sees the team's progress")
    ref = context.member_ref
    assert ref is not None
    members = await context.loaders.members()
    rows = await load_state_rows(ref.organization_pk)
    owner_pk = await context.loaders.owner_pk()
    engine_members = [m.engine for m in members]
    per_member: list[TeamMemberObject] = []
    organization_level: list[FlowProgressObject] = []
    state_all = await context.loaders.viewer_state()
    flows = visible_flows(context, state_all, None)
    for row in members:
        state = viewer_state(r for r in rows if r[0] in ("", row.id))
        progress = [_flow_progress(item, state, row, engine_members) for item in flows]
        per_member.append(TeamMemberObject(member_view(row), row.pk == owner_pk, progress))
    viewer_row = next((m for m in members if m.pk == ref.member_pk), None)
    if viewer_row is not None:
        state = viewer_state(r for r in rows if r[0] in ("", viewer_row.id))
        organization_level = [
            _flow_progress(item, state, viewer_row, engine_members)
            for item in flows
            if all(step.scope == "organization" for step in item.steps)
        ]
    return organization_level, per_member


def _flow_progress(
    item: Any, state: Any, member: MemberRow, members: Sequence[EngineMember]
) -> FlowProgressObject:
    flow = flow_definition(item)
    view = evaluate_flow(
        flow,
        state.marks.get(flow.id, ()),
        member.engine,
        members,
        state.record(flow, member.id),
    )
    blocked = [
        BlockedStepObject(v.step_id, item.step(v.step_id).title, list(item.step(v.step_id).roles))
        for v in view.steps
        if v.status is StepStatus.NEEDS_ROLE and not v.candidates
    ]
    return FlowProgressObject(
        item.id, item.title, view.state.value, view.done, view.total, view.percent, blocked
    )


async def help_request_object(
    context: Context, row: HelpRequest, *, show_token: bool
) -> HelpRequestObject:
    by_pk = await context.loaders.members_by_pk()
    invitee = by_pk.get(row.invitee_id) if row.invitee_id else None  # type: ignore[attr-defined]
    locale = (invitee.locale if invitee else None) or context.settings.default_locale
    assert context.release is not None
    resolved = context.release.catalog.get(row.flow_id, locale)
    step = resolved.item.step(row.step_id) if resolved else None
    inviter = by_pk.get(row.inviter_id)  # type: ignore[attr-defined]
    resolved_by = by_pk.get(row.resolved_by_id) if row.resolved_by_id else None  # type: ignore[attr-defined]
    ref = context.member_ref
    assert ref is not None
    return HelpRequestObject(
        id=row.public_id,
        flow_id=row.flow_id,
        step_id=row.step_id,
        flow_title=resolved.item.title if resolved else row.flow_id,
        step_title=step.title if step else row.step_id,
        step_summary=_summary(step.body_markdown) if step else "",
        organization=OrganizationView(
            context.member.organization_id,
            context.member.organization_name or ref.organization_name,
        ),
        inviter=member_view(inviter) if inviter else None,
        invitee=member_view(invitee) if invitee else None,
        email=row.invitee_email,
        message=row.message,
        status=row.status,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolved_by=member_view(resolved_by) if resolved_by else None,
        token=row.token if show_token else None,
    )


def _summary(markdown: str) -> str:
    """The step's first paragraph, as plain text, for a notification."""
    first = markdown.strip().split("\n\n", 1)[0]
    return re.sub(r"[*_`#>\[\]]|\(heed:[^)]*\)", "", first).replace("\n", " ").strip()[:300]


async def help_requests_to_viewer(context: Context) -> list[HelpRequestObject]:
    rows = await context.loaders.help_requests_to_viewer()
    return [await help_request_object(context, row, show_token=False) for row in rows]


async def help_requests_sent(context: Context) -> list[HelpRequestObject]:
    ref = context.member_ref
    assert ref is not None
    rows = await HelpRequest.filter(
        organization_id=ref.organization_pk, inviter_id=ref.member_pk
    ).order_by("-created_at")
    return [await help_request_object(context, row, show_token=True) for row in rows]


async def open_help_requests(context: Context) -> list[HelpRequestObject]:
    if not await may_drive(context):
        raise NotAllowed("only the onboarding owner or an admin sees every help request")
    ref = context.member_ref
    assert ref is not None
    rows = await HelpRequest.filter(organization_id=ref.organization_pk, status="open").order_by(
        "created_at"
    )
    return [await help_request_object(context, row, show_token=False) for row in rows]


async def request_help(
    context: Context,
    flow_id: str,
    step_id: str,
    member_id: str | None,
    email: str | None,
    message: str | None,
    idempotency_key: str | None,
) -> RequestHelpPayloadObject:
    ref = context.member_ref
    assert ref is not None
    me = context.member
    bad = invalid_text(
        flowId=flow_id,
        stepId=step_id,
        memberId=member_id,
        email=email,
        message=message,
        idempotencyKey=idempotency_key,
    )
    if bad is not None:
        return RequestHelpPayloadObject(None, [bad])
    target = {"flowId": flow_id, "stepId": step_id, "memberId": member_id, "email": email}
    replay = await replayed(context, "help", idempotency_key, target)
    if replay is not None:
        return await _replayed_request(context, replay)
    errors, invitee = await _check_help_request(
        context, flow_id, step_id, member_id, email, message
    )
    if errors:
        return RequestHelpPayloadObject(None, errors)
    email_key = None if invitee is not None else (email or "").strip().lower()
    notice = None
    try:
        async with in_transaction() as connection:
            await bump_state_version(ref.organization_pk, connection)
            row = (
                await HelpRequest.filter(
                    organization_id=ref.organization_pk,
                    flow_id=flow_id,
                    step_id=step_id,
                    inviter_id=ref.member_pk,
                    status="open",
                    invitee_id=invitee.pk if invitee else None,
                    invitee_email=email_key,
                )
                .using_db(connection)
                .first()
            )
            if row is None:  # an open request for the same colleague is reused, not repeated
                row = await HelpRequest.create(
                    public_id=secrets.token_hex(8),
                    token=secrets.token_urlsafe(32),
                    organization_id=ref.organization_pk,
                    flow_id=flow_id,
                    step_id=step_id,
                    inviter_id=ref.member_pk,
                    invitee_id=invitee.pk if invitee else None,
                    invitee_email=email_key,
                    message=message,
                    using_db=connection,
                )
                request = await help_request_object(context, row, show_token=True)
                await record_event(
                    ref.organization_pk,
                    ref.member_pk,
                    "help",
                    "help.requested",
                    _notification(request),
                    connection,
                )
                notice = {
                    "organizationId": me.organization_id,
                    "flowId": flow_id,
                    "stepId": step_id,
                    "action": "help_requested",
                    "memberId": me.member_id,
                    "at": dt.datetime.now(dt.UTC).isoformat(),
                }
                await context.progress_hub.announce(notice, connection)
            await remember_outcome(
                ref.organization_pk,
                me.member_id,
                idempotency_key,
                "help",
                {"requestId": row.public_id, "target": target},
                connection,
            )
    except IntegrityError:
        return await _replayed_request(
            context, await replayed(context, "help", idempotency_key, target) or {}
        )
    if notice is not None:
        context.progress_hub.deliver_local(notice)
    return RequestHelpPayloadObject(await help_request_object(context, row, show_token=True), [])


async def _replayed_request(context: Context, outcome: dict[str, Any]) -> RequestHelpPayloadObject:
    ref = context.member_ref
    assert ref is not None
    if "requestId" not in outcome:
        return RequestHelpPayloadObject(None, _errors_from_outcome(outcome))
    row = await HelpRequest.get(organization_id=ref.organization_pk, public_id=outcome["requestId"])
    return RequestHelpPayloadObject(await help_request_object(context, row, show_token=True), [])


def _notification(request: HelpRequestObject) -> dict[str, Any]:
    """Everything a notification (email, chat) needs, for the webhook that delivers it."""
    return {
        "requestId": request.id,
        "token": request.token,
        "organization": {"id": request.organization.id, "name": request.organization.name},
        "inviter": request.inviter and {"id": request.inviter.id, "name": request.inviter.name},
        "invitee": request.invitee
        and {
            "id": request.invitee.id,
            "name": request.invitee.name,
            "email": request.invitee.email,
        },
        "email": request.email,
        "flow": {"id": request.flow_id, "title": request.flow_title},
        "step": {
            "id": request.step_id,
            "title": request.step_title,
            "summary": request.step_summary,
        },
        "message": request.message,
    }


async def _check_help_request(
    context: Context,
    flow_id: str,
    step_id: str,
    member_id: str | None,
    email: str | None,
    message: str | None,
) -> tuple[list[UserErrorObject], MemberRow | None]:
    ref = context.member_ref
    assert ref is not None
    if (member_id is None) == (email is None):
        return [
            user_error("INVALID_INPUT", "give either memberId or email", ("input", "memberId"))
        ], None
    if message is not None and len(message) > MAX_MESSAGE:
        return [
            user_error(
                "INVALID_INPUT",
                f"message longer than {MAX_MESSAGE} characters",
                ("input", "message"),
            )
        ], None
    state = await context.loaders.viewer_state()
    item = next((f for f in visible_flows(context, state, None) if f.id == flow_id), None)
    if item is None:
        return [user_error(ErrorCode.NOT_FOUND, f"no flow {flow_id!r}", ("input", "flowId"))], None
    step = item.step(step_id)
    if step is None:
        return [
            user_error(
                ErrorCode.NOT_FOUND, f"no step {step_id!r} in {flow_id!r}", ("input", "stepId")
            )
        ], None
    if step.scope != "organization":
        return [
            user_error(
                "INVALID_INPUT",
                "each member does this step for themselves: a colleague cannot do it for you",
                ("input", "stepId"),
            )
        ], None
    invitee = None
    if member_id is not None:
        members = await context.loaders.members()
        invitee = next((m for m in members if m.id == member_id), None)
        if invitee is None:
            return [
                user_error(
                    ErrorCode.NOT_FOUND, f"no member {member_id!r} here", ("input", "memberId")
                )
            ], None
    elif not EMAIL.match(email or "") or len(email or "") > 320:
        return [user_error("INVALID_INPUT", "not an email address", ("input", "email"))], None
    else:
        # The email of a colleague already here asks them as a member, at once.
        address = (email or "").lower()
        members = await context.loaders.members()
        invitee = next((m for m in members if m.email and m.email.lower() == address), None)
    if invitee is not None and invitee.pk == ref.member_pk:
        field = "memberId" if member_id is not None else "email"
        return [user_error("INVALID_INPUT", "you cannot ask yourself", ("input", field))], None
    flow = flow_definition(item)
    view = evaluate_flow(
        flow,
        state.marks.get(flow.id, ()),
        EngineMember(context.member.member_id, frozenset(context.member.roles)),
        (),
        state.record(flow, context.member.member_id),
    )
    status = next(v.status for v in view.steps if v.step_id == step_id)
    if status is StepStatus.DONE:
        return [user_error("ALREADY_DONE", "this step is done already", ("input", "stepId"))], None
    return [], invitee


async def cancel_help_request(context: Context, request_id: str) -> RequestHelpPayloadObject:
    ref = context.member_ref
    assert ref is not None
    if invalid_text(id=request_id) is not None or len(request_id) > 32:
        return RequestHelpPayloadObject(
            None, [user_error(ErrorCode.NOT_FOUND, "no such help request", ("id",))]
        )
    row = await HelpRequest.get_or_none(organization_id=ref.organization_pk, public_id=request_id)
    if row is None:
        return RequestHelpPayloadObject(
            None, [user_error(ErrorCode.NOT_FOUND, f"no help request {request_id!r}", ("id",))]
        )
    if row.inviter_id != ref.member_pk and not await may_drive(context):  # type: ignore[attr-defined]
        return RequestHelpPayloadObject(
            None,
            [
                user_error(
                    ErrorCode.FORBIDDEN,
                    "only the member who asked (or the owner) can cancel",
                    ("id",),
                )
            ],
        )
    if row.status == "open":
        async with in_transaction() as connection:
            await bump_state_version(ref.organization_pk, connection)
            await (
                HelpRequest.filter(id=row.id, status="open")
                .using_db(connection)
                .update(
                    status="cancelled",
                    resolved_at=dt.datetime.now(dt.UTC),
                    resolved_by_id=ref.member_pk,
                )
            )
        await row.refresh_from_db()
    return RequestHelpPayloadObject(await help_request_object(context, row, show_token=True), [])


async def assign(context: Context, flow_id: str, step_id: str, member_id: str) -> StepPayloadObject:
    ref = context.member_ref
    assert ref is not None
    if not await may_drive(context):
        return await step_payload(
            context,
            flow_id,
            step_id,
            [
                user_error(
                    ErrorCode.FORBIDDEN, "only the onboarding owner or an admin assigns steps", ()
                )
            ],
        )
    state = await context.loaders.viewer_state()
    item = next((f for f in visible_flows(context, state, None) if f.id == flow_id), None)
    if item is None or item.step(step_id) is None:
        return await step_payload(
            context,
            flow_id,
            step_id,
            [
                user_error(
                    ErrorCode.NOT_FOUND,
                    f"no step {step_id!r} in flow {flow_id!r}",
                    ("input", "stepId"),
                )
            ],
        )
    members = await context.loaders.members()
    assignee = next((m for m in members if m.id == member_id), None)
    problem = _assignment_problem(item.step(step_id), assignee, member_id)
    if problem is not None:
        return await step_payload(context, flow_id, step_id, [problem])
    assert assignee is not None
    async with in_transaction() as connection:
        await bump_state_version(ref.organization_pk, connection)
        await assign_step(
            ref.organization_pk,
            flow_definition(item),
            step_id,
            assignee.pk,
            ref.member_pk,
            connection,
        )
        await record_event(
            ref.organization_pk,
            ref.member_pk,
            "step",
            "step.assigned",
            {"flowId": flow_id, "stepId": step_id, "assignee": member_id},
            connection,
        )
    return await step_payload(context, flow_id, step_id, [])


def _assignment_problem(
    step: Any, assignee: MemberRow | None, member_id: str
) -> UserErrorObject | None:
    """Only organization steps are assigned, and only to someone who can do them."""
    if assignee is None:
        return user_error(
            ErrorCode.NOT_FOUND, f"no member {member_id!r} here", ("input", "memberId")
        )
    if step.scope != "organization":
        return user_error(
            "INVALID_INPUT", "each member does this step themselves", ("input", "stepId")
        )
    if step.roles and not set(step.roles) & set(assignee.roles):
        return user_error(
            ErrorCode.ROLE_REQUIRED,
            f"{assignee.name or assignee.id} holds none of the roles this step needs",
            ("input", "memberId"),
            step.roles,
        )
    return None


async def set_owner(context: Context, member_id: str) -> OrganizationPayloadObject:
    ref = context.member_ref
    assert ref is not None
    if invalid_text(memberId=member_id) is not None:
        return OrganizationPayloadObject(
            None, [user_error(ErrorCode.NOT_FOUND, "no such member here", ("memberId",))]
        )
    if not await may_drive(context):
        return OrganizationPayloadObject(
            None,
            [
                user_error(
                    ErrorCode.FORBIDDEN, "only an admin or the current owner names the owner", ()
                )
            ],
        )
    member = await Member.get_or_none(organization_id=ref.organization_pk, external_id=member_id)
    if member is None:
        return OrganizationPayloadObject(
            None, [user_error(ErrorCode.NOT_FOUND, f"no member {member_id!r} here", ("memberId",))]
        )
    async with in_transaction() as connection:
        await bump_state_version(ref.organization_pk, connection)
        await (
            Organization.filter(id=ref.organization_pk)
            .using_db(connection)
            .update(owner_id=member.id)
        )
        await record_event(
            ref.organization_pk,
            ref.member_pk,
            "team",
            "owner.set",
            {"memberId": member_id},
            connection,
        )
    context.loaders = context.fresh_loaders()
    return OrganizationPayloadObject(await organization(context), [])
