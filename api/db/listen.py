"""One Postgres LISTEN connection per worker, reopened whenever it drops.

Notifications sent while it was down are lost, so every reconnect tells the owners
(`on_reconnect`) to catch up by reading the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import asyncpg

logger = logging.getLogger("heed.listen")

CHECK_SECONDS = 2.0

Handler = Callable[[str], None]


def listener_dsn(database_url: str) -> str:
    """asyncpg's address for Tortoise's URL, without Tortoise's pool options."""
    parts = urlsplit("postgresql://" + database_url.split("://", 1)[1])
    return urlunsplit(parts._replace(query=""))


class Listener:
    def __init__(self, database_url: str) -> None:
        self._dsn = listener_dsn(database_url)
        self._handlers: dict[str, Handler] = {}
        self._on_reconnect: list[Callable[[], Awaitable[object]]] = []
        self._connection: asyncpg.Connection | None = None
        self._watch: asyncio.Task[None] | None = None

    def listen(
        self,
        channel: str,
        handler: Handler,
        on_reconnect: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """Register before `start`."""
        self._handlers[channel] = handler
        if on_reconnect is not None:
            self._on_reconnect.append(on_reconnect)

    async def start(self) -> None:
        await self._connect()
        self._watch = asyncio.create_task(self._watch_forever(), name="heed-listen")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self._dsn)
        for channel, handler in self._handlers.items():
            await connection.add_listener(
                channel, lambda _c, _p, _ch, payload, handler=handler: handler(payload)
            )
        self._connection = connection

    async def _watch_forever(self) -> None:
        delay = CHECK_SECONDS
        while True:
            await asyncio.sleep(delay)
            if self._connection is not None and not self._connection.is_closed():
                delay = CHECK_SECONDS
                continue
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("LISTEN connection down, retrying: %s", exc)
                delay = min(delay * 2, 30.0)
                continue
            logger.info("LISTEN connection reopened")
            for catch_up in self._on_reconnect:
                await catch_up()
