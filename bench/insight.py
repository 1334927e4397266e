"""The insight scenario on the 10,000-organization dataset.

Seeds what the success plan counts (check-ins, notifications, feature events, NPS answers,
varied by organization), then measures:
- one organization's dashboard (milestones, health with components, the funnel of each flow)
  as its admin opens it, under wrk's load: p50 and p99;
- the portfolio (every organization's health and activation, first page of 50 sorted by
  health) with the admin key, one request at a time: each request's seconds;
- the insight job (`heed nudge`'s work) over every organization, in process: a first run in a
  period and a second one (which records nothing new).

`python -m bench.insight` runs it alone on a throwaway database; `make bench` runs it on the
large dataset after the other scenarios.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from api.content.store import load_release
from api.db import open_database, using
from api.insight.nudges import run_nudges
from api.settings import NudgeSettings
from bench import people
from bench.load import ensure_wrk, run_wrk
from bench.seed import seed
from bench.server import Server, start_server, wait_ready
from bench.sqlcount import HEADERS
from bench.stage import (
    READ_POOL,
    Plan,
    migrate_and_publish,
    prepare_pack,
    say,
    throwaway_database,
    warm_members,
)

ORGS = 10_000
ADMIN_KEY = "bench-admin-key-" + "k" * 24
PORTFOLIO_REQUESTS = 5  # the first computes the portfolio, the next reuse it
DASHBOARD_REQUESTS = 400  # one at a time, each by another organization's admin
DASHBOARD = (
    "query Dashboard { organization { id"
    " milestones { id status targetAt reachedAt met kpis { event count } }"
    " health { score components { name value weight detail } }"
    ' setup: funnel(flowId: "reception-setup") { steps { stepId reached dropOff'
    " medianHoursFromPrevious } }"
    ' visit: funnel(flowId: "first-visitor") { steps { stepId reached dropOff'
    " medianHoursFromPrevious } } } }"
)
PORTFOLIO = (
    "{ insights { activationRate memberActivationRate medianTimeToValueDays p90TimeToValueDays"
    " organizations(first: 50, orderBy: HEALTH_ASC) { totalCount edges { node { id"
    " health { score components { name value } } activation { reached days }"
    " timeToValue { reached days } atRisk { id status } } } } } }"
)
COLUMNS = ("organization_id", "member_id", "kind", "name", "properties", "created_at")
ANSWER_COLUMNS = (
    "organization_id",
    "response_id",
    "survey_id",
    "question_id",
    "question_type",
    "number",
    "created_at",
)


def server_env(plan: Plan) -> dict[str, str]:
    """The bench server's environment, with the admin key the portfolio needs."""
    return {**plan.server_env, "HEED_ADMIN_KEY": ADMIN_KEY}


async def seed_insight(conn: asyncpg.Connection, orgs: int) -> dict[str, Any]:
    """Check-ins, notifications, feature events and NPS answers for organizations 0..orgs-1
    (seeded by `bench.seed`), varied so that every milestone status and health band shows."""
    started = time.perf_counter()
    rows = await conn.fetch(
        "SELECT o.id, o.created_at, m.id AS member FROM organization o JOIN member m"
        " ON m.organization_id = o.id AND m.external_id LIKE '%-4' ORDER BY o.id"
    )
    events, answers = [], []
    for n, row in enumerate(rows):
        start = row["created_at"] + dt.timedelta(days=2 + n % 9)
        for i in range(n % 16):  # 0 to 15 check-ins, twelve hours apart
            at = start + dt.timedelta(hours=12 * i)
            events.append((row["id"], row["member"], "app", "visitor.checked_in", "{}", at))
            if i % 2 == 0:
                events.append((row["id"], row["member"], "app", "host.notified", "{}", at))
        if n % 3 == 0:
            events.append((row["id"], row["member"], "app", "watchlist.entry_added", "{}", start))
        if n % 5 == 0:
            events.append((row["id"], row["member"], "app", "report.exported", "{}", start))
        if n % 4 == 0:
            for k, score in enumerate((10, 8, n % 11)):
                answers.append(
                    (row["id"], f"b{n}-{k}", "frontdesk-nps", "recommend", "nps", score, start)
                )
    async with conn.transaction():
        await conn.copy_records_to_table("event", records=events, columns=list(COLUMNS))
        await conn.copy_records_to_table(
            "survey_answer", records=answers, columns=list(ANSWER_COLUMNS)
        )
    await conn.execute("ANALYZE")
    return {
        "events": len(events),
        "nps_answers": len(answers),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "requests": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2], 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


def _latencies(samples: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(samples), 3),
        "max_s": round(max(samples), 3),
    }


async def measure(plan: Plan, server: Server, orgs: int, seconds: float) -> dict[str, Any]:
    """The three figures of the insight scenario against a seeded, running server."""
    admins = [
        people.token(plan.secret, org, 0) for org, _ in people.spread(orgs, READ_POOL, range(1))
    ]
    tokens = plan.work / "insight-admins.tokens"
    tokens.write_text("\n".join(admins) + "\n")
    body = plan.work / "insight-dashboard.json"
    body.write_bytes(orjson.dumps({"query": DASHBOARD}))
    await warm_members(server, admins)
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        check = await client.post(
            "/graphql",
            content=body.read_bytes(),
            headers={**HEADERS, "Authorization": f"Bearer {admins[0]}"},
        )
        answer = check.json()
        if answer.get("errors") or not answer["data"]["organization"]["milestones"]:
            raise RuntimeError(f"insight dashboard: {str(answer)[:300]}")
        one_at_a_time = []
        for token in admins[:DASHBOARD_REQUESTS]:
            began = time.perf_counter()
            await client.post(
                "/graphql",
                content=body.read_bytes(),
                headers={**HEADERS, "Authorization": f"Bearer {token}"},
            )
            one_at_a_time.append(1000 * (time.perf_counter() - began))
        alone = _percentiles(one_at_a_time)
        say(f"insight dashboard, one request at a time {alone}")
        url = f"{server.url}/graphql"
        run_wrk(plan.wrk, url, tokens, body, 1)
        dashboard = run_wrk(plan.wrk, url, tokens, body, seconds)
        say(f"insight dashboard under wrk {dashboard}")
        portfolio = []
        for _ in range(PORTFOLIO_REQUESTS):
            began = time.perf_counter()
            response = await client.post(
                "/graphql", json={"query": PORTFOLIO}, headers={"X-Heed-Admin-Key": ADMIN_KEY}
            )
            portfolio.append(time.perf_counter() - began)
            found = response.json()
            if found.get("errors") or found["data"]["insights"] is None:
                raise RuntimeError(f"insight portfolio: {str(found)[:300]}")
        say(f"insight portfolio {portfolio}")
    job = await job_runs(plan)
    say(f"insight job {job}")
    return {
        "dashboard_alone": alone,
        "dashboard": {k: dashboard[k] for k in ("rps", "p50_ms", "p99_ms", "requests")},
        "portfolio": {"first_s": round(portfolio[0], 3), **_latencies(portfolio[1:])},
        "portfolio_total": found["data"]["insights"]["organizations"]["totalCount"],
        "activation_rate": found["data"]["insights"]["activationRate"],
        "median_time_to_value_days": found["data"]["insights"]["medianTimeToValueDays"],
        "job": job,
    }


async def job_runs(plan: Plan) -> dict[str, Any]:
    """The insight job twice in one period, in process, as `heed nudge` runs it."""
    database = await open_database(plan.tortoise_url, migrate=False)
    out: dict[str, Any] = {}
    try:
        with using(database):
            release = await load_release()
            assert release is not None
            now = dt.datetime.now(dt.UTC)
            for name in ("first_run", "second_run"):
                began = time.perf_counter()
                report = await run_nudges(release.catalog, NudgeSettings(), now)
                out[name] = {
                    "seconds": round(time.perf_counter() - began, 2),
                    "organizations": report.organizations,
                    "signals": report.signals,
                    "recorded": report.recorded,
                }
    finally:
        await database.close_connections()
    return out


def targets(insight: dict[str, Any]) -> list[tuple[str, str, Any, bool]]:
    """(target, wanted, measured, met) for the issue's three insight targets; the dashboard
    both as an owner opens it and under wrk's 16 connections, the portfolio's first (computing)
    request, the job's first run in a period (which records everything)."""
    alone = insight["dashboard_alone"]["p99_ms"]
    loaded = insight["dashboard"]["p99_ms"]
    page = insight["portfolio"]["first_s"]
    job = insight["job"]["first_run"]["seconds"]
    return [
        ("insight dashboard p99, one request at a time", "<= 50 ms", alone, alone <= 50),
        ("insight dashboard p99 under wrk", "<= 50 ms", loaded, loaded <= 50),
        ("insight portfolio, first page of 50 by health", "<= 1 s", page, page <= 1),
        ("insight job over every organization", "<= 10 s", job, job <= 10),
    ]


async def standalone(seconds: float) -> dict[str, Any]:
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="heed-bench-insight-") as tmp:
        work = Path(tmp)
        flows = prepare_pack(work)
        async with throwaway_database() as (url, _):
            plan = Plan(
                secret=secrets.token_urlsafe(48),
                wrk=wrk,
                work=work,
                database_url=url,
                flows=flows,
                user_flow=next(f for f in flows if f.scoped("user")),
                seconds=seconds,
            )
            say("migrating and publishing")
            await migrate_and_publish(plan)
            conn = await asyncpg.connect(url)
            try:
                say(f"seeding {ORGS:,} organizations: {await seed(conn, 0, ORGS, flows)}")
            finally:
                await conn.close()
            return await scenario(plan, ORGS)


async def scenario(plan: Plan, orgs: int) -> dict[str, Any]:
    """On a database seeded by `bench.seed`: add the insight facts, serve it with the admin
    key (a server of its own), measure, stop."""
    conn = await asyncpg.connect(plan.database_url)
    try:
        seeded = await seed_insight(conn, orgs)
    finally:
        await conn.close()
    say(f"insight facts seeded: {seeded}")
    server = start_server(server_env(plan), plan.work / "server-insight.log")
    try:
        await wait_ready(server)
        return {"seed": seeded, **await measure(plan, server, orgs, plan.seconds)}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.insight", description=__doc__)
    parser.add_argument("--seconds", type=float, default=8, help="wrk seconds for the dashboard")
    args = parser.parse_args(argv)
    result = asyncio.run(standalone(args.seconds))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    for name, wanted, measured, met in targets(result):
        print(f"{'met ' if met else 'MISSED'} {name}: {measured} (wanted {wanted})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
