"""Database lifecycle: one Tortoise context per app, migrated with Tortoise's own migrations.

The app owns its `TortoiseContext` instead of relying on Tortoise's process-global state, so
two apps (say SQLite and Postgres in one test run) can live in the same process; requests
enter the context through `api.app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationExecutor

APP_LABEL = "models"
MODELS_MODULE = "api.db.models"
MIGRATIONS_MODULE = "migrations"


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message says which and why."""


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
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


def _ensure_sqlite_folder(database_url: str) -> None:
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)


async def open_database(database_url: str, *, migrate: bool = True) -> TortoiseContext:
    """Connect (and by default bring the schema up to date); the caller closes the context."""
    _ensure_sqlite_folder(database_url)
    ctx = TortoiseContext()
    with ctx:
        try:
            await ctx.init(config=tortoise_config(database_url))
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
    with ctx:
        executor = MigrationExecutor(ctx.db(), tortoise_config("")["apps"])
        await executor.migrate()


async def pending_model_changes(ctx: TortoiseContext) -> list[str]:
    """Names of the migrations `tortoise makemigrations` would write now; empty when in sync."""
    with ctx:
        assert ctx.apps is not None
        writers = await MigrationAutodetector(ctx.apps, tortoise_config("")["apps"]).changes()
    return [writer.name for writer in writers]


async def is_reachable(ctx: TortoiseContext) -> bool:
    with ctx:
        try:
            await ctx.db().execute_query("SELECT 1")
        except Exception:
            return False
    return True


def _cli_config() -> dict[str, Any]:
    """What `tortoise makemigrations` (configured in pyproject.toml) works against."""
    from api.settings import Settings

    return tortoise_config(Settings.from_env().database_url)


TORTOISE_ORM = _cli_config()
