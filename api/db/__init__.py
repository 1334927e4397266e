"""Database lifecycle: one Tortoise context per app, migrated with Tortoise's own migrations.

The app owns its `TortoiseContext` instead of relying on Tortoise's process-global state, so
two apps (say SQLite and Postgres in one test run) can live in the same process; requests
enter the context through `api.app`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext, _current_context
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationExecutor

APP_LABEL = "models"
MODELS_MODULE = "api.db.models"
MIGRATIONS_MODULE = "migrations"


_BACKGROUND: ContextVar[bool] = ContextVar("heed_background", default=False)


@contextlib.contextmanager
def background() -> Iterator[None]:
    """Mark the statements sent inside as a background worker's (webhook delivery), so
    that counting a request's statements leaves them out."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


def in_background() -> bool:
    return _BACKGROUND.get()


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message says which and why."""


class using:
    """Make `database` current for the code inside, safely for concurrent and nested use.

    `TortoiseContext.__enter__` keeps its reset token on the instance, so one context shared
    by concurrent requests (or entered twice) would reset to the wrong value; here the token
    stays local to each entry. A class, not a generator: every request enters one.
    """

    __slots__ = ("_database", "_token")

    def __init__(self, database: TortoiseContext) -> None:
        self._database = database

    def __enter__(self) -> TortoiseContext:
        self._token = _current_context.set(self._database)
        return self._database

    def __exit__(self, *_: object) -> None:
        _current_context.reset(self._token)


def tortoise_config(database_url: str, pool_size: int | None = None) -> dict[str, Any]:
    """Tortoise's configuration; `pool_size` caps a Postgres worker's connections (Tortoise's
    default of 5 queues concurrent requests behind each other's transactions)."""
    if pool_size and is_postgres(database_url) and "maxsize=" not in database_url:
        database_url += ("&" if "?" in database_url else "?") + f"maxsize={pool_size}"
    connection: str | dict[str, Any] = database_url
    if is_postgres(database_url):
        connection = expand_db_url(database_url)
        connection["credentials"]["reset"] = keep_session
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def keep_session(connection: Any) -> None:
    """How a connection goes back to the pool. asyncpg has already rolled back a transaction
    left open and dropped listeners; its default would also send a reset query (advisory
    locks, cursors, LISTEN, settings), one more round trip after every statement. Heed keeps
    none of these on pooled connections (LISTEN has its own connection), so none is sent."""


def is_postgres(database_url: str) -> bool:
    return database_url.startswith("asyncpg://")


def _ensure_sqlite_folder(database_url: str) -> None:
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)


async def open_database(
    database_url: str, *, migrate: bool = True, pool_size: int | None = None
) -> TortoiseContext:
    """Connect (and by default bring the schema up to date); the caller closes the context."""
    _ensure_sqlite_folder(database_url)
    ctx = TortoiseContext()
    with using(ctx):
        try:
            await ctx.init(config=tortoise_config(database_url, pool_size))
            if migrate:
                await apply_migrations(ctx)
            else:
                await ctx.db().execute_query("SELECT 1")
        except (OSError, ConnectionError) as exc:
            await ctx.close_connections()
            raise DatabaseUnavailable(f"cannot reach the database: {exc}") from exc
        except Exception as exc:
            await ctx.close_connections()
            if type(exc).__module__.startswith(("asyncpg", "sqlite3", "aiosqlite")):
                raise DatabaseUnavailable(f"cannot open the database: {exc}") from exc
            raise
    return ctx


async def apply_migrations(ctx: TortoiseContext) -> None:
    with using(ctx):
        executor = MigrationExecutor(ctx.db(), tortoise_config("")["apps"])
        await executor.migrate()


async def pending_model_changes(ctx: TortoiseContext) -> list[str]:
    """Names of the migrations `tortoise makemigrations` would write now; empty when in sync."""
    with using(ctx):
        assert ctx.apps is not None
        writers = await MigrationAutodetector(ctx.apps, tortoise_config("")["apps"]).changes()
    return [writer.name for writer in writers]


def is_connection_failure(exc: BaseException) -> bool:
    """True when the database could not be reached, as opposed to a query that failed.

    Tortoise wraps driver errors in its own types, so the driver's error is found on the
    exception chain.
    """
    import sqlite3

    import asyncpg

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.OperationalError) and "unable to open" in str(seen):
            return True
        if (
            isinstance(
                seen,
                OSError
                | ConnectionError
                | asyncpg.PostgresConnectionError
                | asyncpg.InterfaceError
                | asyncpg.CannotConnectNowError
                | asyncpg.AdminShutdownError
                | asyncpg.InvalidCatalogNameError
                | asyncpg.InvalidAuthorizationSpecificationError
                | asyncpg.TooManyConnectionsError
                | TimeoutError,
            )
            or type(seen).__name__ == "DBConnectionError"
            or _is_unavailable_state(getattr(seen, "sqlstate", None), str(seen))
            # The connection broke mid-statement and asyncpg's protocol is left in the state
            # it was in: the next use says another operation is in progress.
            or (
                isinstance(seen, asyncpg.InternalClientError)
                and "cannot switch to state" in str(seen)
            )
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_unavailable_state(sqlstate: object, message: str) -> bool:
    """Postgres's own words for "not now": connection exceptions (08), operator intervention
    such as a shutdown or a restart (57P), too many connections (53300), and a database closed
    to connections during maintenance (55000)."""
    if not isinstance(sqlstate, str):
        return False
    return (
        sqlstate.startswith(("08", "57P"))
        or sqlstate == "53300"
        or (sqlstate == "55000" and "accepting connections" in message)
    )


async def is_reachable(ctx: TortoiseContext) -> bool:
    with using(ctx):
        try:
            await ctx.db().execute_query("SELECT 1")
        except Exception:
            return False
    return True
