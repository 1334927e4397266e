"""Queries answered from their plans (api/plans.py) read exactly as graphql-core's executor
answers them: the same answers field for field, and the same errors when a plan gives way."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import api.execution
from api.execution import Documents
from tests.conftest import SQLCounter, graphql, unique
from tests.test_team_onboarding import FLOW, HOME, REQUEST_HELP, Team, step

CONTENT = """query Content($first: Int, $kind: ContentKind) {
  first: content(first: $first, kind: $kind) { edges { node { ...Card } } pageInfo { hasNextPage } }
  wifi: contentItem(id: "guest-wifi") {
    __typename id
    ... on ContentDocument { title bodyHtml }
    ... on Survey { questions { id } }
    ... Card
    hidden: title @skip(if: true)
    shown: summary @include(if: true)
  }
  release { number }
  __typename
}
fragment Card on ContentItem { id kind title phase tags locale isFallback }"""
TEAM = """{ organization { id name owner { id }
    members(first: 5) { totalCount edges { cursor node { member { id name } isOwner
      progress { edges { node { flowId state done total percent blocked { stepId } } } } } } } }
  viewer { member { id } roles helpRequests { id status stepTitle invitee { id } } } }"""
SCHEMA = '{ __schema { queryType { name } } __type(name: "Flow") { name kind } }'


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The operations graphql-core's executor ran (their first definition's name)."""
    ran: list[str] = []
    general = api.execution.execute

    def counted(schema: Any, document: Any, **kwargs: Any) -> Any:
        name = document.definitions[0].name
        ran.append(name.value if name else "(anonymous)")
        return general(schema, document, **kwargs)

    monkeypatch.setattr(api.execution, "execute", counted)
    return ran


async def ask_all(
    client: httpx.AsyncClient, headers: dict[str, str], asks: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Each answer computed afresh: a new variable keeps the answer cache out of it."""
    return [
        await graphql(client, query, headers, {**variables, "fresh": unique("v")})
        for query, variables in asks
    ]


async def test_planned_answers_are_graphql_cores_answers(
    client: httpx.AsyncClient, executions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    team = Team("planned")
    ann, bob = team.add("ann", "admin"), team.add("bob", "billing")
    await graphql(client, "{ __typename }", bob)
    await step(client, ann, "completeStep", "reception-setup", "create-account")
    help_input = {"flowId": "reception-setup", "stepId": "add-card", "memberId": "bob"}
    await graphql(client, REQUEST_HELP, ann, {"input": help_input})
    asks = [
        (HOME, {}),
        (FLOW, {"id": "reception-setup"}),
        (CONTENT, {"first": 3, "kind": "ARTICLE"}),
        (SCHEMA, {}),
    ]
    executions.clear()
    planned = await ask_all(client, ann, [*asks, (TEAM, {})]) + await ask_all(client, bob, asks)
    assert executions == [], "every query here is answered by its plan"
    assert all("errors" not in body for body in planned), planned

    monkeypatch.setattr(Documents, "plan", lambda *_: None)
    general = await ask_all(client, ann, [*asks, (TEAM, {})]) + await ask_all(client, bob, asks)
    assert len(executions) == len(planned)
    assert planned == general


async def test_a_query_its_plan_cannot_answer_reads_as_before(
    client: httpx.AsyncClient, executions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error part-way (here a field a member may not read) makes graphql-core run the
    query: the same partial data, the same error with its path."""
    team = Team("deviates")
    bob = team.add("bob", "billing")
    query = "query Mixed { viewer { member { id } } webhookEndpoints { id } flows { id } }"
    planned = await graphql(client, query, bob)
    assert executions == ["Mixed"]
    assert planned["errors"][0]["path"] == ["webhookEndpoints"]
    monkeypatch.setattr(Documents, "plan", lambda *_: None)
    assert await graphql(client, query, bob) == planned


async def test_documents_a_plan_does_not_follow_go_to_graphql_core(
    client: httpx.AsyncClient, executions: list[str]
) -> None:
    """A condition on a variable is left to graphql-core (as are subscriptions)."""
    team = Team("general")
    ann = team.add("ann", "admin")
    conditional = "query Cond($on: Boolean!) { viewer { member { id @include(if: $on) } } }"
    body = await graphql(client, conditional, ann, {"on": False})
    assert body["data"] == {"viewer": {"member": {}}}
    assert executions == ["Cond"]


async def test_a_planned_mutation_answers_as_graphql_core_does(
    client: httpx.AsyncClient, executions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same step completed in two teams alike: once answered by its plan, once by
    graphql-core."""
    answers = []
    for planned in (True, False):
        if not planned:
            monkeypatch.setattr(Documents, "plan", lambda *_: None)
        team = Team("mutation")
        ann = team.add("ann", "billing")
        await graphql(client, "{ __typename }", team.add("bob", "admin"))
        executions.clear()
        answers.append(await step(client, ann, "completeStep", "reception-setup", "add-card"))
        assert executions == ([] if planned else ["(anonymous)"])
    assert answers[0] == answers[1]
    assert answers[0]["step"]["status"] == "DONE"


HANDOVER = """mutation Handover($input: StepInput!) {
  setOnboardingOwner(memberId: "cid") {
    organization { owner { id } members { totalCount } } userErrors { code } }
  completeStep(input: $input) { step { id status } flow { progress { done total } } }
}"""
OWNER = 'mutation { setOnboardingOwner(memberId: "bob") { userErrors { code } } }'


async def test_a_mutation_graphql_core_completes_runs_once(
    client: httpx.AsyncClient,
    executions: list[str],
    monkeypatch: pytest.MonkeyPatch,
    sql_counter: SQLCounter,
) -> None:
    """Bob, the owner, hands the account over to Cid: afterwards he may no longer read its
    members, so the answer needs graphql-core's error. It completes what both root fields
    did without doing them again (two changes committed), and the answer is the one
    graphql-core alone gives."""
    answers = []
    for planned in (True, False):
        if not planned:
            monkeypatch.setattr(Documents, "plan", lambda *_: None)
        team = Team("handover")
        ann, bob = team.add("ann", "admin"), team.add("bob", "billing")
        await graphql(client, "{ __typename }", team.add("cid", "it"))
        await graphql(client, "{ __typename }", bob)
        assert (await graphql(client, OWNER, ann))["data"]["setOnboardingOwner"]["userErrors"] == []
        sql_counter.statements.clear()
        executions.clear()
        variables = {"input": {"flowId": "reception-setup", "stepId": "add-card"}}
        answers.append(await graphql(client, HANDOVER, bob, variables))
        locks = [s for s in sql_counter.statements if "state_version" in s and "UPDATE" in s]
        assert len(locks) == 2, "each root field changed the organization once"
        assert executions == ["Handover"]
    assert answers[0] == answers[1]
    error = answers[0]["errors"][0]
    assert error["path"] == ["setOnboardingOwner", "organization", "members"]
    assert answers[0]["data"]["setOnboardingOwner"]["organization"]["owner"] == {"id": "cid"}
    assert answers[0]["data"]["completeStep"]["step"]["status"] == "DONE"
