"""The typed client's example operations (tools/codegen/documents) run against the real app:
the types generated from them describe answers Heed really gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from graphql import OperationDefinitionNode, OperationType, parse

from tests.conftest import ROOT, TEST_ADMIN_KEY, graphql
from tests.test_team_onboarding import Team

DOCUMENTS = ROOT / "tools" / "codegen" / "documents"
STEP = {"flowId": "reception-setup", "stepId": "create-account"}


def operations(path: Path) -> list[tuple[str, OperationType]]:
    return [
        (definition.name.value, definition.operation)
        for definition in parse(path.read_text()).definitions
        if isinstance(definition, OperationDefinitionNode) and definition.name is not None
    ]


async def test_every_example_operation_answers_without_errors(client: httpx.AsyncClient) -> None:
    team = Team("documents")
    ann = team.add("ann", "admin", email="ann@documents.test")
    dana = team.add("dana", "billing")
    for headers in (ann, dana):
        await graphql(client, "{ viewer { member { id } } }", headers)
    admin = {"X-Heed-Admin-Key": TEST_ADMIN_KEY, "X-Heed-Organization": team.org}
    runs: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
        "Home": ({}, ann),
        "TeamOverview": ({"first": 1}, ann),
        "ContentItem": ({"id": "frontdesk-nps", "locale": None}, admin),
        "ContentPage": ({"kind": "ANNOUNCEMENT", "first": 5}, ann),
        "Help": ({"context": "settings.devices"}, ann),
        "SearchHelp": ({"query": "badge"}, ann),
        "Release": ({}, ann),
        "CompleteStep": ({"input": STEP}, ann),
        "ReopenStep": ({"input": STEP}, ann),
        "SkipStep": ({"input": STEP}, ann),
        "AssignStep": (
            {"input": {"flowId": "reception-setup", "stepId": "add-card", "memberId": "dana"}},
            ann,
        ),
        "Track": ({"input": {"event": "card.added", "properties": {"plan": "pro"}}}, dana),
        "RequestHelp": (
            {"input": {"flowId": "reception-setup", "stepId": "add-nda", "email": "x@y.test"}},
            ann,
        ),
        "CancelHelpRequest": ({"id": "nope"}, ann),
        "SetOnboardingOwner": ({"memberId": "ann"}, ann),
        "ResetProgress": ({"input": {"memberId": "dana", "flowId": "reception-setup"}}, admin),
    }
    ran = []
    for path in sorted(DOCUMENTS.glob("*.graphql")):
        for name, kind in operations(path):
            if kind is OperationType.SUBSCRIPTION:
                continue  # tests/test_schema_types.py reads the subscription over WebSocket
            variables, headers = runs[name]
            response = await client.post(
                "/graphql",
                json={"query": path.read_text(), "operationName": name, "variables": variables},
                headers=headers,
            )
            body = response.json()
            assert response.status_code == 200, (name, body)
            assert "errors" not in body, (name, body)
            ran.append(name)
    assert sorted(ran) == sorted(runs)
