"""The webhook receiver of the `complete_step_webhook` scenario, and its subscription.

A bare HTTP/1.1 server on its own thread (wrk blocks the benchmark's event loop) that answers
every POST with 204 at the least cost, so the figure is Heed's delivery work, not the
receiver's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator

from api.db import open_database, using
from api.events import endpoints
from api.settings import Settings
from bench.server import free_port

NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.received = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._serve, name="bench-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for writer in self._writers:
            writer.close()  # each connection then reads its end and returns
        self._loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(self._loop)))
        self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                self.received += 1
                writer.write(NO_CONTENT)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver._thread.start()
    receiver._ready.wait(10)
    try:
        yield receiver
    finally:
        receiver._loop.call_soon_threadsafe(receiver._loop.stop)
        receiver._thread.join(10)


@contextlib.asynccontextmanager
async def webhook_endpoint(env: dict[str, str], wanted: bool) -> AsyncIterator[Receiver | None]:
    """When `wanted`, a receiver and one endpoint for the step events of every
    organization while the block runs."""
    if not wanted:
        yield None
        return
    with receiving() as receiver:
        async with _subscribed(env, receiver.url):
            yield receiver


@contextlib.asynccontextmanager
async def _subscribed(env: dict[str, str], url: str) -> AsyncIterator[None]:
    settings = Settings.from_env(env)
    database = await open_database(settings.database_url, migrate=False)
    try:
        with using(database):
            endpoint, _ = await endpoints.create(
                settings, None, url, ["step.completed", "step.reopened"], None, "bench"
            )
        try:
            yield
        finally:
            with using(database):
                await endpoints.delete(None, endpoint.id)
    finally:
        await database.close_connections()
