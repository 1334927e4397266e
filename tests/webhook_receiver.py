"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 on a free port.

It verifies every request with the `standardwebhooks` package, as a host product would,
records what arrived, and answers as the test tells it (status codes in turn, a
Retry-After, or holding requests until released, like a slow receiver).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any]
    status: int

    @property
    def type(self) -> str:
        return self.payload["type"]  # type: ignore[no-any-return]

    @property
    def data(self) -> dict[str, Any]:
        return self.payload["data"]  # type: ignore[no-any-return]


@dataclass
class Receiver:
    port: int
    base: str = "http://127.0.0.1"
    secrets: list[str] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)  # verified requests, in order
    refused: list[str] = field(default_factory=list)  # webhook-ids that failed verification
    statuses: list[int] = field(default_factory=list)  # answers to give first, in turn
    retry_after: str | None = None
    hold: asyncio.Event | None = None  # set: requests wait for it before answering
    in_flight: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"{self.base}:{self.port}/hooks"

    @property
    def received(self) -> list[Received]:
        """Requests verified and accepted (answered 2xx), duplicates included."""
        return [r for r in self.requests if 200 <= r.status < 300]

    def delivered(self) -> list[Received]:
        """Each accepted webhook-id once (receivers drop duplicates by it), in first order."""
        seen: dict[str, Received] = {}
        for item in self.received:
            seen.setdefault(item.webhook_id, item)
        return list(seen.values())

    async def wait_for(self, count: int, within: float = 30.0) -> list[Received]:
        """Wait until `count` distinct messages arrived (a bound for a hung test only)."""
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(lambda: len(self.delivered()) >= count)
        return self.delivered()

    async def wait_requests(self, count: int, within: float = 30.0) -> None:
        """Wait until `count` requests (verified or not, answered or not) came in."""
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(
                lambda: len(self.requests) + len(self.refused) + self.in_flight >= count
            )

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        payload = None
        for secret in self.secrets:
            with contextlib.suppress(WebhookVerificationError):
                payload = Webhook(secret).verify(body, headers)
                break
        async with self.changed:
            if payload is None:
                self.refused.append(headers.get("webhook-id", ""))
            self.in_flight += 1
            self.changed.notify_all()
        status = 503
        try:
            if self.hold is not None:
                await self.hold.wait()
            status = self.statuses.pop(0) if self.statuses else 200
        finally:
            async with self.changed:
                self.in_flight -= 1
                if payload is not None:
                    received = Received(
                        headers["webhook-id"], headers, body, orjson.loads(body), status
                    )
                    self.requests.append(received)
                self.changed.notify_all()
        extra = {"retry-after": self.retry_after} if self.retry_after else {}
        return Response(b"ok" if status < 300 else b"no", status_code=status, headers=extra)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def receiving(
    port: int | None = None, *secrets: str, tls: tuple[Path, Path] | None = None
) -> AsyncIterator[Receiver]:
    """A receiver listening until the block ends; with `tls` (key and certificate files for
    `localhost`), over https://localhost."""
    receiver = Receiver(port or free_port(), "https://localhost" if tls else "http://127.0.0.1")
    receiver.secrets = list(secrets)
    app = Starlette(routes=[Route("/hooks", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=receiver.port,
            log_level="warning",
            lifespan="off",
            ssl_keyfile=str(tls[0]) if tls else None,
            ssl_certfile=str(tls[1]) if tls else None,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.should_exit = True
        await task
