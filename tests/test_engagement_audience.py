"""`nextUp` keeps every audience rule (roles, attributes, locales, prerequisite flows,
dates), each together with the surface's limit, on content of its own: a tooltip shows one
item, so the highest-priority item the viewer may see is the one shown."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.content.store import publish
from api.db import open_database, using
from api.settings import Settings, Surface
from tests.conftest import _migrate, auth, graphql, running_app, throwaway_postgres, unique
from tests.test_engagement import clock, mark, next_up

TIP = """\
---
id: {id}
kind: {kind}
title: {id}
summary: An item for the rules.
phase: explore
placement: tooltip
priority: {priority}
{extra}
---
Body of {id}.
"""
INTRO = """\
---
id: intro
kind: flow
title: Intro
summary: One step.
phase: enable
---
Intro.

## Hello {#hello}

Say hello.
"""
ITEMS = {
    "for-auditors": (90, "audience:\n  roles: [auditor]"),
    "for-gold": (80, "audience:\n  attributes:\n    plan: [gold]"),
    "for-russian": (70, "audience:\n  locales: [ru]"),
    "after-intro": (60, "audience:\n  after: [intro]"),
    "for-everyone": (10, ""),
}
JANUARY = "starts: 2030-01-01\nends: 2030-01-31"


def write_content(root: Path) -> None:
    (root / "tips").mkdir(parents=True)
    (root / "flows").mkdir()
    (root / "flows" / "intro.md").write_text(INTRO)
    for item_id, (priority, extra) in ITEMS.items():
        text = TIP.format(id=item_id, kind="tip", priority=priority, extra=extra)
        (root / "tips" / f"{item_id}.md").write_text(text)
    news = TIP.format(id="january-news", kind="announcement", priority=50, extra=JANUARY)
    (root / "tips" / "january-news.md").write_text(news)


@contextlib.contextmanager
def own_database(database_url: str, folder: Path) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        yield f"sqlite://{folder / 'rules.sqlite3'}"
    else:
        with throwaway_postgres() as url:
            yield url


async def publish_content(url: str, root: Path) -> None:
    database = await open_database(url, migrate=False)
    with using(database):
        await publish(root)
    await database.close_connections()


@pytest.fixture(scope="module")
async def rules(
    database_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient, Path, str]]:
    folder = tmp_path_factory.mktemp("rules")
    root = folder / "content"
    write_content(root)
    with own_database(database_url, folder) as url:
        await _migrate(url, publish_demo=False)
        await publish_content(url, root)
        surfaces = {**settings.surfaces, "tooltip": Surface(1, 0)}
        rules_settings = replace(settings, database_url=url, content_dir=root, surfaces=surfaces)
        async with running_app(rules_settings) as (app, client):
            yield app, client, root, url


@pytest.mark.parametrize(
    ("rule", "claims", "gated"),
    [
        ("roles", {"roles": ("auditor",)}, "for-auditors"),
        ("attributes", {"attributes": {"plan": "gold"}}, "for-gold"),
        ("locales", {"locale": "ru"}, "for-russian"),
    ],
)
async def test_a_claim_rule_decides_what_the_one_tooltip_shows(
    rules: tuple[Starlette, httpx.AsyncClient, Path, str],
    rule: str,
    claims: dict[str, object],
    gated: str,
) -> None:
    _, client, _, _ = rules
    org = unique(rule)
    roles = claims.pop("roles", ())
    assert await next_up(client, auth(org, "in", roles, **claims), "tooltip") == [gated]  # type: ignore[arg-type]
    assert await next_up(client, auth(org, "out"), "tooltip") == ["for-everyone"]


async def test_the_limit_keeps_only_the_highest_priority_of_several_rules_met(
    rules: tuple[Starlette, httpx.AsyncClient, Path, str],
) -> None:
    _, client, _, _ = rules
    headers = auth(unique("many"), "ann", ("auditor",), attributes={"plan": "gold"}, locale="ru")
    assert await next_up(client, headers, "tooltip") == ["for-auditors"]
    await mark(client, headers, "dismiss", "for-auditors")
    assert await next_up(client, headers, "tooltip") == ["for-gold"]


async def test_a_prerequisite_flow_rule(
    rules: tuple[Starlette, httpx.AsyncClient, Path, str],
) -> None:
    _, client, _, _ = rules
    headers = auth(unique("after"), "ann")
    assert await next_up(client, headers, "tooltip") == ["for-everyone"]
    done = await graphql(
        client,
        'mutation { completeStep(input: {flowId: "intro", stepId: "hello"})'
        " { userErrors { code } } }",
        headers,
    )
    assert done["data"]["completeStep"]["userErrors"] == [], done
    assert await next_up(client, headers, "tooltip") == ["after-intro"]


async def test_a_dates_rule(rules: tuple[Starlette, httpx.AsyncClient, Path, str]) -> None:
    app, client, _, _ = rules
    headers = auth(unique("dates"), "ann")
    for moment, expected in (
        (dt.datetime(2029, 12, 31, 23, tzinfo=dt.UTC), "for-everyone"),
        (dt.datetime(2030, 1, 1, 0, tzinfo=dt.UTC), "january-news"),
        (dt.datetime(2030, 1, 31, 23, tzinfo=dt.UTC), "january-news"),
        (dt.datetime(2030, 2, 1, 0, tzinfo=dt.UTC), "for-everyone"),
    ):
        with clock(app, moment):
            assert await next_up(client, headers, "tooltip") == [expected], moment


async def test_marks_keyed_by_item_id_survive_a_content_change(
    rules: tuple[Starlette, httpx.AsyncClient, Path, str],
) -> None:
    app, client, root, url = rules
    headers = auth(unique("marks"), "ann", ("auditor",))
    await mark(client, headers, "dismiss", "for-auditors")
    path = root / "tips" / "for-auditors.md"
    path.write_text(path.read_text().replace("Body of", "A rewritten body of"))
    await publish_content(url, root)
    await app.state.runtime.follower.refresh()
    body = await graphql(client, '{ contentItem(id: "for-auditors") { revision } }', headers)
    assert body["data"]["contentItem"]["revision"] == 2
    assert await next_up(client, headers, "tooltip") == ["for-everyone"]
