"""SQL statements per request, counted in-process from Tortoise's debug log.

Postgres cannot attribute statements to requests without pg_stat_statements, so each scenario
runs N times through the real ASGI app (same settings, same database) and the statements
logged on `tortoise.db_client` are divided by N. Members are seen once first, as on a warm
worker; the count includes authentication.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from api.app import create_app
from api.settings import Settings
from bench.receiver import webhook_endpoint
from bench.scenarios import Scenario, problems
from bench.statements import counting_statements

HEADERS = {"Content-Type": "application/json", "Accept": "application/graphql-response+json"}


async def post(client: httpx.AsyncClient, token: str, body: bytes) -> dict[str, Any]:
    headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    response = await client.post("/graphql", content=body, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
    return dict(orjson.loads(response.content))


async def sql_per_request(
    env: dict[str, str],
    scenarios: list[Scenario],
    read_tokens: list[str],
    write_tokens: list[str],
    steps: tuple[str, ...],
    key_prefix: str,
) -> dict[str, float]:
    """Statements per request for each scenario, over len(read_tokens) requests each."""
    app = create_app(Settings.from_env(env))
    out: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            typename = b'{"query": "{ __typename }"}'
            for token in read_tokens + write_tokens:
                await post(client, token, typename)  # first sight: the member is remembered
            writes = 0  # each write scenario moves the same members one step further
            for scenario in scenarios:
                tokens = write_tokens if scenario.writes else read_tokens
                step = steps[writes] if scenario.writes else steps[0]
                keys = f"{key_prefix}-{scenario.name}"
                # Parse/validation caches warm; readers whose page loaded before, all of them.
                warm = tokens if scenario.seen_before else tokens[:2]
                for n, token in enumerate(warm):
                    body = scenario.body(f"{keys}-warm-{n}", step, "Complete")
                    wrong = problems(scenario.name, await post(client, token, body))
                    if wrong and not scenario.writes:
                        raise RuntimeError("; ".join(wrong))
                measured = tokens[2:] if scenario.writes else tokens
                async with webhook_endpoint(env, scenario.webhook):
                    with counting_statements() as counter:
                        for n, token in enumerate(measured):
                            body = scenario.body(f"{keys}-{n}", step, "Complete")
                            wrong = problems(scenario.name, await post(client, token, body))
                            if wrong:
                                raise RuntimeError("; ".join(wrong))
                out[scenario.name] = round(len(counter.statements) / len(measured), 2)
                writes += scenario.writes
    return out
