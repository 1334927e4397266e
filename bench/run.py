"""`python -m bench.run [--quick]`: the whole benchmark, from an empty database to the table.

Steps: content-build figures on a synthetic pack; a throwaway Postgres database with the demo
pack and 1,000 synthetic articles published; for each dataset size, bulk seeding, SQL counts
in-process, then `heed serve` (production, one worker) driven by wrk; release swap time and
worker memory at the end. Results go to bench/results/latest.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api.content.pipeline import build
from api.content.store import publish
from api.db import open_database, using
from api.settings import Settings
from bench import machine, people, report
from bench.load import CONNECTIONS, THREADS, LoadError, ensure_wrk, run_wrk
from bench.scenarios import Scenario, problems, scenarios
from bench.seed import FlowPlan, flow_plans, seed
from bench.server import Server, seconds_until_release, start_server, wait_ready
from bench.sqlcount import post, sql_per_request
from bench.synthetic import measure_build, touch_one, write_articles

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATASETS = (("small", 1_000), ("large", 10_000))
SYNTHETIC_ITEMS = 1_000
READ_POOL, WRITE_POOL, SQL_SAMPLES = 1_000, 500, 12
CONTENT_ITEM = "checking-in-visitors"


@dataclass(frozen=True)
class Plan:
    seconds: float
    warm_seconds: float
    secret: str
    wrk: str
    work: Path
    database_url: str
    flows: list[FlowPlan]
    user_flow: FlowPlan

    @property
    def tortoise_url(self) -> str:
        return Settings.from_env({"DATABASE_URL": self.database_url}).database_url

    @property
    def server_env(self) -> dict[str, str]:
        return {
            "HEED_ENV": "production",
            "DATABASE_URL": self.database_url,
            "HEED_JWT_SECRET": self.secret,
            "HEED_DATA_DIR": str(self.work / "data"),
            "HEED_CONTENT_DIR": str(self.work / "pack"),
        }


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def write_tokens(path: Path, secret: str, members: list[tuple[int, int]]) -> list[str]:
    tokens = [people.token(secret, org, slot) for org, slot in members]
    path.write_text("\n".join(tokens) + "\n")
    return tokens


async def warm_members(server: Server, tokens: list[str]) -> None:
    """First sight of every member the load will use, as on a worker that has been running."""
    gate = asyncio.Semaphore(CONNECTIONS)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

        async def one(token: str) -> None:
            async with gate:
                await post(client, token, b'{"query": "{ __typename }"}')

        await asyncio.gather(*(one(token) for token in tokens))


async def check_answers(server: Server, cases: list[Scenario], token: str, steps: str) -> None:
    """One request per scenario over real HTTP: a broken answer stops the run."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for case in cases:
            payload = await post(client, token, case.body(f"check-{uuid.uuid4().hex}", steps))
            wrong = problems(case.name, payload)
            if wrong:
                raise RuntimeError("; ".join(wrong))


async def run_dataset(
    plan: Plan, size: str, orgs: int, first: int, conn: asyncpg.Connection
) -> tuple[dict[str, Any], Server]:
    say(f"{size}: seeding organizations {first:,}..{orgs - 1:,}")
    seeded = await seed(conn, first, orgs - first, plan.flows)
    say(f"{size}: seeded {seeded}")
    offset = 0 if size == "small" else 1  # completeStep members not used by an earlier run
    read = write_tokens(
        plan.work / f"{size}-read.tokens",
        plan.secret,
        people.spread(orgs, READ_POOL, range(people.MEMBERS_PER_ORG)),
    )
    write = write_tokens(
        plan.work / f"{size}-write.tokens",
        plan.secret,
        people.spread(orgs, WRITE_POOL, range(people.ACTIVE_SLOTS, 9), offset=offset),
    )
    sql_write = [
        people.token(plan.secret, org, slot)
        for org, slot in people.spread(orgs, SQL_SAMPLES + 2, range(9, 10), offset=2 + offset)
    ]
    cases = scenarios(plan.user_flow.id, CONTENT_ITEM)
    steps = tuple(step_id for step_id, _, _ in plan.user_flow.steps)
    say(f"{size}: counting SQL statements per request in-process")
    sql = await sql_per_request(
        plan.server_env, cases, read[:SQL_SAMPLES], sql_write, steps, f"{size}-sql"
    )
    say(f"{size}: SQL per request {sql}")
    server = start_server(plan.server_env, plan.work / f"server-{size}.log")
    try:
        await wait_ready(server)
        await warm_members(server, read + write)
        await check_answers(server, [c for c in cases if not c.writes], read[0], steps[0])
        figures: dict[str, dict[str, Any]] = {}
        for case in cases:
            body = plan.work / f"{case.name}.json"
            body.write_bytes(case.body())
            tokens = plan.work / f"{size}-{'write' if case.writes else 'read'}.tokens"
            url = f"{server.url}/graphql"
            prefix = f"{size}-{case.name}-{uuid.uuid4().hex[:8]}"
            if not case.writes:  # a fresh key per write: warming would use up the members
                run_wrk(plan.wrk, url, tokens, body, plan.warm_seconds, key_prefix=prefix + "w")
            result = run_wrk(
                plan.wrk, url, tokens, body, plan.seconds, steps=steps, key_prefix=prefix
            )
            result["sql_per_request"] = sql[case.name]
            figures[case.name] = result
            say(f"{size}: {case.name} {result}")
        report.add_ratios(figures)
        dataset = {"orgs": orgs, "seed": seeded, "scenarios": figures, "rss_mb": server.rss_mb()}
        return dataset, server
    except BaseException:
        server.stop()
        raise


async def release_swap(plan: Plan, server: Server) -> dict[str, float]:
    """Edit one article, publish, and time commit → the worker's /readyz shows it."""
    touch_one(plan.work / "pack" / "synthetic" / "syn-0500.md", "An edit for the swap.")
    database = await open_database(plan.tortoise_url, migrate=False)
    try:
        with using(database):
            started = time.perf_counter()
            result = await publish(plan.work / "pack")
            published = time.perf_counter() - started
        swap = await seconds_until_release(server, result.number)
    finally:
        await database.close_connections()
    return {"release_swap_s": round(swap, 3), "publish_one_edit_s": round(published, 2)}


async def prepare_database(plan: Plan) -> dict[str, Any]:
    database = await open_database(plan.tortoise_url, migrate=True)
    try:
        with using(database):
            started = time.perf_counter()
            result = await publish(plan.work / "pack")
    finally:
        await database.close_connections()
    return {
        "release": result.number,
        "items": result.items,
        "publish_s": round(time.perf_counter() - started, 2),
    }


async def bench(quick: bool) -> dict[str, Any]:
    began = time.perf_counter()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="heed-bench-") as tmp:
        work = Path(tmp)
        say(f"content build: {SYNTHETIC_ITEMS} synthetic articles")
        synthetic = work / "synthetic"
        content_build = measure_build(synthetic, write_articles(synthetic, SYNTHETIC_ITEMS))
        say(f"content build: {content_build}")
        shutil.copytree(ROOT / "content", work / "pack")
        write_articles(work / "pack" / "synthetic", SYNTHETIC_ITEMS)
        flows = flow_plans(build(ROOT / "content").items.values())
        user_flow = next(f for f in flows if f.scoped("user"))
        name = f"heed_bench_{uuid.uuid4().hex[:10]}"
        base = ADMIN_URL.rpartition("/")[0]
        admin = await asyncpg.connect(ADMIN_URL, timeout=10)
        await admin.execute(f'CREATE DATABASE "{name}"')
        plan = Plan(
            seconds=3 if quick else 10,
            warm_seconds=1 if quick else 2,
            secret=secrets.token_urlsafe(48),
            wrk=wrk,
            work=work,
            database_url=f"{base}/{name}",
            flows=flows,
            user_flow=user_flow,
        )
        try:
            say(f"database {name}: migrating and publishing the demo pack + synthetic articles")
            published = await prepare_database(plan)
            say(f"published {published}")
            result: dict[str, Any] = machine.describe(
                await admin.fetchval("SHOW server_version"), wrk
            )
            result["machine"]["postgres"] = "PostgreSQL " + result["machine"]["postgres"]
            result |= {
                "quick": quick,
                "load": {
                    "tool": "wrk",
                    "threads": THREADS,
                    "connections": CONNECTIONS,
                    "seconds": plan.seconds,
                    "read_tokens": READ_POOL,
                    "write_tokens": WRITE_POOL,
                },
                "published": published,
                "datasets": {},
            }
            conn = await asyncpg.connect(plan.database_url)
            try:
                first = 0
                for size, orgs in DATASETS:
                    dataset, server = await run_dataset(plan, size, orgs, first, conn)
                    first = orgs
                    try:
                        if size == DATASETS[-1][0]:
                            result["rss_mb"] = server.rss_mb()
                            result |= await release_swap(plan, server)
                            result["rss_after_swap_mb"] = server.rss_mb()
                    finally:
                        server.stop()
                    result["datasets"][size] = dataset
            finally:
                await conn.close()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    result["content_build"] = content_build
    result["targets"] = report.targets(result)
    result["total_s"] = round(time.perf_counter() - began, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per scenario instead of 10")
    parser.add_argument("--output", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(bench(args.quick))
    except (LoadError, OSError, asyncpg.PostgresError, RuntimeError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    json_path, md_path = report.write(result, args.output)
    print()
    print(md_path.read_text(encoding="utf-8"))
    print(f"wrote {json_path} and {md_path} in {result['total_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
