"""The admin key acts for one organization (X-Heed-Organization), and reads as one of its
members with X-Heed-Member. Every query and mutation, with and without those headers:
clear FORBIDDEN or NOT_FOUND answers, never an internal error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.db.models import Event
from tests.conftest import TEST_ADMIN_KEY, graphql
from tests.test_team_onboarding import FLOW, Team, step

ADMIN = {"X-Heed-Admin-Key": TEST_ADMIN_KEY}

QUERIES = {
    "viewer": "{ viewer { member { id } roles } }",
    "flows": "{ flows { id state } }",
    "flow": '{ flow(id: "reception-setup") { id } }',
    "organization": "{ organization { id owner { id } } }",
}
MUTATIONS = {
    "completeStep": 'completeStep(input: {flowId: "reception-setup", stepId: "create-account"})',
    "skipStep": 'skipStep(input: {flowId: "reception-setup", stepId: "add-nda"})',
    "reopenStep": 'reopenStep(input: {flowId: "reception-setup", stepId: "create-account"})',
    "track": 'track(input: {event: "card.added"})',
    "requestHelp": (
        'requestHelp(input: {flowId: "reception-setup", stepId: "add-card", email: "a@b.test"})'
    ),
    "cancelHelpRequest": 'cancelHelpRequest(id: "nope")',
    "assignStep": (
        'assignStep(input: {flowId: "reception-setup", stepId: "add-card", memberId: "dana"})'
    ),
    "setOnboardingOwner": 'setOnboardingOwner(memberId: "dana")',
    "resetProgress": 'resetProgress(input: {memberId: "dana", flowId: "first-visitor"})',
}
MEMBER_ACTS = ("completeStep", "skipStep", "reopenStep", "track", "requestHelp")


def mutation(name: str) -> str:
    return f"mutation {{ {MUTATIONS[name]} {{ userErrors {{ code message }} }} }}"


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def team_with_dana(client: httpx.AsyncClient) -> Team:
    team = Team("adminkey")
    for member, role in (("ann", "admin"), ("dana", "billing")):
        headers = team.add(member, role)
        await graphql(client, "{ viewer { member { id } } }", headers)
    return team


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_without_an_organization_state_queries_are_forbidden(
    client: httpx.AsyncClient, name: str
) -> None:
    body = await graphql(client, QUERIES[name], ADMIN)
    assert codes(body) == ["FORBIDDEN"], body
    assert "X-Heed-Organization" in body["errors"][0]["message"]


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_without_an_organization_mutations_are_forbidden(
    client: httpx.AsyncClient, name: str
) -> None:
    body = await graphql(client, mutation(name), ADMIN)
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"], body


async def test_an_unknown_organization_is_not_found(client: httpx.AsyncClient) -> None:
    headers = {**ADMIN, "X-Heed-Organization": "no-such-org"}
    assert codes(await graphql(client, QUERIES["organization"], headers)) == ["NOT_FOUND"]
    body = await graphql(client, mutation("setOnboardingOwner"), headers)
    assert body["data"]["setOnboardingOwner"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_acting_for_an_organization(client: httpx.AsyncClient) -> None:
    team = await team_with_dana(client)
    headers = {**ADMIN, "X-Heed-Organization": team.org}
    overview = await graphql(
        client,
        "{ organization { id owner { id } progress { edges { node { flowId } } } "
        "members { edges { node { member { id } } } } helpRequests { edges { node { id } } } } }",
        headers,
    )
    assert "errors" not in overview, overview
    organization = overview["data"]["organization"]
    assert organization["id"] == team.org
    assert sorted(e["node"]["member"]["id"] for e in organization["members"]["edges"]) == [
        "ann",
        "dana",
    ]
    for name in ("viewer", "flows", "flow"):
        body = await graphql(client, QUERIES[name], headers)
        assert codes(body) == ["FORBIDDEN"], body
        assert "X-Heed-Member" in body["errors"][0]["message"]
    for name in MEMBER_ACTS:
        body = await graphql(client, mutation(name), headers)
        (payload,) = body["data"].values()
        assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"], (name, body)
    for name in ("assignStep", "setOnboardingOwner"):
        body = await graphql(client, mutation(name), headers)
        (payload,) = body["data"].values()
        assert payload["userErrors"] == [], (name, body)
    owner = await graphql(client, QUERIES["organization"], headers)
    assert owner["data"]["organization"]["owner"] == {"id": "dana"}
    cancel = await graphql(client, mutation("cancelHelpRequest"), headers)
    assert cancel["data"]["cancelHelpRequest"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_reading_as_a_member(client: httpx.AsyncClient) -> None:
    team = await team_with_dana(client)
    await step(client, team.headers["dana"], "completeStep", "reception-setup", "add-card")
    headers = {**ADMIN, "X-Heed-Organization": team.org, "X-Heed-Member": "dana"}
    as_dana = await graphql(client, FLOW, headers, {"id": "reception-setup"})
    own = await graphql(client, FLOW, team.headers["dana"], {"id": "reception-setup"})
    assert "errors" not in as_dana, as_dana
    assert as_dana == own
    viewer = await graphql(client, QUERIES["viewer"], headers)
    assert viewer["data"]["viewer"] == {"member": {"id": "dana"}, "roles": ["billing"]}
    refused = await graphql(client, mutation("completeStep"), headers)
    assert refused["data"]["completeStep"]["userErrors"][0]["code"] == "FORBIDDEN"
    unknown = {**headers, "X-Heed-Member": "nobody"}
    assert codes(await graphql(client, QUERIES["flows"], unknown)) == ["NOT_FOUND"]


async def test_resetting_a_members_progress(client: httpx.AsyncClient) -> None:
    team = await team_with_dana(client)
    dana = team.headers["dana"]
    flow_query = '{ flow(id: "first-visitor") { state progress { done } } }'
    before = (await graphql(client, "{ flows { id steps { id status scope } } }", dana))["data"]
    first = next(f for f in before["flows"] if f["id"] == "first-visitor")
    user_step = next(s["id"] for s in first["steps"] if s["scope"] == "USER")
    await step(client, dana, "completeStep", "first-visitor", user_step)
    assert (await graphql(client, flow_query, dana))["data"]["flow"]["progress"]["done"] == 1

    member_try = await graphql(client, mutation("resetProgress"), team.headers["ann"])
    assert member_try["data"]["resetProgress"]["userErrors"][0]["code"] == "FORBIDDEN"
    headers = {**ADMIN, "X-Heed-Organization": team.org}
    reset = (
        'mutation { resetProgress(input: {memberId: "dana", flowId: "first-visitor", '
        'idempotencyKey: "r1"}) { flow { id state progress { done } } userErrors { code } } }'
    )
    body = await graphql(client, reset, headers)
    assert body["data"]["resetProgress"] == {
        "flow": {"id": "first-visitor", "state": "NOT_STARTED", "progress": {"done": 0}},
        "userErrors": [],
    }
    assert await graphql(client, reset, headers) == body, "a retried key replays"
    after = (await graphql(client, flow_query, dana))["data"]["flow"]
    assert after == {"state": "NOT_STARTED", "progress": {"done": 0}}
    events = await Event.filter(organization__external_id=team.org, name="progress.reset")
    assert [e.properties["cleared"] for e in events] == [1]
    assert events[0].properties["memberId"] == "dana"
    unknown = reset.replace('"dana"', '"nobody"').replace('"r1"', '"r2"')
    body = await graphql(client, unknown, headers)
    assert body["data"]["resetProgress"]["userErrors"] == [{"code": "NOT_FOUND"}]
