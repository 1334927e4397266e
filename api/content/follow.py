"""Keep a worker on the latest published release, swapping it in without a restart.

Postgres announces each release with NOTIFY; SQLite has no such thing, so workers poll. On
Postgres the poll still runs, slowly, to catch a notification missed while reconnecting.
A swap is one reference assignment: a request in flight keeps the release it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
from collections.abc import Callable

from tortoise.context import TortoiseContext

from api.content.store import RELEASE_CHANNEL, LiveRelease, latest_release_number, load_release
from api.db import background, is_connection_failure, using
from api.db.listen import Listener

logger = logging.getLogger("heed.content")

POSTGRES_POLL_SECONDS = 30.0

try:  # glibc keeps freed memory mapped; malloc_trim gives it back to the system
    _malloc_trim: Callable[[int], int] | None = ctypes.CDLL(None).malloc_trim
except (OSError, AttributeError):  # another C library: nothing to trim
    _malloc_trim = None


class ReleaseFollower:
    def __init__(
        self,
        database: TortoiseContext,
        listener: Listener | None,
        on_release: Callable[[LiveRelease], None],
        *,
        default_locale: str,
        fallback: bool,
        poll_seconds: float,
    ) -> None:
        self._database = database
        self._listener = listener
        self._on_release = on_release
        self._default_locale = default_locale
        self._fallback = fallback
        self._poll_seconds = poll_seconds
        self._current: LiveRelease | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        if listener is not None:
            listener.listen(RELEASE_CHANNEL, self._notified, on_reconnect=self._refresh_logged)

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._poll_forever(), name="heed-release-poll")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> bool:
        """Load the latest release if it is newer than the one served; True if swapped."""
        async with self._lock:
            # A background worker's statements: not counted as the requests' it overlaps.
            with using(self._database), background():
                number = await latest_release_number()
                current = self._current
                if number is None or (current is not None and number == current.number):
                    return False
                release = await load_release(
                    number,
                    default_locale=self._default_locale,
                    fallback=self._fallback,
                    previous=current.catalog if current is not None else None,
                )
            if release is None:
                return False
            await asyncio.to_thread(release.catalog.warm)
            self._current = release
            self._on_release(release)
            # A release (items, search postings) is many long-lived objects; left to the
            # collector, every full pass walks them all and stalls requests (in profiles, for
            # 0.2 s before items became compact).
            gc.collect()
            gc.freeze()
            if _malloc_trim is not None:
                # the old release (unless a request still holds it) and the rows the new one
                # was read from are freed by now: without this the worker stays at its peak
                _malloc_trim(0)
            logger.info("serving release %s (%s items)", release.number, len(release.catalog))
            return True

    def _notified(self, _payload: str) -> None:
        task = asyncio.get_running_loop().create_task(self._refresh_logged())
        self._pending.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._pending.discard)

    async def _poll_forever(self) -> None:
        interval = POSTGRES_POLL_SECONDS if self._listener is not None else self._poll_seconds
        while True:
            await asyncio.sleep(interval)
            await self._refresh_logged()

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:
            if not is_connection_failure(exc):
                logger.exception("could not load the latest release")
            else:
                logger.warning("could not check for a new release: %s", exc)
