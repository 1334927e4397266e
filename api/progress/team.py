"""Use cases of the team: the organization and its owner, the team's progress, help
requests between members, and assignments.

Heed sends no email: a help request records a `help.requested` event carrying everything an
invitation needs (inviter, organization, the step in the invitee's locale, the invite
token), which the outgoing webhooks deliver to the host product.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from api.actor import Actor
from api.content import Catalog, Item
from api.errors import ErrorCode, HeedError, forbidden, invalid, not_found
from api.paging import Page, paginate
from api.progress.engine import FlowState, StepStatus, evaluate_flow
from api.progress.engine import Member as EngineMember
from api.progress.flows import evaluate, find_flow, visible_flows
from api.progress.live import ProgressAction, ProgressHub
from api.progress.reads import Reads
from api.progress.steps import StepChanged, check_text
from api.progress.store import (
    ORG_KEY,
    HelpRequestRow,
    HelpRequestStatus,
    MemberRow,
    ViewerState,
    assign,
    flow_definition,
    insert_help_request,
    load_help_requests,
    load_members_state_rows,
    viewer_state,
)
from api.progress.store import (
    cancel_help_request as cancel_row,
)
from api.progress.store import (
    set_owner as set_owner_row,
)
from api.progress.unit import Change, Idempotency, commit

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_MESSAGE = 2000
MAX_EMAIL = 320
MAX_SUMMARY = 300
DRIVERS_ONLY = "only the onboarding owner or an admin"


@dataclass(frozen=True)
class OrganizationResult:
    id: str
    name: str | None


@dataclass(frozen=True)
class BlockedStep:
    step_id: str
    title: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class FlowProgress:
    flow_id: str
    title: str
    state: FlowState
    done: int
    total: int
    percent: float
    blocked: tuple[BlockedStep, ...]


@dataclass(frozen=True)
class TeamMember:
    member: MemberRow
    is_owner: bool
    progress: tuple[FlowProgress, ...]


@dataclass(frozen=True)
class HelpRequestResult:
    row: HelpRequestRow
    flow_title: str
    step_title: str
    step_summary: str
    organization: OrganizationResult
    inviter: MemberRow | None
    invitee: MemberRow | None
    resolved_by: MemberRow | None
    show_token: bool

    @property
    def token(self) -> str | None:
        return self.row.token if self.show_token else None


def may_drive(actor: Actor, owner_pk: int | None) -> bool:
    """The onboarding owner and admins see the whole team and move the account forward;
    so does the admin key acting for the organization."""
    return (
        actor.is_admin_key
        or "admin" in actor.roles
        or (owner_pk is not None and actor.member_pk == owner_pk)
    )


def organization(actor: Actor) -> OrganizationResult:
    """The organization as the request knows it (its name from the token, or as stored)."""
    return OrganizationResult(actor.organization_id, actor.organization_name)


async def owner(reads: Reads) -> MemberRow | None:
    """The onboarding owner, who drives the account."""
    _, owner_pk = await reads.organization()
    return (await reads.members_by_pk()).get(owner_pk) if owner_pk else None


async def require_driver(actor: Actor, reads: Reads, what: str) -> None:
    """Raise FORBIDDEN unless the actor drives the organization's onboarding."""
    _, owner_pk = await reads.organization()
    if not may_drive(actor, owner_pk):
        raise forbidden(f"{DRIVERS_ONLY} {what}")


async def organization_progress(
    actor: Actor, catalog: Catalog, reads: Reads, locale: str, first: int | None, after: str | None
) -> Page[FlowProgress]:
    """The flows done once for the whole account, by flow id: owners and admins only."""
    await require_driver(actor, reads, "sees the team's progress")
    viewer = next((m for m in await reads.members() if m.pk == actor.member_pk), None)
    if viewer is None:  # the admin key acting for the organization: no member to see them
        return paginate([], _flow_key, first, after, "flow")
    state = await reads.viewer_state()
    flows = [
        item
        for item in visible_flows(actor, catalog, state, locale)
        if all(step.scope == "organization" for step in item.steps)
    ]
    members = [m.engine for m in await reads.members()]
    progress = [flow_progress(item, viewer, state, members) for item in flows]
    return paginate(sorted(progress, key=_flow_key), _flow_key, first, after, "flow")


async def team_members(
    actor: Actor, catalog: Catalog, reads: Reads, locale: str, first: int | None, after: str | None
) -> Page[TeamMember]:
    """A page of members by id, each with their progress on every flow the viewer sees:
    owners and admins only. Only the page's members' marks are read."""
    await require_driver(actor, reads, "sees the team's progress")
    members = await reads.members()
    page = paginate(sorted(members, key=_member_key), _member_key, first, after, "member")
    rows = await load_members_state_rows(actor.organization_pk, [m.id for m in page.items])
    _, owner_pk = await reads.organization()
    flows = sorted(
        visible_flows(actor, catalog, await reads.viewer_state(), locale), key=lambda i: i.id
    )
    engine_members = [m.engine for m in members]
    shared = [row for row in rows if row[0] == ORG_KEY]
    own: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        if row[0] != ORG_KEY:
            own.setdefault(row[0], []).append(row)

    def entry(member: MemberRow) -> TeamMember:
        state = viewer_state([*shared, *own.get(member.id, ())])
        return TeamMember(
            member,
            member.pk == owner_pk,
            tuple(flow_progress(item, member, state, engine_members) for item in flows),
        )

    return page.map(entry)


def member_progress(member: TeamMember, first: int | None, after: str | None) -> Page[FlowProgress]:
    """A page of one member's flows, by flow id."""
    return paginate(member.progress, _flow_key, first, after, "flow")


def flow_progress(
    item: Item, member: MemberRow, state: ViewerState, members: Sequence[EngineMember]
) -> FlowProgress:
    """Where one member stands on one flow, and the steps nobody can do for lack of a role."""
    flow = flow_definition(item)
    view = evaluate_flow(
        flow, state.marks.get(flow.id, ()), member.engine, members, state.record(flow, member.id)
    )
    blocked = tuple(
        BlockedStep(v.step_id, step.title, tuple(step.roles))
        for v in view.steps
        if v.status is StepStatus.NEEDS_ROLE
        and not v.candidates
        and (step := item.step(v.step_id)) is not None
    )
    return FlowProgress(
        item.id, item.title, view.state, view.done, view.total, view.percent, blocked
    )


def _flow_key(progress: FlowProgress) -> str:
    return progress.flow_id


def _member_key(member: MemberRow) -> str:
    return member.id


Which = Literal["to_viewer", "sent"]


async def help_requests(
    actor: Actor, catalog: Catalog, reads: Reads, default_locale: str, which: Which
) -> list[HelpRequestResult]:
    """Requests addressed to the viewer (open, by member or by their email), or the ones they
    sent (newest first, with tokens)."""
    rows = await reads.help_requests()
    if which == "sent":
        chosen = [row for row in reversed(rows) if row.inviter_pk == actor.member_pk]
    else:
        email = (actor.email or "").lower()
        chosen = [
            row
            for row in rows
            if row.status is HelpRequestStatus.OPEN
            and (
                (row.invitee_pk is not None and row.invitee_pk == actor.member_pk)
                or (row.invitee_pk is None and email and row.email == email)
            )
        ]
    if not chosen:
        return []  # the usual answer: no member lookup to build
    members = await reads.members_by_pk()
    here = organization(actor)
    return [
        describe(row, catalog, members, here, default_locale, show_token=which == "sent")
        for row in chosen
    ]


async def open_help_requests(
    actor: Actor,
    catalog: Catalog,
    reads: Reads,
    default_locale: str,
    first: int | None,
    after: str | None,
) -> Page[HelpRequestResult]:
    """A page of the organization's open requests, oldest first: owners and admins only."""
    await require_driver(actor, reads, "sees every help request")
    rows = [row for row in await reads.help_requests() if row.status is HelpRequestStatus.OPEN]
    page = paginate(sorted(rows, key=_request_key), _request_key, first, after, "help")
    members = await reads.members_by_pk()
    here = organization(actor)
    return page.map(
        lambda row: describe(row, catalog, members, here, default_locale, show_token=False)
    )


def _request_key(row: HelpRequestRow) -> str:
    """Creation time, then id: sorts as the requests were made."""
    return f"{row.created_at.timestamp():020.6f}:{row.id}"


def describe(
    row: HelpRequestRow,
    catalog: Catalog,
    members: dict[int, MemberRow],
    here: OrganizationResult,
    default_locale: str,
    *,
    show_token: bool,
) -> HelpRequestResult:
    """A help request with its step told in the invitee's locale."""
    invitee = members.get(row.invitee_pk) if row.invitee_pk else None
    locale = (invitee.locale if invitee else None) or default_locale
    resolved = catalog.get(row.flow_id, locale)
    step = resolved.item.step(row.step_id) if resolved else None
    return HelpRequestResult(
        row=row,
        flow_title=resolved.item.title if resolved else row.flow_id,
        step_title=step.title if step else row.step_id,
        step_summary=summary(step.body_markdown) if step else "",
        organization=here,
        inviter=members.get(row.inviter_pk),
        invitee=invitee,
        resolved_by=members.get(row.resolved_by_pk) if row.resolved_by_pk else None,
        show_token=show_token,
    )


def summary(markdown: str, limit: int = MAX_SUMMARY) -> str:
    """The step's first paragraph as plain text, for a notification; cut at a word boundary
    with an ellipsis when longer than `limit`."""
    first = markdown.strip().split("\n\n", 1)[0]
    text = re.sub(r"[*_`#>\[\]]|\(heed:[^)]*\)", "", first).replace("\n", " ").strip()
    text = re.sub(r"\s+", " ", text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "…"


async def request_help(
    actor: Actor,
    catalog: Catalog,
    hub: ProgressHub,
    flow_id: str,
    step_id: str,
    member_id: str | None,
    email: str | None,
    message: str | None,
    locale: str,
    default_locale: str,
    idempotency_key: str | None = None,
) -> HelpRequestResult:
    """Ask a colleague (a member, or an email address) to do an organization step."""
    check_text(flowId=flow_id, stepId=step_id, memberId=member_id, idempotencyKey=idempotency_key)
    check_text(MAX_EMAIL, email=email)
    check_text(MAX_MESSAGE, message=message)
    if (member_id is None) == (email is None):
        raise invalid("give either memberId or email", "input", "memberId")
    if email is not None and not EMAIL.match(email):
        raise invalid("not an email address", "input", "email")
    inviter_pk = actor.acting_member()

    async def decide(change: Change) -> dict[str, Any]:
        item = find_flow(actor, catalog, change.state, locale, flow_id)
        if item is None:
            raise not_found(f"no flow {flow_id!r}", "input", "flowId")
        step = item.step(step_id)
        if step is None:
            raise not_found(f"no step {step_id!r} in {flow_id!r}", "input", "stepId")
        if step.scope != "organization":
            raise invalid(
                "each member does this step for themselves: a colleague cannot do it for you",
                "input",
                "stepId",
            )
        invitee = _invitee(change.members, member_id, email)
        if invitee is not None and invitee.pk == inviter_pk:
            raise invalid("you cannot ask yourself", "input", "memberId" if member_id else "email")
        if invitee is not None:
            _check_can_do(step.roles, invitee, change.members, "memberId" if member_id else "email")
        flow = flow_definition(item)
        view = evaluate_flow(
            flow,
            change.state.marks.get(flow.id, ()),
            actor.engine,
            (),
            change.state.record(flow, actor.member_id),
        )
        if next(v.status for v in view.steps if v.step_id == step_id) is StepStatus.DONE:
            raise HeedError(
                ErrorCode.ALREADY_DONE, "this step is done already", ("input", "stepId")
            )
        email_key = None if invitee is not None else (email or "").strip().lower()
        invitee_pk = invitee.pk if invitee else None
        existing = next(
            (
                r
                for r in change.open_help
                if (r.flow_id, r.step_id, r.inviter_pk, r.invitee_pk, r.email)
                == (flow_id, step_id, inviter_pk, invitee_pk, email_key)
            ),
            None,
        )
        if existing is not None:  # an open request for the same colleague is reused
            return {"requestId": existing.id}
        public_id, token = secrets.token_hex(8), secrets.token_urlsafe(32)
        change.write(
            insert_help_request(
                actor.organization_pk,
                public_id,
                token,
                flow_id,
                step_id,
                inviter_pk,
                invitee_pk,
                email_key,
                message,
                change.now,
            )
        )
        invitee_locale = (invitee.locale if invitee else None) or default_locale
        change.emit(
            "help.requested",
            _invitation(
                actor,
                catalog,
                public_id,
                token,
                flow_id,
                step_id,
                invitee,
                email_key,
                message,
                invitee_locale,
            ),
        )
        change.announce(flow_id, step_id, ProgressAction.HELP_REQUESTED)
        return {"requestId": public_id}

    key = (
        Idempotency(
            idempotency_key,
            "help",
            {"flowId": flow_id, "stepId": step_id, "memberId": member_id, "email": email},
        )
        if idempotency_key
        else None
    )
    committed = await commit(actor, hub, decide, idempotency=key)
    return await _request_now(actor, catalog, default_locale, committed.record["requestId"])


def _invitee(
    members: Sequence[MemberRow], member_id: str | None, email: str | None
) -> MemberRow | None:
    """The colleague asked: a member by id, or (the email of one already here) by email."""
    if member_id is not None:
        found = next((m for m in members if m.id == member_id), None)
        if found is None:
            raise not_found(f"no member {member_id!r} here", "input", "memberId")
        return found
    address = (email or "").lower()
    return next((m for m in members if m.email and m.email.lower() == address), None)


def _check_can_do(
    roles: Sequence[str], member: MemberRow, members: Sequence[MemberRow], field: str
) -> None:
    """A request or an assignment only goes to someone who holds one of the step's roles."""
    if not roles or set(roles) & set(member.roles):
        return
    holders = [m.id for m in members if set(roles) & set(m.roles)]
    raise HeedError(
        ErrorCode.ROLE_REQUIRED,
        f"{member.name or member.id} holds none of the roles this step needs"
        f" ({', '.join(sorted(roles))})",
        ("input", field),
        roles=sorted(roles),
        candidates=holders,
    )


def _invitation(
    actor: Actor,
    catalog: Catalog,
    request_id: str,
    token: str,
    flow_id: str,
    step_id: str,
    invitee: MemberRow | None,
    email: str | None,
    message: str | None,
    locale: str,
) -> dict[str, Any]:
    """Everything an invitation email or chat message needs, in the invitee's locale."""
    resolved = catalog.get(flow_id, locale)
    step = resolved.item.step(step_id) if resolved else None
    return {
        "requestId": request_id,
        "token": token,
        "locale": locale,
        "organization": {"id": actor.organization_id, "name": actor.organization_name},
        "inviter": {"id": actor.member_id, "name": actor.name, "email": actor.email},
        "invitee": invitee and {"id": invitee.id, "name": invitee.name, "email": invitee.email},
        "email": email,
        "flow": {"id": flow_id, "title": resolved.item.title if resolved else flow_id},
        "step": {
            "id": step_id,
            "title": step.title if step else step_id,
            "summary": summary(step.body_markdown) if step else "",
        },
        "message": message,
    }


async def _request_now(
    actor: Actor, catalog: Catalog, default_locale: str, request_id: str
) -> HelpRequestResult:
    """A help request as it stands after a change, read again (with its token: the caller
    is its inviter, its owner or an admin)."""
    reads = Reads(actor)
    rows = await load_help_requests(actor.organization_pk)
    row = next((r for r in rows if r.id == request_id), None)
    if row is None:
        raise not_found(f"no help request {request_id!r}", "id")
    reads.prime("help_requests", rows)
    members = await reads.members_by_pk()
    return describe(row, catalog, members, organization(actor), default_locale, show_token=True)


MAX_REQUEST_ID = 32


async def cancel_help_request(
    actor: Actor, catalog: Catalog, hub: ProgressHub, request_id: str, default_locale: str
) -> HelpRequestResult:
    """Withdraw a help request: its inviter, the owner or an admin."""
    if "\x00" in request_id or len(request_id) > MAX_REQUEST_ID:
        raise not_found("no such help request", "id")

    async def decide(change: Change) -> dict[str, Any]:
        request = next((r for r in change.open_help if r.id == request_id), None)
        if request is None:
            return {}  # closed already, or not here: the answer says which
        if request.inviter_pk != actor.member_pk and not may_drive(actor, change.read.owner_pk):
            raise forbidden("only the member who asked (or the owner) can cancel", "id")
        change.write(cancel_row(request.pk, actor.member_pk, change.now))
        change.emit(
            "help.cancelled",
            {
                "requestId": request.id,
                "flowId": request.flow_id,
                "stepId": request.step_id,
                "cancelledById": actor.member_id or None,
            },
        )
        return {}

    await commit(actor, hub, decide)
    return await _request_now(actor, catalog, default_locale, request_id)


async def assign_step(
    actor: Actor,
    catalog: Catalog,
    hub: ProgressHub,
    flow_id: str,
    step_id: str,
    member_id: str,
    locale: str,
) -> StepChanged:
    """The owner, an admin or the admin key gives an organization step to a member who can
    do it."""
    check_text(flowId=flow_id, stepId=step_id, memberId=member_id)

    async def decide(change: Change) -> dict[str, Any]:
        if not may_drive(actor, change.read.owner_pk):
            raise forbidden(f"{DRIVERS_ONLY} assigns steps")
        item = find_flow(actor, catalog, change.state, locale, flow_id)
        step = item.step(step_id) if item else None
        if item is None or step is None:
            raise not_found(f"no step {step_id!r} in flow {flow_id!r}", "input", "stepId")
        assignee = next((m for m in change.members if m.id == member_id), None)
        if assignee is None:
            raise not_found(f"no member {member_id!r} here", "input", "memberId")
        if step.scope != "organization":
            raise invalid("each member does this step themselves", "input", "stepId")
        _check_can_do(step.roles, assignee, change.members, "memberId")
        flow = flow_definition(item)
        change.write(
            assign(
                actor.organization_pk,
                flow,
                step_id,
                assignee.pk,
                actor.member_pk or assignee.pk,
                change.now,
            )
        )
        change.state.assignees[(flow_id, step_id)] = assignee.pk
        change.emit(
            "step.assigned", {"flowId": flow_id, "stepId": step_id, "assigneeId": member_id}
        )
        return {}

    committed = await commit(actor, hub, decide)
    change = committed.change
    item = find_flow(actor, catalog, change.state, locale, flow_id)
    assert item is not None  # decide found it under the same state
    return StepChanged(
        evaluate(item, actor.engine, change.state, change.members, catalog.chain(locale)[0]),
        step_id,
    )


async def set_owner(actor: Actor, hub: ProgressHub, member_id: str) -> OrganizationResult:
    """Name the onboarding owner: an admin, the current owner, or the admin key."""
    if "\x00" in member_id or len(member_id) > 128:
        raise not_found("no such member here", "memberId")

    async def decide(change: Change) -> dict[str, Any]:
        if not may_drive(actor, change.read.owner_pk):
            raise forbidden("only an admin or the current owner names the owner")
        member = next((m for m in change.members if m.id == member_id), None)
        if member is None:
            raise not_found(f"no member {member_id!r} here", "memberId")
        previous = next((m for m in change.members if m.pk == change.read.owner_pk), None)
        change.write(set_owner_row(actor.organization_pk, member.pk))
        change.emit(
            "owner.changed",
            {"memberId": member.id, "previousMemberId": previous.id if previous else None},
        )
        return {}

    await commit(actor, hub, decide)
    return organization(actor)
