"""Progress changes pushed to an organization's subscribers, on every worker.

On Postgres a change is announced with NOTIFY inside the writing transaction (so it is heard
only if committed) and each worker's listener fans it out to its local subscribers; SQLite
runs in one process, so the hub fans out directly after commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
import orjson

logger = logging.getLogger("heed.progress")

PROGRESS_CHANNEL = "heed_progress"
QUEUE_SIZE = 256


class ProgressHub:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._listener: asyncpg.Connection | None = None

    @property
    def uses_notify(self) -> bool:
        return self._database_url.startswith("asyncpg://")

    async def start(self) -> None:
        if self.uses_notify:
            dsn = "postgresql://" + self._database_url.removeprefix("asyncpg://")
            self._listener = await asyncpg.connect(dsn)
            await self._listener.add_listener(PROGRESS_CHANNEL, self._heard)

    async def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    async def announce(self, event: Mapping[str, Any], connection: Any) -> None:
        """Within the writing transaction on Postgres; call `deliver` after commit otherwise."""
        if connection.capabilities.dialect == "postgres":
            payload = orjson.dumps(dict(event)).decode()
            await connection.execute_query("SELECT pg_notify($1, $2)", [PROGRESS_CHANNEL, payload])

    def deliver_local(self, event: Mapping[str, Any]) -> None:
        """After commit, for SQLite: there is no other process to tell."""
        if not self.uses_notify:
            self._fan_out(dict(event))

    def _heard(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._fan_out(orjson.loads(payload))

    def _fan_out(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(event["organizationId"], ())):
            if queue.full():
                logger.warning("dropping a progress event for a slow subscriber")
                continue
            queue.put_nowait(event)

    async def subscribe(self, organization_id: str) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers[organization_id].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers[organization_id].discard(queue)
            if not self._subscribers[organization_id]:
                del self._subscribers[organization_id]
