"""The HTTP server's own limits, for `heed serve` (uvicorn with httptools).

Uvicorn bounds neither the size nor the number of request headers with httptools, and closes
an idle keep-alive connection but not one that trickles its headers or body. This protocol
adds both bounds (`431`) and one deadline for each request's headers and body (`408`): one
timer per request, where a timeout in the application would arm a second one. Concurrency,
WebSocket message size and keep-alive are uvicorn settings, set in `uvicorn_options`.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import Limits, Settings

KEEP_ALIVE_SECONDS = 5


@functools.cache
def _environment_limits() -> Limits:
    return Settings.from_env().limits


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits: Limits | None = None  # None: from the environment, as each worker process reads it

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._limits = self.limits or _environment_limits()
        self._deadline: asyncio.TimerHandle | None = None
        self._await_headers()

    def _await_headers(self) -> None:
        self._received_bytes = 0  # request line, headers and whatever body came with them
        self._header_bytes = 0  # names and values, as parsed
        self._header_count = 0
        self._reading_headers = True
        self._reading_body = False
        self._refused = False
        self._cancel_deadline()
        self._deadline = self.loop.call_later(self._limits.read_timeout_seconds, self._too_slow)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        """The request did not arrive in time. One whose body was awaited is already running:
        closing the connection ends it (its reads see the client gone, its answer goes
        nowhere)."""
        if self.transport.is_closing():
            return
        if self._reading_headers:
            self._refuse(408, "Request Timeout", "request headers took too long")
        elif self._reading_body:
            self._refuse(408, "Request Timeout", "request body took too long")

    def _refuse(self, status: int, reason: str, message: str) -> None:
        self._refused = True
        self._reading_headers = False
        self._cancel_deadline()
        body = message.encode()
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._reading_headers:
            self._received_bytes += len(data)
            if self._received_bytes > self._limits.max_header_bytes + self._limits.max_body_bytes:
                # A request line and headers that are not done after this many bytes are over
                # the header limit whatever the body: checked again exactly when they end.
                self._refuse(431, "Request Header Fields Too Large", "request headers too large")
                return
        super().data_received(data)

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        if self._refused or self._header_count > self._limits.max_headers:
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_headers = False  # the deadline runs on while the body arrives
        size = self._header_bytes + len(self.url)
        if self._header_count > self._limits.max_headers:
            self._refuse(
                431,
                "Request Header Fields Too Large",
                f"more than {self._limits.max_headers} request headers",
            )
            return
        if size > self._limits.max_header_bytes:
            self._refuse(
                431,
                "Request Header Fields Too Large",
                f"request headers over {self._limits.max_header_bytes} bytes",
            )
            return
        self._reading_body = True
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._reading_body:  # not a request answered before its body was read
            self._reading_body = False
            self._cancel_deadline()
        if not self._refused:
            super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)


def uvicorn_options(limits: Limits) -> dict[str, Any]:
    """Server settings that go with Heed's limits (documented in the README, Limits)."""
    return {
        "http": "api.server:LimitedHttpToolsProtocol",
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "ws_max_size": limits.max_body_bytes,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        "backlog": 2048,
    }
