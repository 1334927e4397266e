"""Outages on Postgres: subscribers never miss a change silently, and an outage is answered
503 with Retry-After and logged once, not a traceback per request.

The LISTEN gap is made by terminating the listener's backend (pg_terminate_backend) rather
than stopping the server: the Postgres server is shared by everyone's tests, and from the
worker's side the two look the same (the LISTEN connection drops, NOTIFYs committed meanwhile
are lost), while writes through the pool carry on, which is what makes the gap visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from dataclasses import replace as replaced
from typing import Any

import httpx
import pytest
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from api.faults import HEALTH
from api.settings import Settings
from tests.conftest import admin_execute, auth, graphql, postgres_admin_url, running_app, unique

STEP = """mutation($input: StepInput!) { %s(input: $input) { userErrors { code } } }"""
WRITES = 60
GAP_AFTER = 20


@dataclass
class Received:
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def resyncs(self) -> list[float]:
        return [at for at, event in self.events if event["action"] == "RESYNC"]


@contextlib.asynccontextmanager
async def subscriber(app: Starlette, headers: dict[str, str]) -> AsyncIterator[Received]:
    received = Received()
    transport = ASGIWebSocketTransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://heed.test") as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as socket,
    ):
        await socket.send_json({"type": "connection_init", "payload": headers})
        assert (await socket.receive_json(timeout=5))["type"] == "connection_ack"
        query = "subscription { progressChanged { flowId stepId action memberId } }"
        await socket.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})

        async def read() -> None:
            while True:
                message = await socket.receive_json()
                assert message["type"] == "next", message
                event = message["payload"]["data"]["progressChanged"]
                received.events.append((time.monotonic(), event))

        reader = asyncio.create_task(read())
        try:
            yield received
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


async def test_every_subscriber_gets_every_change_or_is_told_to_refetch(
    settings: Settings, client: httpx.AsyncClient, database_url: str
) -> None:
    if not database_url.startswith("asyncpg"):
        pytest.skip("SQLite runs in one process: changes are fanned out without LISTEN")
    org = unique("gap")
    writer = auth(org, "ann", ("admin",))
    async with running_app(settings) as (app, _):
        listener = app.state.runtime.progress_hub.listener
        async with contextlib.AsyncExitStack() as stack:
            subscribers = [
                await stack.enter_async_context(subscriber(app, auth(org, f"sub{n}")))
                for n in range(3)
            ]
            await asyncio.sleep(0.2)  # subscriptions registered
            started: list[float] = []
            for number in range(WRITES):
                if number == GAP_AFTER:
                    await admin_execute(
                        postgres_admin_url(),
                        f"SELECT pg_terminate_backend({listener.backend_pid})",
                    )
                started.append(time.monotonic())
                # Written through the session's app: another worker, as in production.
                body = await graphql(
                    client,
                    STEP % ("completeStep" if number % 2 == 0 else "reopenStep"),
                    writer,
                    {"input": {"flowId": "reception-setup", "stepId": "create-account"}},
                )
                assert body["data"], body
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(  # noqa: ASYNC110
                len(s.events) - len(s.resyncs()) < WRITES and not _caught_up(s, started)
                for s in subscribers
            ):
                await asyncio.sleep(0.1)
    assert listener.reconnects >= 1
    for received in subscribers:
        changes = [event for _, event in received.events if event["action"] != "RESYNC"]
        assert received.resyncs(), "after a gap every subscriber is told to refetch"
        assert _caught_up(received, started), (len(changes), received.resyncs())
        # Between two resyncs nothing is missing: the writes' order, completed, reopened, ...
        segments: list[list[str]] = [[]]
        for _, event in received.events:
            if event["action"] == "RESYNC":
                segments.append([])
            else:
                segments[-1].append(event["action"])
        for actions in segments:
            assert all(a != b for a, b in itertools.pairwise(actions)), actions


def _caught_up(received: Received, started: list[float]) -> bool:
    """Every write sent after the last resync reached the subscriber after it."""
    resyncs = received.resyncs()
    if not resyncs:
        return False
    last = resyncs[-1]
    after = [event for at, event in received.events if at >= last and event["action"] != "RESYNC"]
    return len(after) >= sum(1 for moment in started if moment > last)


async def test_an_outage_is_503_and_logged_once_each_way(
    settings: Settings,
    fresh_database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if not fresh_database_url.startswith("asyncpg"):
        pytest.skip("an embedded SQLite file has no outage")
    name = fresh_database_url.rpartition("/")[2]
    headers = auth(unique("outage"), "ann")
    async with running_app(replaced(settings, database_url=fresh_database_url)) as (_, client):
        ok = await client.post("/graphql", json={"query": "{ viewer { roles } }"}, headers=headers)
        assert ok.status_code == 200
        caplog.clear()
        caplog.set_level(logging.INFO)
        await admin_execute(
            postgres_admin_url(), f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'
        )
        await admin_execute(
            postgres_admin_url(),
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        )
        try:
            during = [
                await client.post(
                    "/graphql",
                    json={
                        "query": 'mutation { track(input: {event: "x"}) { userErrors { code } } }'
                    },
                    headers=auth(unique("outage"), f"m{n}"),
                )
                for n in range(30)
            ]
        finally:
            await admin_execute(
                postgres_admin_url(), f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'
            )
        after = None
        for _ in range(50):
            after = await client.post(
                "/graphql", json={"query": "{ viewer { roles } }"}, headers=headers
            )
            if after.status_code == 200:
                break
            await asyncio.sleep(0.2)
    assert [response.status_code for response in during] == [503] * 30
    assert all(response.headers["retry-after"] == "5" for response in during)
    assert after is not None
    assert after.status_code == 200
    heed = [r for r in caplog.records if r.name.startswith("heed") and r.levelno >= logging.WARNING]
    outage = [r for r in heed if r.name == "heed.errors"]
    messages = [r.getMessage() for r in outage]
    assert len(messages) == 2, [r.getMessage() for r in heed]
    assert messages[0].startswith("database unavailable, answering 503")
    assert messages[1].startswith("database available again after")
    assert "(30 requests answered 503)" in messages[1]
    # asyncpg's pool logs its own reconnection attempts; Heed adds no traceback per request.
    assert not [r for r in heed if r.exc_info], "no traceback per request"
    assert HEALTH.down_since is None
