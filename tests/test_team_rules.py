"""Regressions for the team rules found in review: each case was demonstrated first."""

from __future__ import annotations

import asyncio

import httpx

from api.db.models import Event, HelpRequest
from tests.conftest import SQLCounter, graphql
from tests.test_team_onboarding import REQUEST_HELP, Team, statuses, step

TRACK = """mutation($e: String!, $p: JSON, $k: String) {
  track(input: {event: $e, properties: $p, idempotencyKey: $k}) {
    completedSteps { id } userErrors { code } } }"""


async def test_track_completes_only_what_the_viewer_could_do(client: httpx.AsyncClient) -> None:
    team = Team("track")
    brendan = team.add("brendan", "office_manager")
    card = await graphql(client, TRACK, brendan, {"e": "card.added"})
    ipad = await graphql(client, TRACK, brendan, {"e": "device.paired"})
    assert card["data"]["track"]["completedSteps"] == [], "add-card needs billing or admin"
    assert ipad["data"]["track"]["completedSteps"] == [], "install-ipad waits for create-account"
    flow = await statuses(client, brendan)
    assert {s["id"]: s["status"] for s in flow["steps"]}["add-card"] == "NEEDS_ROLE"


async def test_reopening_a_required_step_uncompletes_the_flow(client: httpx.AsyncClient) -> None:
    ann = Team("reopen").add("ann", "admin")
    for step_id in ("create-account", "add-card", "connect-directory", "install-ipad"):
        await step(client, ann, "completeStep", "reception-setup", step_id)
    assert (await statuses(client, ann))["state"] == "COMPLETED"
    await step(client, ann, "reopenStep", "reception-setup", "add-card")
    flow = await statuses(client, ann)
    assert flow["state"] == "IN_PROGRESS"
    assert flow["nextStep"] == {"id": "add-card"}


async def test_finishing_the_last_two_steps_at_once_completes_the_flow_once(
    client: httpx.AsyncClient,
) -> None:
    team = Team("race")
    ann, bob = team.add("ann", "admin"), team.add("bob", "admin")
    for step_id in ("create-account", "add-card"):
        await step(client, ann, "completeStep", "reception-setup", step_id)
    await asyncio.gather(
        step(client, ann, "completeStep", "reception-setup", "connect-directory"),
        step(client, bob, "completeStep", "reception-setup", "install-ipad"),
    )
    completed = Event.filter(organization__external_id=team.org, name="flow.completed")
    assert await completed.count() == 1
    assert (await statuses(client, ann))["state"] == "COMPLETED"


async def test_concurrent_retries_with_one_key_all_succeed(client: httpx.AsyncClient) -> None:
    team = Team("keys")
    ann = team.add("ann", "admin")
    tracked = await asyncio.gather(
        *[graphql(client, TRACK, ann, {"e": "directory.connected", "k": "same"}) for _ in range(8)]
    )
    assert all("errors" not in body for body in tracked), tracked
    asked = await asyncio.gather(
        *[
            graphql(
                client,
                REQUEST_HELP,
                ann,
                {
                    "input": {
                        "flowId": "reception-setup",
                        "stepId": "add-nda",
                        "email": "lee@keys.test",
                        "idempotencyKey": "other",
                    }
                },
            )
            for _ in range(8)
        ]
    )
    assert all("errors" not in body for body in asked), asked
    assert len({body["data"]["requestHelp"]["helpRequest"]["id"] for body in asked}) == 1


async def test_concurrent_requests_without_a_key_are_not_duplicated(
    client: httpx.AsyncClient,
) -> None:
    team = Team("dupes")
    ann = team.add("ann", "office_manager")
    await asyncio.gather(
        *[
            graphql(
                client,
                REQUEST_HELP,
                ann,
                {
                    "input": {
                        "flowId": "reception-setup",
                        "stepId": "add-card",
                        "email": "dana@dupes.test",
                    }
                },
            )
            for _ in range(8)
        ]
    )
    assert await HelpRequest.filter(organization__external_id=team.org).count() == 1


async def test_bad_inputs_are_user_errors(client: httpx.AsyncClient) -> None:
    ann = Team("inputs").add("ann", "admin")
    for variables in (
        {"e": "x", "p": "abc"},
        {"e": "x", "p": [1]},
        {"e": "x", "k": "k" * 129},
    ):
        body = await graphql(client, TRACK, ann, variables)
        assert body["data"]["track"]["userErrors"] == [{"code": "INVALID_INPUT"}], variables


async def test_nul_characters_are_refused_at_the_edge(client: httpx.AsyncClient) -> None:
    """A NUL cannot be stored (Postgres refuses it): every request carrying one is a 400,
    whichever field it is meant for."""
    ann = Team("inputs").add("ann", "admin")
    help_input = {"flowId": "reception-setup", "stepId": "add-nda", "email": "a@b.test"}
    for query, variables in (
        (TRACK, {"e": "bad\x00event"}),
        (TRACK, {"e": "x", "p": {"a": "nul\x00"}}),
        (REQUEST_HELP, {"input": {**help_input, "message": "hi\x00"}}),
        ('mutation { cancelHelpRequest(id: "x\\u0000") { userErrors { code } } }', {}),
    ):
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=ann
        )
        assert response.status_code == 400, query
        assert "NUL" in response.json()["errors"][0]["message"]


async def test_a_key_reused_for_another_step_is_a_conflict(client: httpx.AsyncClient) -> None:
    ann = Team("conflict").add("ann", "admin")
    await step(client, ann, "completeStep", "reception-setup", "create-account", "k1")
    reused = await step(client, ann, "completeStep", "reception-setup", "add-card", "k1")
    assert reused["userErrors"][0]["code"] == "IDEMPOTENCY_CONFLICT"


async def test_help_is_for_organization_steps(client: httpx.AsyncClient) -> None:
    team = Team("userstep")
    ann, bob = team.add("ann", "admin"), team.add("bob", "admin")
    await graphql(client, "{ viewer { member { id } } }", bob)
    asked = await graphql(
        client,
        REQUEST_HELP,
        ann,
        {"input": {"flowId": "first-visitor", "stepId": "open-dashboard", "memberId": "bob"}},
    )
    assert asked["data"]["requestHelp"]["userErrors"][0]["code"] == "INVALID_INPUT"


async def test_steps_are_assigned_to_someone_who_can_do_them(client: httpx.AsyncClient) -> None:
    team = Team("assign")
    ann, bob = team.add("ann", "admin"), team.add("bob", "office_manager")
    await graphql(client, "{ viewer { member { id } } }", bob)
    assign = (
        "mutation($f: ID!, $s: ID!, $m: ID!) { assignStep(input: {flowId: $f, stepId: $s, "
        "memberId: $m}) { step { assignee { id } } userErrors { code } } }"
    )
    no_role = await graphql(
        client, assign, ann, {"f": "reception-setup", "s": "add-card", "m": "bob"}
    )
    assert no_role["data"]["assignStep"]["userErrors"][0]["code"] == "ROLE_REQUIRED"
    user_step = await graphql(
        client, assign, ann, {"f": "first-visitor", "s": "open-dashboard", "m": "bob"}
    )
    assert user_step["data"]["assignStep"]["userErrors"][0]["code"] == "INVALID_INPUT"
    together = await asyncio.gather(
        *[
            graphql(client, assign, ann, {"f": "reception-setup", "s": "install-ipad", "m": "bob"})
            for _ in range(6)
        ]
    )
    assert all(b["data"]["assignStep"]["userErrors"] == [] for b in together), together


async def test_the_organization_overview_reads_each_thing_once(
    client: httpx.AsyncClient, sql_counter: SQLCounter
) -> None:
    ann = Team("overview").add("ann", "admin")
    query = (
        "{ organization { owner { id } progress { edges { node { flowId } } }"
        " members(first: 100) { edges { node { isOwner progress { edges { node { state } } } } } }"
        " helpRequests { edges { node { id status } } } } }"
    )
    await graphql(client, query, ann)
    sql_counter.statements.clear()
    body = await graphql(client, query, ann)
    assert "errors" not in body, body
    assert len(sql_counter.statements) <= 5, sql_counter.statements


async def test_a_member_is_refused_only_the_fields_they_may_not_read(
    client: httpx.AsyncClient,
) -> None:
    team = Team("fields")
    ann, cid = team.add("ann", "admin"), team.add("cid", "billing")
    await graphql(
        client, 'mutation { setOnboardingOwner(memberId: "ann") { userErrors { code } } }', ann
    )
    body = await graphql(
        client,
        "{ organization { id owner { id } progress { totalCount } helpRequests { totalCount } } }",
        cid,
    )
    assert body["data"]["organization"] == {
        "id": team.org,
        "owner": {"id": "ann"},
        "progress": None,
        "helpRequests": None,
    }
    refused = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert refused == {
        ("organization", "progress"): "FORBIDDEN",
        ("organization", "helpRequests"): "FORBIDDEN",
    }
