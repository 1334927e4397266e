"""The domain's use cases called directly: an explicit actor in, plain results or one error
type out; no HTTP, no GraphQL. Real databases underneath."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest

from api.actor import Actor
from api.auth import MemberPrincipal
from api.content import Catalog, build
from api.db import open_database, using
from api.db.models import Event, HelpRequest, StepState
from api.errors import ErrorCode, HeedError
from api.members import MemberRegistry
from api.progress.engine import Action, StepStatus
from api.progress.live import ProgressHub
from api.progress.steps import change_step, reset_progress, track
from api.progress.team import request_help, set_owner, summary
from tests.conftest import ROOT, unique

FLOW = "reception-setup"


@functools.cache
def catalog() -> Catalog:
    return Catalog(build(ROOT / "content").items.values())


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[None]:
    database = await open_database(database_url, migrate=False)
    try:
        with using(database):
            yield
    finally:
        await database.close_connections()


class Org:
    """An organization whose members are made as their first token would make them."""

    def __init__(self) -> None:
        self.id = unique("usecase")
        self.hub = ProgressHub(None)
        self.registry = MemberRegistry(self.hub)

    async def member(self, member_id: str, *roles: str, email: str | None = None) -> Actor:
        principal = MemberPrincipal(self.id, member_id, tuple(sorted(roles)), email=email)
        ref = await self.registry.ensure(principal)
        return Actor(
            ref.organization_pk,
            self.id,
            None,
            ref.member_pk,
            member_id,
            frozenset(roles),
            email=email,
        )

    def admin_key(self, someone: Actor) -> Actor:
        return Actor(someone.organization_pk, self.id, None)

    async def complete(self, actor: Actor, step_id: str, key: str | None = None) -> StepStatus:
        changed = await change_step(
            actor, catalog(), self.hub, Action.COMPLETE, FLOW, step_id, "en", key
        )
        return next(v.status for v in changed.flow.view.steps if v.step_id == step_id)


async def events(org: Org, name: str) -> list[dict]:
    rows = await Event.filter(organization__external_id=org.id, name=name).order_by("id")
    return [row.properties for row in rows]


@pytest.mark.usefixtures("database")
async def test_completing_a_step_answers_from_the_change_and_records_its_event() -> None:
    org = Org()
    ann = await org.member("ann", "admin")
    assert await org.complete(ann, "create-account") is StepStatus.DONE
    (event,) = await events(org, "step.completed")
    assert event == {
        "version": 1,
        "actorId": "ann",
        "flowId": FLOW,
        "stepId": "create-account",
        "flowRevision": catalog().get(FLOW).item.revision,
        "scope": "organization",
        "memberId": "ann",
    }


@pytest.mark.usefixtures("database")
async def test_a_key_replays_and_a_reused_key_conflicts() -> None:
    org = Org()
    ann = await org.member("ann", "admin")
    assert await org.complete(ann, "create-account", "k") is StepStatus.DONE
    assert await org.complete(ann, "create-account", "k") is StepStatus.DONE
    assert len(await events(org, "step.completed")) == 1
    with pytest.raises(HeedError) as raised:
        await org.complete(ann, "add-card", "k")
    assert raised.value.code is ErrorCode.IDEMPOTENCY_CONFLICT


@pytest.mark.usefixtures("database")
async def test_a_step_needing_a_role_names_who_can() -> None:
    org = Org()
    bob = await org.member("bob", "office_manager")
    await org.member("dana", "billing")
    with pytest.raises(HeedError) as raised:
        await org.complete(bob, "add-card")
    assert raised.value.code is ErrorCode.ROLE_REQUIRED
    assert raised.value.roles == ("admin", "billing")
    assert raised.value.candidates == ("dana",)
    assert await StepState.filter(organization__external_id=org.id).count() == 0


@pytest.mark.usefixtures("database")
async def test_the_admin_key_cannot_act_as_a_member() -> None:
    org = Org()
    ann = await org.member("ann", "admin")
    with pytest.raises(HeedError) as raised:
        await org.complete(org.admin_key(ann), "create-account")
    assert raised.value.code is ErrorCode.FORBIDDEN


@pytest.mark.usefixtures("database")
async def test_an_app_event_completes_the_steps_the_viewer_could_do() -> None:
    org = Org()
    ivan = await org.member("ivan", "it_admin")
    bob = await org.member("bob", "office_manager")
    nothing = await track(bob, catalog(), org.hub, "directory.connected", None, "en")
    assert nothing.completed == []
    tracked = await track(ivan, catalog(), org.hub, "directory.connected", {"n": 1}, "en")
    assert [step_id for _, step_id in tracked.completed] == ["connect-directory"]
    assert await Event.filter(organization__external_id=org.id, kind="app").count() == 2


@pytest.mark.usefixtures("database")
async def test_help_goes_to_someone_who_can_and_carries_the_invitation() -> None:
    org = Org()
    brendan = await org.member("brendan", "office_manager")
    await org.member("ivan", "it_admin")
    with pytest.raises(HeedError) as raised:
        await request_help(
            brendan, catalog(), org.hub, FLOW, "add-card", "ivan", None, None, "en", "en"
        )
    assert raised.value.code is ErrorCode.ROLE_REQUIRED
    assert raised.value.field == ("input", "memberId")
    asked = await request_help(
        brendan, catalog(), org.hub, FLOW, "add-card", None, "Dana@X.test", "Please", "en", "en"
    )
    assert asked.row.email == "dana@x.test"
    assert asked.token
    (invitation,) = await events(org, "help.requested")
    assert invitation["requestId"] == asked.row.id
    assert invitation["token"] == asked.row.token
    assert invitation["inviter"]["id"] == "brendan"
    assert invitation["step"]["title"] == asked.step_title
    assert invitation["message"] == "Please"
    dana = await org.member("dana", "billing", email="dana@x.test")
    assert await org.complete(dana, "add-card") is StepStatus.DONE
    (resolved,) = await events(org, "help.resolved")
    assert resolved["requestId"] == asked.row.id
    assert resolved["resolvedById"] == "dana"
    assert (await HelpRequest.get(public_id=asked.row.id)).status == "done"


@pytest.mark.usefixtures("database")
async def test_owner_changes_and_resets_are_events() -> None:
    org = Org()
    ann = await org.member("ann", "admin")
    dana = await org.member("dana", "billing")
    with pytest.raises(HeedError) as raised:
        await set_owner(dana, org.hub, "dana")
    assert raised.value.code is ErrorCode.FORBIDDEN
    await set_owner(ann, org.hub, "dana")
    await set_owner(dana, org.hub, "ann")
    assert await events(org, "owner.changed") == [
        {"version": 1, "actorId": "ann", "memberId": "dana", "previousMemberId": None},
        {"version": 1, "actorId": "dana", "memberId": "ann", "previousMemberId": "dana"},
    ]
    await change_step(dana, catalog(), org.hub, Action.SKIP, FLOW, "add-nda", "en")
    flow = await reset_progress(org.admin_key(ann), catalog(), org.hub, "dana", FLOW)
    assert next(v for v in flow.view.steps if v.step_id == "add-nda").status is not (
        StepStatus.SKIPPED
    )
    (reset,) = await events(org, "progress.reset")
    assert (reset["memberId"], reset["cleared"], reset["actorId"]) == ("dana", 1, None)


def test_a_long_summary_is_cut_at_a_word_with_an_ellipsis() -> None:
    text = "Connect the directory so that everyone appears " * 10
    cut = summary(text, limit=60)
    assert cut.endswith("…")
    assert len(cut) <= 60
    assert text.startswith(cut[:-1])
    assert text[len(cut) - 1] == " ", "the cut falls between words"
    assert summary("Short and sweet.") == "Short and sweet."
