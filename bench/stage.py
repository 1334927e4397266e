"""The stage both the benchmark and the profiler set up: content pack, throwaway database,
member token pools, and a served, warmed worker."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api.content.pipeline import build
from api.content.store import publish
from api.db import open_database, using
from api.settings import Settings
from bench import people
from bench.load import CONNECTIONS
from bench.scenarios import Scenario, problems
from bench.seed import FlowPlan, flow_plans
from bench.server import Server
from bench.sqlcount import post
from bench.synthetic import write_articles

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SYNTHETIC_ITEMS = 1_000
READ_POOL, WRITE_POOL, SQL_SAMPLES = 1_000, 500, 12
CONTENT_ITEM = "checking-in-visitors"


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Plan:
    secret: str
    wrk: str
    work: Path
    database_url: str  # postgresql://…, for asyncpg
    flows: list[FlowPlan]
    user_flow: FlowPlan
    seconds: float = 10
    warm_seconds: float = 2
    postgraphile: Path | None = None  # the peer's command (bench/peer.py), when it runs

    @property
    def pack(self) -> Path:
        return self.work / "pack"

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(step_id for step_id, _, _ in self.user_flow.steps)

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
            "HEED_CONTENT_DIR": str(self.pack),
            # Throughput is measured from one address and a few members: no rate limits.
            **{variable: "1000000000" for variable in RATE_LIMIT_VARIABLES},
            # complete_step_webhook's receiver listens on 127.0.0.1, over http.
            "HEED_WEBHOOK_ALLOW_HTTP": "true",
            "HEED_WEBHOOK_ALLOW_PRIVATE": "true",
            # The insight job is measured on its own (bench/insight.py), not inside the load.
            "HEED_NUDGES": "false",
        }


RATE_LIMIT_VARIABLES = (
    "HEED_RATE_PER_ADDRESS",
    "HEED_RATE_PER_MEMBER",
    "HEED_RATE_PER_ORGANIZATION",
    "HEED_RATE_FAILED_AUTH",
    "HEED_RATE_INVITATIONS_PER_MEMBER",
    "HEED_RATE_INVITATIONS_PER_ORGANIZATION",
)


def prepare_pack(work: Path) -> list[FlowPlan]:
    """The demo pack plus 1,000 synthetic articles in `work/pack`; returns the demo flows."""
    shutil.copytree(ROOT / "content", work / "pack")
    write_articles(work / "pack" / "synthetic", SYNTHETIC_ITEMS)
    return flow_plans(build(ROOT / "content").items.values())


@contextlib.asynccontextmanager
async def throwaway_database(template: str | None = None) -> AsyncIterator[tuple[str, str]]:
    """A new Postgres database (a copy of `template`'s URL when given), dropped afterwards:
    yields (url, server version)."""
    admin = await asyncpg.connect(ADMIN_URL, timeout=10)
    name = f"heed_bench_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template.rpartition("/")[2]}"' if template else ""
    try:
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
        try:
            yield (
                f"{ADMIN_URL.rpartition('/')[0]}/{name}",
                await admin.fetchval("SHOW server_version"),
            )
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def migrate_and_publish(plan: Plan) -> dict[str, Any]:
    database = await open_database(plan.tortoise_url, migrate=True)
    try:
        with using(database):
            started = time.perf_counter()
            result = await publish(plan.pack)
    finally:
        await database.close_connections()
    seconds = round(time.perf_counter() - started, 2)
    return {"release": result.number, "items": result.items, "publish_s": seconds}


@dataclass(frozen=True)
class Pools:
    """Token files for wrk, and the tokens themselves for warming and SQL counting."""

    read_file: Path
    write_file: Path
    read: list[str]
    write: list[str]
    sql_write: list[str]


def _tokens(plan: Plan, members: list[tuple[int, int]]) -> list[str]:
    return [people.token(plan.secret, org, slot) for org, slot in members]


def member_pools(plan: Plan, size: str, orgs: int) -> Pools:
    """Readers spread over every org and slot; writers over slots 5-8 (no personal progress
    yet); slot 9 of other orgs for the in-process SQL counts of writes."""
    read = _tokens(plan, people.spread(orgs, READ_POOL, range(people.MEMBERS_PER_ORG)))
    write = _tokens(plan, people.spread(orgs, WRITE_POOL, range(5, 9)))
    sql_write = _tokens(plan, people.spread(orgs, SQL_SAMPLES + 2, range(9, 10), offset=1))
    read_file, write_file = plan.work / f"{size}-read.tokens", plan.work / f"{size}-write.tokens"
    read_file.write_text("\n".join(read) + "\n")
    write_file.write_text("\n".join(write) + "\n")
    return Pools(read_file, write_file, read, write, sql_write)


async def warm_members(
    server: Server, tokens: list[str], body: bytes = b'{"query": "{ __typename }"}'
) -> None:
    """One request from every member the load will use, as on a worker that has been running:
    by default their first sight; with a scenario's body, their previous page load."""
    gate = asyncio.Semaphore(CONNECTIONS)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

        async def one(token: str) -> None:
            async with gate:
                await post(client, token, body)

        await asyncio.gather(*(one(token) for token in tokens))


async def check_answers(server: Server, cases: list[Scenario], token: str, step: str) -> None:
    """One request per scenario over real HTTP: a broken answer stops the run."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for case in cases:
            payload = await post(client, token, case.body(f"check-{uuid.uuid4().hex}", step))
            wrong = problems(case.name, payload)
            if wrong:
                raise RuntimeError("; ".join(wrong))
