"""Cached answers are never stale: own writes, a teammate's on another worker, a new member,
changed claims, help requests and announcements' dates all show at once.

A new release is covered by test_team_onboarding's
`test_content_changes_do_not_break_people_mid_flow` (one flow query, before and after a publish).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tracemalloc
from types import SimpleNamespace
from typing import Any

import httpx
import orjson

from api.answers import ENTRY_OVERHEAD_BYTES, AnswerCache, Question, content_changes, root_fields
from api.content import Item
from api.db import is_postgres
from api.settings import Settings
from tests.conftest import SQLCounter, graphql, running_app
from tests.test_team_onboarding import FLOW, HOME, REQUEST_HELP, Team, step


def steps_of(body: dict[str, Any], flow_id: str = "reception-setup") -> dict[str, dict[str, Any]]:
    assert "errors" not in body, body
    flow = next(f for f in body["data"]["flows"] if f["id"] == flow_id)
    return {s["id"]: s for s in flow["steps"]}


async def test_an_unchanged_answer_costs_one_statement(
    client: httpx.AsyncClient, sql_counter: SQLCounter
) -> None:
    team = Team("cached")
    ann = team.add("ann", "admin")
    await graphql(client, "{ __typename }", ann)  # first sight of Ann
    sql_counter.statements.clear()
    first = await graphql(client, HOME, ann)
    assert len(sql_counter.statements) <= 3, sql_counter.statements
    sql_counter.statements.clear()
    second = await graphql(client, HOME, ann)
    assert second == first
    assert len(sql_counter.statements) == 1, sql_counter.statements
    assert "state_version" in sql_counter.statements[0]


async def test_teammates_reuse_the_organization_rows_read_at_the_same_version(
    client: httpx.AsyncClient, settings: Settings, sql_counter: SQLCounter
) -> None:
    team = Team("shared")
    ann, bob = team.add("ann", "admin"), team.add("bob", "billing")
    for member in (ann, bob):
        await graphql(client, "{ __typename }", member)  # first sight: both are members
    await graphql(client, HOME, ann)  # members and help requests read at this version
    sql_counter.statements.clear()
    bob_home = await graphql(client, HOME, bob)
    assert len(sql_counter.statements) == 1, sql_counter.statements
    async with running_app(settings) as (_, other_worker):
        assert bob_home == await graphql(other_worker, HOME, bob)  # field for field
        help_input = {"flowId": "reception-setup", "stepId": "add-card", "memberId": "bob"}
        asked = await graphql(other_worker, REQUEST_HELP, ann, {"input": help_input})
        assert not asked["data"]["requestHelp"]["userErrors"], asked
    sql_counter.statements.clear()
    after = await graphql(client, HOME, bob)  # a new version: everything is read again
    assert len(sql_counter.statements) == 3, sql_counter.statements
    assert len(after["data"]["viewer"]["helpRequests"]) == 1


async def test_requests_arriving_together_read_their_versions_in_one_statement(
    client: httpx.AsyncClient, settings: Settings, sql_counter: SQLCounter
) -> None:
    """On Postgres, cached answers asked for at once (three teams, one of which has just
    changed) cost one statement together, and each is what it is alone."""
    teams = [Team(f"together-{n}") for n in range(3)]
    members = [team.add("ann", "admin") for team in teams]
    ivan = teams[0].add("ivan", "it_admin")
    alone = [await graphql(client, HOME, member) for member in members]  # now cached
    await step(client, ivan, "completeStep", "reception-setup", "connect-directory")
    changed = steps_of(await graphql(client, HOME, ivan))
    assert changed["connect-directory"]["status"] == "DONE"
    sql_counter.statements.clear()
    together = await asyncio.gather(*(graphql(client, HOME, member) for member in members))
    assert together[1:] == alone[1:]  # field for field
    assert steps_of(together[0])["connect-directory"]["status"] == "DONE"
    versions = [s for s in sql_counter.statements if "state_version" in s]
    expected = 1 if is_postgres(settings.database_url) else len(members)
    assert len(versions) == expected, sql_counter.statements


async def test_own_write_shows_at_once(client: httpx.AsyncClient) -> None:
    team = Team("own")
    ann = team.add("ann", "admin")
    assert steps_of(await graphql(client, HOME, ann))["add-card"]["status"] == "AVAILABLE"
    await step(client, ann, "completeStep", "reception-setup", "add-card")
    assert steps_of(await graphql(client, HOME, ann))["add-card"]["status"] == "DONE"
    await step(client, ann, "reopenStep", "reception-setup", "add-card")
    assert steps_of(await graphql(client, HOME, ann))["add-card"]["status"] == "AVAILABLE"


async def test_teammates_writes_on_another_worker_show_at_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    team = Team("workers")
    ann = team.add("ann", "admin")
    ivan = team.add("ivan", "it_admin")
    before = steps_of(await graphql(client, HOME, ann))
    assert before["connect-directory"]["status"] == "AVAILABLE"
    async with running_app(settings) as (_, other_worker):
        await step(other_worker, ivan, "completeStep", "reception-setup", "connect-directory")
    after = steps_of(await graphql(client, HOME, ann))
    assert after["connect-directory"]["status"] == "DONE"


async def test_a_new_member_shows_at_once(client: httpx.AsyncClient, settings: Settings) -> None:
    team = Team("joining")
    ann = team.add("ann", "admin")
    ivan = team.add("ivan", "it_admin")
    await graphql(client, "{ __typename }", ann)
    candidates = steps_of(await graphql(client, HOME, ivan))["add-nda"]["candidates"]
    assert [c["id"] for c in candidates] == ["ann"]
    lena = team.add("lena", "legal")
    async with running_app(settings) as (_, other_worker):
        await graphql(other_worker, "{ __typename }", lena)  # Lena signs in, elsewhere
    candidates = steps_of(await graphql(client, HOME, ivan))["add-nda"]["candidates"]
    assert sorted(c["id"] for c in candidates) == ["ann", "lena"]


async def test_changed_claims_show_at_once(client: httpx.AsyncClient) -> None:
    team = Team("claims")
    lena = team.add("lena", "legal")
    assert (await graphql(client, HOME, lena))["data"]["viewer"]["roles"] == ["legal"]
    lena = team.add("lena", "legal", "billing")
    body = await graphql(client, HOME, lena)
    assert sorted(body["data"]["viewer"]["roles"]) == ["billing", "legal"]
    assert steps_of(body)["add-card"]["status"] == "AVAILABLE"


async def test_a_help_request_reaches_the_cached_invitee_at_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    team = Team("asking")
    ann = team.add("ann", "admin")
    ivan = team.add("ivan", "it_admin")
    await graphql(client, "{ __typename }", ann)
    assert (await graphql(client, HOME, ivan))["data"]["viewer"]["helpRequests"] == []
    async with running_app(settings) as (_, other_worker):
        asked = await graphql(
            other_worker,
            REQUEST_HELP,
            ann,
            {
                "input": {
                    "flowId": "reception-setup",
                    "stepId": "connect-directory",
                    "memberId": "ivan",
                }
            },
        )
    request_id = asked["data"]["requestHelp"]["helpRequest"]["id"]
    body = await graphql(client, HOME, ivan)
    assert body["data"]["viewer"]["helpRequests"] == [{"id": request_id}]


async def test_step_bodies_come_in_every_form(client: httpx.AsyncClient) -> None:
    """Step trees are decoded only when asked for: asked for, they are the whole body."""
    ann = Team("bodies").add("ann", "admin")
    body = await graphql(
        client, '{ flow(id: "reception-setup") { steps { bodyMarkdown bodyHtml bodyTree } } }', ann
    )
    first = body["data"]["flow"]["steps"][0]
    assert first["bodyMarkdown"]
    assert "<p>" in first["bodyHtml"]
    assert first["bodyTree"]["children"], first["bodyTree"]


async def test_variables_and_operations_are_part_of_the_question(
    client: httpx.AsyncClient,
) -> None:
    team = Team("variables")
    ann = team.add("ann", "admin")
    setup = await graphql(client, FLOW, ann, {"id": "reception-setup"})
    visitor = await graphql(client, FLOW, ann, {"id": "first-visitor"})
    assert setup["data"]["flow"]["steps"] != visitor["data"]["flow"]["steps"]
    again = await graphql(client, FLOW, ann, {"id": "reception-setup"})
    assert again == setup


def announcement(starts: str | None, ends: str | None) -> Item:
    """Only the fields the clock reads (the content model's own tests build whole items)."""
    return SimpleNamespace(kind="announcement", starts=starts, ends=ends)  # type: ignore[return-value]


def test_announcements_dates_end_cached_answers() -> None:
    """An answer computed before an announcement starts is not served once it has."""
    items = [announcement("2026-12-01T09:00:00+00:00", "2026-12-24")]
    start = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC).timestamp()
    end_of_day = dt.datetime(2026, 12, 25, tzinfo=dt.UTC).timestamp()
    assert content_changes(items) == [start, end_of_day]

    cache = AnswerCache({"flows"}, 5000, 1 << 20)
    before = Question(("k",), version=7, release=3, asked_at=start - 60)
    cache.put(before, b'{"data":{}}', items)
    assert cache.get(before) == b'{"data":{}}'
    assert cache.get(Question(("k",), 7, 3, asked_at=start - 1)) is not None
    assert cache.get(Question(("k",), 7, 3, asked_at=start)) is None, "the announcement started"
    assert cache.get(Question(("k",), 8, 3, asked_at=start - 1)) is None, "a newer version"
    assert cache.get(Question(("k",), 7, 4, asked_at=start - 1)) is None, "a newer release"


def test_the_cache_keeps_to_its_memory_bound() -> None:
    cache = AnswerCache({"flows"}, 5000, 10_000)
    for n in range(100):
        cache.put(Question((n,), 1, 1, 0.0), b"x" * 1_000, [])
    assert 0 < len(cache) <= 10_000 // 1_000
    assert cache.get(Question((99,), 1, 1, 0.0)) is not None, "the newest answers stay"
    assert cache.get(Question((0,), 1, 1, 0.0)) is None, "the oldest answers go"


def test_kept_answers_take_the_memory_the_bound_counts() -> None:
    """Answers come from orjson, whose result keeps its growth buffer (a 6 KB answer held
    16 KB): the cache keeps exact copies, so 32 MB of answers is 32 MB of memory."""
    cache = AnswerCache({"flows"}, 5000, 1 << 24)
    tracemalloc.start()
    try:
        bodies = [orjson.dumps({"data": {"n": n, "text": "x" * 5_700}}) for n in range(200)]
        for n, body in enumerate(bodies):
            cache.put(Question((n,), 1, 1, 0.0), body, [])
        del bodies, body
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cache) == 200
    assert held < 200 * (5_730 + ENTRY_OVERHEAD_BYTES), held


def test_only_query_operations_with_plain_root_fields_are_considered() -> None:
    assert root_fields("{ flows { id } viewer { roles } }", None, 5000) == {"flows", "viewer"}
    assert root_fields("query A { flows { id } } query B { help { id } }", "B", 5000) == {"help"}
    assert root_fields("query A { flows { id } } query B { help { id } }", None, 5000) is None
    assert root_fields("mutation { completeStep { step { id } } }", None, 5000) is None
    assert root_fields("{ ...F } fragment F on Query { flows { id } }", None, 5000) is None
    assert root_fields("{ flows { id ", None, 5000) is None
    assert root_fields("{ " + "a " * 100 + "}", None, 50) is None, "over the token limit"
