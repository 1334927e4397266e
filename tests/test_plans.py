"""Queries answered from their plans (api/plans.py) read exactly as graphql-core's executor
answers them: the same answers field for field, and the same errors when a plan gives way."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import api.execution
from api.execution import Documents
from tests.conftest import graphql, unique
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
    """A condition on a variable, or a mutation, is executed by graphql-core."""
    team = Team("general")
    ann = team.add("ann", "admin")
    conditional = "query Cond($on: Boolean!) { viewer { member { id @include(if: $on) } } }"
    body = await graphql(client, conditional, ann, {"on": False})
    assert body["data"] == {"viewer": {"member": {}}}
    await step(client, ann, "completeStep", "reception-setup", "create-account")
    assert executions == ["Cond", "(anonymous)"], "the query, then the mutation"
