"""Regressions for abuse and failure cases found in review: each was demonstrated first."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
import jwt
import pytest

from api.content.store import publish
from api.db import open_database, using
from api.settings import Settings
from tests.conftest import (
    TEST_SECRET,
    admin_execute,
    auth,
    drop_database,
    graphql,
    postgres_admin_url,
    running_app,
    unique,
)


@pytest.fixture
def member() -> dict[str, str]:
    return auth(unique("acme"), unique("ann"))


async def test_oversized_help_context_is_refused(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    body = await graphql(
        client, "query($c: String!) { help(context: $c) { id } }", member, {"c": "." * 50_000}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_made_up_locales_do_not_grow_the_caches(
    client: httpx.AsyncClient, app: object, member: dict[str, str]
) -> None:
    catalog = app.state.runtime.release.catalog  # type: ignore[attr-defined]
    query = 'query($l: String) { searchHelp(query: "visitor", locale: $l) { score } }'
    for locale in ("en", "ru", "xx", "yy-zz", "qq-aa-bb"):
        await graphql(client, query, member, {"l": locale})
    before = (len(catalog._served), len(catalog._indexes))
    for _ in range(20):
        made_up = "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:6])
        body = await graphql(client, query, member, {"l": made_up})
        assert "errors" not in body
    assert (len(catalog._served), len(catalog._indexes)) == before
    bad = await graphql(client, query, member, {"l": "<script>"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


RESTRICTED = """---
id: pricing-notes
kind: article
title: Pricing notes
summary: Internal.
phase: device
audience:
  roles: [admin]
---
SECRET-MARGIN-42
"""


async def test_old_revisions_respect_their_own_audience(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "content"
    root.mkdir()
    article = root / "pricing-notes.md"
    article.write_text(RESTRICTED)
    database = await open_database(fresh_database_url, migrate=False)
    with using(database):
        await publish(root)
        article.write_text(RESTRICTED.replace("audience:\n  roles: [admin]\n", ""))
        await publish(root)
    await database.close_connections()
    query = '{ contentItem(id: "pricing-notes", revision: 1) { bodyMarkdown } }'
    async with running_app(replace(settings, database_url=fresh_database_url)) as (_, client):
        nobody = await graphql(client, query, auth(unique("acme"), unique("eve")))
        admin = await graphql(client, query, auth(unique("acme"), unique("ann"), ("admin",)))
    assert nobody["data"]["contentItem"] is None
    assert "SECRET" in admin["data"]["contentItem"]["bodyMarkdown"]


async def test_variable_errors_are_request_errors(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "query($id: ID!) { contentItem(id: $id) { id } }", "variables": {}},
        headers=member,
    )
    assert response.status_code == 400
    assert "data" not in response.json()


async def test_tokens_for_another_audience_are_refused(client: httpx.AsyncClient) -> None:
    claims = {"sub": "ann", "org": "acme", "exp": int(time.time()) + 60, "aud": "billing-svc"}
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { roles } }"},
        headers={"Authorization": "Bearer " + jwt.encode(claims, TEST_SECRET, "HS256")},
    )
    assert response.status_code == 401


async def test_small_clock_skew_is_tolerated(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    claims = {"sub": unique("ann"), "org": unique("acme"), "exp": now + 60, "iat": now + 5}
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { roles } }"},
        headers={"Authorization": "Bearer " + jwt.encode(claims, TEST_SECRET, "HS256")},
    )
    assert response.status_code == 200


async def test_database_gone_mid_query_is_503(settings: Settings, fresh_database_url: str) -> None:
    if not fresh_database_url.startswith("asyncpg"):
        pytest.skip("an embedded SQLite file cannot go away under a running app")
    headers = auth(unique("acme"), unique("ann"))
    async with running_app(replace(settings, database_url=fresh_database_url)) as (_, client):
        await graphql(client, "{ viewer { roles } }", headers)  # seen: no SQL needed to auth
        drop_database(fresh_database_url)
        response = await client.post(
            "/graphql", json={"query": "{ flows { id } }"}, headers=headers
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


async def test_a_dropped_listen_connection_is_reopened(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    if not fresh_database_url.startswith("asyncpg"):
        pytest.skip("SQLite workers poll; there is no LISTEN connection")
    root = tmp_path / "content"
    root.mkdir()
    (root / "a.md").write_text(RESTRICTED)
    name = fresh_database_url.rpartition("/")[2]
    async with running_app(replace(settings, database_url=fresh_database_url)) as (app, client):
        await admin_execute(
            postgres_admin_url(),
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "  # noqa: S608
            "AND query LIKE 'LISTEN%'",
        )
        await asyncio.sleep(3)  # the watchdog notices within two seconds
        database = await open_database(fresh_database_url, migrate=False)
        with using(database):
            await publish(root)
        await database.close_connections()
        deadline = time.monotonic() + 10  # well under the 30 s safety poll
        while time.monotonic() < deadline and app.state.runtime.release is None:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        assert app.state.runtime.release is not None
        assert (await client.get("/readyz")).json()["release"] == 1
