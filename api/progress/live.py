"""Progress changes pushed to an organization's subscribers, on every worker.

On Postgres the write unit (`api.progress.unit`) announces a change with NOTIFY inside the
writing transaction (so it is heard only if committed) and each worker's listener fans it out
to its local subscribers; SQLite runs in one process, so the hub fans out directly after
commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from enum import StrEnum
from typing import Any

import orjson

from api.db.listen import Listener

logger = logging.getLogger("heed.progress")

PROGRESS_CHANNEL = "heed_progress"
QUEUE_SIZE = 256


class ProgressAction(StrEnum):
    """What a live subscriber is told happened (the notice's `action`)."""

    COMPLETED = "completed"
    SKIPPED = "skipped"
    REOPENED = "reopened"
    HELP_REQUESTED = "help_requested"
    RESET = "reset"


class ProgressHub:
    def __init__(self, listener: Listener | None) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self.uses_notify = listener is not None
        if listener is not None:
            listener.listen(PROGRESS_CHANNEL, self._heard)

    def deliver_local(self, event: Mapping[str, Any]) -> None:
        """After commit, for SQLite: there is no other process to tell."""
        if not self.uses_notify:
            self._fan_out(dict(event))

    def _heard(self, payload: str) -> None:
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
