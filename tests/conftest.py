"""Fixtures: real databases (SQLite and Postgres, built by the migrations) and the real app.

Postgres comes from HEED_TEST_POSTGRES_URL or the local server; each run gets a throwaway
database that is dropped afterwards. Without a reachable server the Postgres tests are
skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
import tortoise.context
from starlette.applications import Starlette

from api.app import create_app
from api.auth import mint_token
from api.content.store import publish
from api.db import open_database, using
from api.settings import NudgeSettings, RateLimits, Settings, WebhookSettings
from bench.statements import StatementCounter as SQLCounter
from bench.statements import counting_statements

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-" + "x" * 40
TEST_ADMIN_KEY = "test-admin-key-" + "y" * 20
# What current GraphQL clients send; the wildcard and no-Accept cases are tested on their own.
MODERN_CLIENT = {"accept": "application/graphql-response+json, application/json;q=0.9"}
DEFAULT_POSTGRES = "postgresql://127.0.0.1:5432/postgres"
# The suite sends thousands of requests from one address: the rate-limit tests set their own.
UNLIMITED = RateLimits(*(10**9,) * 6)


def postgres_admin_url() -> str:
    return os.environ.get("HEED_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


def run_aside(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run setup/teardown I/O on its own loop: synchronous fixtures may be requested lazily."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def admin_execute(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin_url = postgres_admin_url()
    name = f"heed_test_{uuid.uuid4().hex[:12]}"
    try:
        run_aside(admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL not reachable at {admin_url}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: Postgres tests must run)")
        pytest.skip(message)
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        run_aside(admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite://{tmp_path_factory.mktemp('sqlite') / 'heed.sqlite3'}"


async def _migrate(database_url: str, *, publish_demo: bool) -> None:
    database = await open_database(database_url, migrate=True)
    try:
        if publish_demo:
            with using(database):
                await publish(ROOT / "content")
    finally:
        await database.close_connections()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database engine for the database-backed tests (make test runs both)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On Postgres, run only the tests that touch a database: the rest ran on the SQLite pass.

    One engine per process, because Tortoise caches dialect-specific query state on the
    (process-global) model classes.
    """
    if config.getoption("--db") != "postgres":
        return
    selected = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in selected])
    items[:] = selected


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> str:
    """The engine chosen with --db, its schema built by the migrations."""
    url: str = request.getfixturevalue(f"{request.config.getoption('--db')}_url")
    database_url = Settings.from_env({"DATABASE_URL": url}).database_url
    run_aside(_migrate(database_url, publish_demo=True))
    return database_url


@pytest.fixture
def fresh_database_url(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[str]:
    """A database of its own, migrated and empty, on the engine under test.

    For tests that publish: releases are global, so they must not change what the rest of
    the suite is served.
    """
    if database_url.startswith("sqlite"):
        url = f"sqlite://{tmp_path / 'fresh.sqlite3'}"
        run_aside(_migrate(url, publish_demo=False))
        yield url
        return
    with throwaway_postgres() as url:
        run_aside(_migrate(url, publish_demo=False))
        yield url


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new, empty Postgres database (Tortoise URL), dropped on exit even if in use."""
    admin_url = postgres_admin_url()
    name = f"heed_tmp_{uuid.uuid4().hex[:10]}"
    run_aside(admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield "asyncpg://" + admin_url.split("://", 1)[1].rpartition("/")[0] + f"/{name}"
    finally:
        run_aside(admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def drop_database(url: str) -> None:
    """Make a database vanish under whoever uses it: the outage tests' fault."""
    name = url.rpartition("/")[2]
    run_aside(admin_execute(postgres_admin_url(), f'DROP DATABASE "{name}" WITH (FORCE)'))


def serve_env(database_url: str, data_dir: Path, **variables: str) -> dict[str, str]:
    """The environment for a `heed serve` subprocess: only what it is given."""
    return {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": database_url,
        "HEED_JWT_SECRET": TEST_SECRET,
        "HEED_DATA_DIR": str(data_dir),
        "HEED_RELEASE_POLL_SECONDS": "1",
        **variables,
    }


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        environment="development",
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        content_dir=ROOT / "content",
        jwt_secret=TEST_SECRET,
        admin_key=TEST_ADMIN_KEY,
        rate_limits=UNLIMITED,
        # The session's app sends no webhooks: tests/test_webhooks.py runs its own workers.
        webhooks=WebhookSettings(delivery=False),
        # Nor does it run the insight job: tests/test_insight_nudges.py runs it on its clock.
        nudges=NudgeSettings(in_serve=False),
    )


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The real ASGI app, started through its lifespan, behind an HTTP client."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://heed.test", headers=MODERN_CLIENT
        ) as client:
            yield app, client


@pytest.fixture(scope="session")
async def app_client(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The session's app; its database context is also the one tests query models through."""
    async with running_app(settings) as pair:
        database = pair[0].state.runtime.database
        tortoise.context.set_global_context(database)
        try:
            yield pair
        finally:
            tortoise.context._global_context = None


@pytest.fixture
def client(app_client: tuple[Starlette, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_client[1]


@pytest.fixture
def app(app_client: tuple[Starlette, httpx.AsyncClient]) -> Starlette:
    return app_client[0]


@pytest.fixture
def production_settings(settings: Settings) -> Settings:
    return replace(settings, environment="production")


def unique(prefix: str) -> str:
    """Ids unique per test, so tests share one database without seeing each other."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def token(org: str, member: str, roles: tuple[str, ...] = (), **claims: Any) -> str:
    settings = Settings(jwt_secret=TEST_SECRET)
    return mint_token(settings, organization_id=org, member_id=member, roles=roles, **claims)


def auth(org: str, member: str, roles: tuple[str, ...] = (), **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(org, member, roles, **claims)}"}


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    headers: dict[str, str],
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """POST a query and return the body, asserting the transport-level success."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def sql_counter() -> Iterator[SQLCounter]:
    with counting_statements() as counter:
        yield counter
