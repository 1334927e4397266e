"""`python -m bench.run [--quick]`: the whole benchmark, from empty databases to the table.

Content-build figures on a synthetic pack; a throwaway Postgres database with the demo pack
and 1,000 synthetic articles published, copied for the second size; each seeded in bulk, its
SQL counted in-process, and served by `heed serve` (production, one worker). wrk then runs
every scenario against both servers in turn, for two rounds, so that drift on a shared machine
hits both sizes alike; the faster round is kept. Then the insight scenario on the large size
(bench/insight.py), release swap time and worker memory. Results go to
bench/results/latest.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api.content.store import publish
from api.db import open_database, using
from bench import insight, machine, peer, report
from bench.load import CONNECTIONS, THREADS, LoadError, ensure_wrk, run_wrk
from bench.receiver import webhook_endpoint
from bench.scenarios import Scenario, problems, scenarios
from bench.seed import seed
from bench.server import Server, seconds_until_release, start_floor, start_server, wait_ready
from bench.sqlcount import sql_per_request
from bench.stage import (
    CONTENT_ITEM,
    READ_POOL,
    SQL_SAMPLES,
    SYNTHETIC_ITEMS,
    WRITE_POOL,
    Plan,
    Pools,
    check_answers,
    member_pools,
    migrate_and_publish,
    prepare_pack,
    say,
    throwaway_database,
    warm_members,
)
from bench.synthetic import measure_build, touch_one, write_articles

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (("small", 1_000), ("large", 10_000))


@dataclass
class Dataset:
    """One database size with its own server; `written` lets later write runs continue."""

    size: str
    orgs: int
    plan: Plan
    pools: Pools
    seeded: dict[str, Any]
    sql: dict[str, float]
    checklists: Path  # the peer's request bodies, one reader of the read pool a line
    server: Server | None = None
    # The floor and the peer, serving alongside Heed (scenarios name them in `server`).
    others: dict[str, Server] = field(default_factory=dict)
    written: int = 0
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


async def prepare(plan: Plan, size: str, orgs: int, cases: list[Scenario]) -> Dataset:
    """Seed, count SQL in-process, then serve (Heed, the floor, the peer) and warm the members
    the load will use."""
    say(f"{size}: seeding {orgs:,} organizations")
    conn = await asyncpg.connect(plan.database_url)
    try:
        seeded = await seed(conn, 0, orgs, plan.flows)
    finally:
        await conn.close()
    say(f"{size}: seeded {seeded}")
    pools = member_pools(plan, size, orgs)
    ours = [case for case in cases if case.server == "heed"]
    sql = await sql_per_request(
        plan.server_env, ours, pools.read[:SQL_SAMPLES], pools.sql_write, plan.steps, size
    )
    say(f"{size}: SQL statements per request {sql}")
    checklists = plan.work / f"{size}-checklists.jsonl"
    checklists.write_bytes(b"\n".join(peer.checklist_bodies(orgs, READ_POOL)) + b"\n")
    dataset = Dataset(size, orgs, plan, pools, seeded, sql, checklists)
    dataset.server = start_server(plan.server_env, plan.work / f"server-{size}.log")
    dataset.others["floor"] = start_floor(plan.server_env, plan.work / f"floor-{size}.log")
    assert plan.postgraphile is not None
    dataset.others["peer"] = peer.start_peer(
        plan.postgraphile, plan.database_url, plan.work / f"peer-{size}.log"
    )
    await wait_ready(dataset.server)
    await wait_ready(dataset.others["floor"])
    await wait_ready(dataset.others["peer"], probe=b'{"query": "{ __typename }"}')
    await warm_members(dataset.server, pools.read + pools.write)
    await check_answers(dataset.server, [c for c in ours if not c.writes], pools.read[0], "")
    await check_reference_answers(dataset, [c for c in cases if c.server != "heed"])
    say(f"{size}: serving on {dataset.server.url}, {len(pools.read + pools.write)} members seen")
    return dataset


async def check_reference_answers(dataset: Dataset, cases: list[Scenario]) -> None:
    """One request to the floor and one to the peer: a broken answer stops the run."""
    first = dataset.checklists.read_bytes().split(b"\n", 1)[0]
    async with httpx.AsyncClient(timeout=30) as client:
        for case in cases:
            body = first if case.server == "peer" else case.body()
            response = await client.post(
                f"{dataset.others[case.server].url}/graphql",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            wrong = problems(case.name, response.json())
            if wrong:
                raise RuntimeError("; ".join(wrong))


async def measure(dataset: Dataset, case: Scenario, seconds: float, warm_seconds: float) -> None:
    plan = dataset.plan
    server = dataset.server if case.server == "heed" else dataset.others[case.server]
    assert server is not None
    body = plan.work / f"{case.name}.json"
    body.write_bytes(case.body())
    url = f"{server.url}/graphql"
    prefix = f"{dataset.size}-{case.name}-{uuid.uuid4().hex[:8]}"
    bodies = dataset.checklists if case.server == "peer" else None
    if case.writes:  # no warm-up: every write request uses up a member's next step
        tokens, start = dataset.pools.write_file, dataset.written
    else:
        tokens, start = dataset.pools.read_file, 0
        if case.seen_before:
            await warm_members(server, dataset.pools.read, case.body())
        run_wrk(plan.wrk, url, tokens, body, warm_seconds, key_prefix=prefix + "w", bodies=bodies)
    async with webhook_endpoint(plan.server_env, case.webhook) as receiver:
        result = run_wrk(
            plan.wrk,
            url,
            tokens,
            body,
            seconds,
            steps=plan.steps,
            key_prefix=prefix,
            start=start,
            bodies=bodies,
        )
    if receiver is not None:
        result["webhooks_received"] = receiver.received
    if case.writes:
        dataset.written += result["requests"]
    dataset.runs.setdefault(case.name, []).append(result)
    say(f"{dataset.size}: {case.name} {result}")


def figures(dataset: Dataset) -> dict[str, Any]:
    """The fastest round of each scenario (noise on a shared machine only slows things)."""
    scenarios_out = {}
    for name, runs in dataset.runs.items():
        best = dict(max(runs, key=lambda run: run["rps"]))
        best["sql_per_request"] = dataset.sql.get(name)
        best["rounds_rps"] = [run["rps"] for run in runs]
        scenarios_out[name] = best
    report.add_ratios(scenarios_out)
    assert dataset.server is not None
    return {
        "orgs": dataset.orgs,
        "seed": dataset.seeded,
        "scenarios": scenarios_out,
        "rss_mb": dataset.server.rss_mb(),
    }


async def release_swap(plan: Plan, server: Server) -> dict[str, float]:
    """Edit one article, publish, and time commit → the worker's /readyz shows it."""
    touch_one(plan.pack / "synthetic" / "syn-0500.md", "An edit for the swap.")
    database = await open_database(plan.tortoise_url, migrate=False)
    try:
        with using(database):
            started = time.perf_counter()
            result = await publish(plan.pack)
            published = time.perf_counter() - started
        swap = await seconds_until_release(server, result.number)
    finally:
        await database.close_connections()
    return {"release_swap_s": round(swap, 3), "publish_one_edit_s": round(published, 2)}


async def run_load(plan: Plan, large_url: str, rounds: int, result: dict[str, Any]) -> None:
    cases = scenarios(plan.user_flow.id, CONTENT_ITEM)
    datasets: list[Dataset] = []
    try:
        for (size, orgs), url in zip(SIZES, (plan.database_url, large_url), strict=True):
            datasets.append(await prepare(replace(plan, database_url=url), size, orgs, cases))
        for n in range(rounds):
            say(f"round {n + 1} of {rounds}")
            for case in cases:
                for dataset in datasets:
                    await measure(dataset, case, plan.seconds, plan.warm_seconds)
        for dataset in datasets:
            result["datasets"][dataset.size] = figures(dataset)
        large = datasets[-1]
        assert large.server is not None
        result["insight"] = await insight.scenario(large.plan, large.orgs)
        result["rss_mb"] = max(d["rss_mb"] for d in result["datasets"].values())
        result |= await release_swap(large.plan, large.server)
        result["rss_after_swap_mb"] = large.server.rss_mb()
    finally:
        for dataset in datasets:
            for server in [dataset.server, *dataset.others.values()]:
                if server is not None:
                    server.stop()


async def bench(quick: bool) -> dict[str, Any]:
    began = time.perf_counter()
    wrk = ensure_wrk()
    say("installing the peer, PostGraphile 4 (npm ci in bench/peer)")
    postgraphile = peer.ensure_installed()
    with tempfile.TemporaryDirectory(prefix="heed-bench-") as tmp:
        work = Path(tmp)
        say(f"content build: {SYNTHETIC_ITEMS} synthetic articles")
        synthetic = work / "synthetic"
        content_build = measure_build(synthetic, write_articles(synthetic, SYNTHETIC_ITEMS))
        say(f"content build: {content_build}")
        flows = prepare_pack(work)
        async with throwaway_database() as (url, version):
            plan = Plan(
                secret=secrets.token_urlsafe(48),
                wrk=wrk,
                work=work,
                database_url=url,
                flows=flows,
                user_flow=next(f for f in flows if f.scoped("user")),
                seconds=3 if quick else 8,
                warm_seconds=1,
                postgraphile=postgraphile,
            )
            say("migrating and publishing the demo pack + synthetic articles")
            published = await migrate_and_publish(plan)
            say(f"published {published}")
            result: dict[str, Any] = machine.describe(f"PostgreSQL {version}", wrk)
            result["peer"] = {"server": "PostGraphile 4.14.1", "node": peer.node_version()}
            rounds = 1 if quick else 2
            result |= {
                "quick": quick,
                "load": {
                    "tool": "wrk",
                    "threads": THREADS,
                    "connections": CONNECTIONS,
                    "seconds": plan.seconds,
                    "rounds": rounds,
                    "read_tokens": READ_POOL,
                    "write_tokens": WRITE_POOL,
                },
                "published": published,
                "datasets": {},
            }
            async with throwaway_database(template=url) as (large_url, _):
                await run_load(plan, large_url, rounds, result)
    result["content_build"] = content_build
    result["targets"] = report.targets(result)
    result["total_s"] = round(time.perf_counter() - began, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round of 3 s per scenario")
    parser.add_argument("--output", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(bench(args.quick))
    except (LoadError, peer.PeerUnavailable, OSError, asyncpg.PostgresError, RuntimeError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    json_path, md_path = report.write(result, args.output)
    print()
    print(md_path.read_text(encoding="utf-8"), end="")
    print(f"\nwrote {json_path} and {md_path} in {result['total_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
