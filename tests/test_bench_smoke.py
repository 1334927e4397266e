"""The benchmark harness's own pieces on a tiny dataset: seeding SQL, tokens, the report.

The benchmark itself is `make bench`; these only prove that its seeded members are the ones
the server would have stored (same claims hash: no member write on first sight) and that
seeded progress reads back as the checklist shows it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from api.content.pipeline import build
from api.content.store import publish
from api.db import open_database, using
from api.settings import Settings
from bench import people, report
from bench.insight import DASHBOARD, seed_insight
from bench.scenarios import HOME
from bench.seed import FlowPlan, flow_plans, seed
from tests.conftest import ROOT, SQLCounter, graphql, running_app

SECRET = "bench-smoke-secret-" + "z" * 32


async def demo_published(database_url: str) -> tuple[list[FlowPlan], asyncpg.Connection]:
    """The demo content published on a fresh Postgres database, its flows, and a connection
    for seeding (SQLite is skipped: the bench seeds with COPY)."""
    if database_url.startswith("sqlite"):
        pytest.skip("the bench seeds Postgres with COPY")
    database = await open_database(database_url, migrate=False)
    try:
        with using(database):
            await publish(ROOT / "content")
    finally:
        await database.close_connections()
    plans = flow_plans(build(ROOT / "content").items.values())
    return plans, await asyncpg.connect("postgresql://" + database_url.split("://", 1)[1])


def test_report_computes_ratios_targets_and_table() -> None:
    scenarios = {
        name: {"rps": rps, "p50_ms": 2.0, "p99_ms": 9.0, "sql_per_request": sql}
        for name, rps, sql in [
            ("floor", 2000.0, None),
            ("peer", 250.0, None),
            ("typename", 1000.0, 0),
            ("home", 950.0, 1),
            ("home_uncached", 200.0, 3),
            ("help", 600.0, 0),
            ("search", 300.0, 0),
            ("content_item", 400.0, 1),
            ("complete_step", 320.0, 3),
        ]
    }
    report.add_ratios(scenarios)
    result = {
        "datasets": {"small": {"orgs": 10, "scenarios": scenarios}},
        "content_build": {"items": 10, "cold_s": 1.0, "one_edit_s": 0.1},
        "rss_mb": 100.0,
    }
    result["targets"] = report.targets(result)
    missed = {t["target"] for t in result["targets"] if not t["met"]}
    assert scenarios["home_uncached"]["ratio"] == 0.2
    assert missed == {
        "small content_item ratio",
        "small content_item SQL",
        "small home_uncached ratio",
        "small home_uncached ratio to the peer",
    }
    table = report.markdown(result)
    assert "| small (10 orgs) | home_uncached | 200 | 2.0 | 9.0 | 3 | 0.20 | 0.10 | 0.80 |" in table
    assert "| small (10 orgs) | peer | 250 | 2.0 | 9.0 | - | 0.25 | 0.12 | 1.00 |" in table


async def test_seeded_members_match_their_tokens(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    plans, connection = await demo_published(fresh_database_url)
    try:
        first = await seed(connection, 0, 3, plans)
        second = await seed(connection, 3, 2, plans)
        assert (first["organizations"], first["members"]) == (3, 30)
        assert await connection.fetchval("SELECT count(*) FROM member") == 50
        assert await connection.fetchval("SELECT count(DISTINCT state) FROM step_state") >= 4
    finally:
        await connection.close()
    assert second["step_states"] > 0

    app_settings = replace(settings, database_url=fresh_database_url, jwt_secret=SECRET)
    headers = {"Authorization": f"Bearer {people.token(SECRET, 1, 0)}"}
    counter = SQLCounter()
    logger = logging.getLogger("tortoise.db_client")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        async with running_app(app_settings) as (_, client):
            body = await graphql(client, HOME, headers)
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
    assert "errors" not in body, body
    member_writes = [
        s for s in counter.statements if 'INTO "member"' in s or 'UPDATE "member"' in s
    ]
    assert member_writes == []
    flows = {flow["id"]: flow for flow in body["data"]["flows"]}
    org_flow = next(plan for plan in plans if plan.org_flow)
    assert flows[org_flow.id]["progress"]["done"] == (1 * 7) % (len(org_flow.steps) + 1)


def test_report_checks_complete_step_with_a_webhook_against_without() -> None:
    scenarios = {
        name: {"rps": rps, "p50_ms": 2.0, "p99_ms": 9.0, "sql_per_request": sql}
        for name, rps, sql in [
            ("typename", 1000.0, 0),
            ("complete_step", 200.0, 9),
            ("complete_step_webhook", 170.0, 9),
        ]
    }
    report.add_ratios(scenarios)
    found = {
        t["target"]: t
        for t in report.targets({"datasets": {"small": {"orgs": 1, "scenarios": scenarios}}})
    }
    kept = found["small complete_step ratio with a webhook"]
    assert (kept["measured"], kept["met"]) == (0.85, False)
    extra = found["small complete_step SQL with a webhook"]
    assert (extra["measured"], extra["met"]) == (0, True)


def test_report_lists_the_insight_figures_and_targets() -> None:
    insight = {
        "dashboard_alone": {"requests": 400, "p50_ms": 12.0, "p99_ms": 24.0},
        "dashboard": {"rps": 150.0, "p50_ms": 90.0, "p99_ms": 160.0, "requests": 900},
        "portfolio": {"first_s": 0.8, "median_s": 0.05, "max_s": 0.06},
        "job": {
            "first_run": {"seconds": 9.0, "recorded": 1000},
            "second_run": {"seconds": 4.0, "recorded": 0},
        },
    }
    result = {"datasets": {}, "insight": insight}
    result["targets"] = report.targets(result)
    assert {t["target"]: t["met"] for t in result["targets"]} == {
        "insight dashboard p99, one request at a time": True,
        "insight dashboard p99 under wrk": False,
        "insight portfolio, first page of 50 by health": True,
        "insight job over every organization": True,
    }
    assert "one organization's dashboard p50/p99 12.0/24.0 ms" in report.markdown(result)


async def test_seeded_insight_facts_answer_the_dashboard(
    fresh_database_url: str, settings: Settings
) -> None:
    plans, connection = await demo_published(fresh_database_url)
    try:
        await seed(connection, 0, 20, plans)
        seeded = await seed_insight(connection, 20)
    finally:
        await connection.close()
    assert seeded["events"] > 0
    assert seeded["nps_answers"] == 15  # organizations 0, 4, 8, 12, 16: three answers each
    app_settings = replace(settings, database_url=fresh_database_url, jwt_secret=SECRET)
    async with running_app(app_settings) as (_, client):
        admin = {"Authorization": f"Bearer {people.token(SECRET, 15, 0)}"}
        body = await graphql(client, DASHBOARD, admin)
    assert "errors" not in body, body
    found = body["data"]["organization"]
    checkins = {
        kpi["event"]: kpi["count"] for milestone in found["milestones"] for kpi in milestone["kpis"]
    }
    assert checkins["visitor.checked_in"] == 15  # organization 15: 15 % 16 check-ins
    assert found["setup"]["steps"][0]["stepId"] == "create-account"
