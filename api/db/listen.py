"""One Postgres LISTEN connection per worker, reopened as soon as the database answers again.

Notifications sent while it was down are lost, so every reconnect tells the owners
(`on_reconnect`) to catch up: the release follower reads the database, the progress hub tells
each subscriber to refetch. A lost connection is noticed at once (asyncpg's termination
callback), checked again every `CHECK_SECONDS`, and retried every `RETRY_SECONDS` without
backing off: the gap lasts as long as the outage and no longer. An outage logs one line when
it starts and one when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import asyncpg

logger = logging.getLogger("heed.listen")

CHECK_SECONDS = 2.0
RETRY_SECONDS = 0.5
CONNECT_TIMEOUT_SECONDS = 5.0
STOP_SECONDS = CONNECT_TIMEOUT_SECONDS + 1
APPLICATION_NAME = "heed-listen"  # how operators find it in pg_stat_activity

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
        self._lost = asyncio.Event()
        self._stopping = False
        self.reconnects = 0

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
        """Stop watching. The flag ends a reconnect loop even when asyncpg's connect, racing
        its own timeout, swallows the cancellation."""
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.wait({self._watch}, timeout=STOP_SECONDS)
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()

    async def _connect(self) -> None:
        connection = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={"application_name": APPLICATION_NAME},
        )
        try:
            for channel, handler in self._handlers.items():
                await connection.add_listener(
                    channel, lambda _c, _p, _ch, payload, handler=handler: handler(payload)
                )
        except BaseException:
            connection.terminate()
            raise
        self._lost.clear()
        connection.add_termination_listener(lambda _connection: self._lost.set())
        self._connection = connection

    @property
    def backend_pid(self) -> int | None:
        """The server process of the LISTEN connection (what pg_terminate_backend takes)."""
        return self._connection.get_server_pid() if self._is_up() else None  # type: ignore[union-attr]

    def _is_up(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    async def _watch_forever(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), CHECK_SECONDS)
            if self._is_up():
                continue
            await self._reconnect()

    async def _reconnect(self) -> None:
        """Retry until the database answers; then every owner catches up."""
        lost_at = time.monotonic()
        logger.warning("LISTEN connection lost; reconnecting every %.1f s", RETRY_SECONDS)
        last_error = ""
        while not self._stopping:
            try:
                await self._connect()
                break
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                await asyncio.sleep(RETRY_SECONDS)
        if self._stopping:
            return
        self.reconnects += 1
        logger.warning(
            "LISTEN connection reopened after %.1f s%s; telling listeners to catch up",
            time.monotonic() - lost_at,
            f" (last error: {last_error})" if last_error else "",
        )
        for catch_up in self._on_reconnect:
            try:
                await catch_up()
            except Exception:
                logger.exception("catching up after a LISTEN reconnect failed")
