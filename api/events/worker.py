"""The delivery worker: runs in every `heed serve` process, or alone as `heed worker`.

It works outside any request and any transaction, in rounds: it claims up to `concurrency`
due messages (a lease each, at most one per line: endpoint and organization), sends them
all at once, then logs the round's attempts and moves their messages on in one transaction.
It wakes when Postgres notifies that the outbox trigger queued messages, and otherwise
polls every `poll_seconds` (always, on SQLite).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from tortoise.context import TortoiseContext

from api.db import background, using
from api.db.listen import Listener
from api.events import store
from api.events.delivery import http_client, lookup, send
from api.events.store import Attempt, Claimed
from api.settings import Settings

logger = logging.getLogger("heed.webhooks")

CHANNEL = "heed_webhooks"
LEASE_MARGIN_SECONDS = 5.0
PURGE_EVERY = dt.timedelta(hours=1)
ANALYZE_EVERY = dt.timedelta(seconds=30)  # at most, and only while rounds come back full


@dataclass
class DeliveryStats:
    """Counters for the metrics endpoint (monotonic, per process)."""

    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    endpoints_disabled: int = 0


class DeliveryWorker:
    def __init__(
        self, database: TortoiseContext, settings: Settings, listener: Listener | None = None
    ) -> None:
        self._database = database
        self._settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One HTTP client per host name: connections go to checked addresses, so a pool
        # shared by names on one address would reuse one name's TLS session for another.
        self._clients: dict[str, aiohttp.ClientSession] = {}
        self._purged_at: dt.datetime | None = None
        self._analyzed_at: dt.datetime | None = None
        self.stats = DeliveryStats()
        if listener is not None:
            listener.listen(CHANNEL, lambda _payload: self._wake.set(), self._catch_up)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="heed-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    def _client_for(self, host: str) -> aiohttp.ClientSession:
        client = self._clients.get(host)
        if client is None:
            client = self._clients[host] = http_client(self._settings)
        return client

    async def _catch_up(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Claim what is due and send it; how many messages were attempted."""
        webhooks = self._settings.webhooks
        now = dt.datetime.now(dt.UTC)
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            await store.purge(now - dt.timedelta(days=webhooks.retention_days))
            self._purged_at = now
        lease = dt.timedelta(seconds=webhooks.timeout_seconds + LEASE_MARGIN_SECONDS)
        # At most `concurrency` messages, all sent at once: each is done within its lease.
        claimed = await store.claim(now, now + lease, webhooks.concurrency)
        if not claimed:
            return 0
        if len(claimed) == webhooks.concurrency and (
            self._analyzed_at is None or now - self._analyzed_at >= ANALYZE_EVERY
        ):
            await store.refresh_statistics()  # a backlog: plan the next claims for it
            self._analyzed_at = now

        urls = list({message.url for message in claimed})
        found = await asyncio.gather(*(lookup(url, self._settings) for url in urls))
        targets = dict(zip(urls, found, strict=True))

        async def send_one(message: Claimed) -> tuple[Claimed, Attempt]:
            client = self._client_for(urlsplit(message.url).hostname or "")
            return message, await send(client, message, targets[message.url], self._settings)

        attempts = await asyncio.gather(*(send_one(message) for message in claimed))
        await store.record_attempts(attempts)
        for message, attempt in attempts:
            await self._account(message, attempt)
        return len(claimed)

    async def _account(self, message: Claimed, attempt: Attempt) -> None:
        """Counters, and the endpoint's health: failing since when, disabled if too long."""
        if attempt.succeeded:
            self.stats.delivered += 1
            if message.failing_since is not None:
                await store.endpoint_succeeded(message.endpoint_id)
            return
        self.stats.failed_attempts += 1
        if attempt.next_attempt_at is None:
            self.stats.gave_up += 1
        reason = await store.endpoint_failed(
            message.endpoint_id, attempt.at, self._settings.webhooks.disable_after_seconds
        )
        if reason is not None:
            self.stats.endpoints_disabled += 1
            where = urlsplit(message.url)
            logger.warning("webhook endpoint %s%s disabled: %s", where.netloc, where.path, reason)

    async def _run_forever(self) -> None:
        poll = self._settings.webhooks.poll_seconds
        with using(self._database), background():
            while True:
                self._wake.clear()  # a notification from now on wakes the wait below
                try:
                    attempted = await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("webhook delivery round failed; retrying")
                    attempted = 0
                if attempted:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)
