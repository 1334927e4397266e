"""Amplification: nested lists cost statements bounded by the query's shape (not the data),
and what would cost too much is refused by the query cost analysis."""

from __future__ import annotations

import httpx

from bench.statements import StatementCounter
from tests.conftest import auth, graphql, unique

REQUEST_HELP = """mutation($input: RequestHelpInput!) { requestHelp(input: $input) {
  helpRequest { id } userErrors { code } } }"""
NESTED = (
    "{ organization { helpRequests { edges { node { id inviter { id } organization {"
    " helpRequests { edges { node { id invitee { id } organization { id } } } } } } } } } }"
)


async def _organization_with_requests(client: httpx.AsyncClient, count: int) -> dict[str, str]:
    admin = auth(unique("amp"), "ann", ("admin",))
    for number in range(count):
        body = await graphql(
            client,
            REQUEST_HELP,
            admin,
            {
                "input": {
                    "flowId": "reception-setup",
                    "stepId": "add-nda",
                    "email": f"colleague{number}@amp.test",
                }
            },
        )
        assert body["data"]["requestHelp"]["userErrors"] == [], body
    return admin


async def _statements(
    client: httpx.AsyncClient, headers: dict[str, str], counter: StatementCounter
) -> tuple[int, int]:
    counter.statements.clear()
    body = await graphql(client, NESTED, headers)
    assert "errors" not in body, body
    outer = body["data"]["organization"]["helpRequests"]["edges"]
    return len(counter.statements), len(outer)


async def test_nested_help_requests_cost_statements_bounded_by_shape(
    client: httpx.AsyncClient, sql_counter: StatementCounter
) -> None:
    few = await _organization_with_requests(client, 2)
    many = await _organization_with_requests(client, 6)
    few_statements, few_requests = await _statements(client, few, sql_counter)
    many_statements, many_requests = await _statements(client, many, sql_counter)
    assert (few_requests, many_requests) == (2, 6)
    assert many_statements == few_statements, (few_statements, many_statements)


async def test_nesting_beyond_the_cost_maximum_is_refused_before_executing(
    client: httpx.AsyncClient, sql_counter: StatementCounter
) -> None:
    admin = await _organization_with_requests(client, 1)
    inner = "id inviter { id } invitee { id } resolvedBy { id }"
    level = "organization { helpRequests(first: 100) { edges { node { "
    deep = "{ " + level * 2 + inner + " } } } }" * 2 + " }"
    sql_counter.statements.clear()
    response = await client.post("/graphql", json={"query": deep}, headers=admin)
    assert response.status_code == 400
    codes = [error.get("extensions", {}).get("code") for error in response.json()["errors"]]
    assert "QUERY_TOO_COMPLEX" in codes, response.text
    # At most the answer cache's version read, made before validation; nothing executed.
    assert len(sql_counter.statements) <= 1, sql_counter.statements
