"""Progress changes pushed to an organization's subscribers, on every worker.

On Postgres the write unit (`api.progress.unit`) announces a change with NOTIFY inside the
writing transaction (so it is heard only if committed) and each worker's listener fans it out
to its local subscribers; SQLite runs in one process, so the hub fans out directly after
commit.

A subscriber never misses a change silently: when changes may have been lost (the LISTEN
connection was down, or the subscriber fell `QUEUE_SIZE` events behind), it receives a
`resync` event instead — action `resync`, empty flow, step and member ids — meaning "refetch
what you show"; every change after it is delivered again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
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
    BADGE_EARNED = "badge_earned"
    RESYNC = "resync"  # changes may have been missed: refetch what you show


def resync_event(organization_id: str) -> dict[str, Any]:
    return {
        "organizationId": organization_id,
        "flowId": "",
        "stepId": "",
        "action": ProgressAction.RESYNC.value,
        "memberId": "",
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }


class ProgressHub:
    def __init__(self, listener: Listener | None) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self.uses_notify = listener is not None
        self.listener = listener
        if listener is not None:
            listener.listen(PROGRESS_CHANNEL, self._heard, on_reconnect=self.resync_all)

    def deliver_local(self, event: Mapping[str, Any]) -> None:
        """After commit, for SQLite: there is no other process to tell."""
        if not self.uses_notify:
            self._fan_out(dict(event))

    async def resync_all(self) -> None:
        """Changes may have been lost (a LISTEN gap): every subscriber refetches."""
        count = 0
        for organization_id, queues in list(self._subscribers.items()):
            for queue in list(queues):
                _replace_with_resync(queue, organization_id)
                count += 1
        if count:
            logger.warning("told %d subscriber(s) to resynchronise after a gap", count)

    def _heard(self, payload: str) -> None:
        self._fan_out(orjson.loads(payload))

    def _fan_out(self, event: dict[str, Any]) -> None:
        organization_id = event["organizationId"]
        for queue in list(self._subscribers.get(organization_id, ())):
            if queue.full():
                # Too far behind: what it missed is replaced by one "refetch" event.
                _replace_with_resync(queue, organization_id)
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


def _replace_with_resync(queue: asyncio.Queue[dict[str, Any]], organization_id: str) -> None:
    """Everything queued is superseded by a refetch, which reads the state after it."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(resync_event(organization_id))
