"""The server's own limits (`heed serve`'s uvicorn configuration): header size and count,
and one deadline for each request's headers and body."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from api.server import LimitedHttpToolsProtocol, uvicorn_options
from api.settings import Limits

LIMITS = Limits(read_timeout_seconds=1, max_header_bytes=4096, max_headers=20)


async def _ok(_: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _length(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


class _TestProtocol(LimitedHttpToolsProtocol):
    limits = LIMITS


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {**uvicorn_options(LIMITS), "http": _TestProtocol}
    config = uvicorn.Config(
        Starlette(
            routes=[
                Route("/", _ok),
                Route("/body", _length, methods=["POST"]),
                WebSocketRoute("/ws", _echo),
            ]
        ),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def _exchange(port: int, request: bytes, wait: float = 0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        if wait:
            await asyncio.sleep(wait)
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


def _request(*headers: str) -> bytes:
    lines = ["GET / HTTP/1.1", "Host: heed.test", *headers, "", ""]
    return "\r\n".join(lines).encode()


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async with serving() as port:
        yield port


async def test_an_ordinary_request_is_served(port: int) -> None:
    answer = await _exchange(port, _request("Accept: */*"))
    assert answer.startswith(b"HTTP/1.1 200")


async def test_too_many_headers_are_refused(port: int) -> None:
    answer = await _exchange(port, _request(*(f"X-H{i}: v" for i in range(200))))
    assert answer.startswith(b"HTTP/1.1 431")


async def test_an_oversized_header_is_refused(port: int) -> None:
    answer = await _exchange(port, _request("X-Big: " + "a" * 64_000))
    assert answer.startswith(b"HTTP/1.1 431")


async def test_a_huge_header_is_cut_off_without_reading_it_all(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: heed.test\r\nX-Big: ")
    sent = 0
    with contextlib.suppress(ConnectionError):
        while sent < 32 * 1024 * 1024:
            writer.write(b"a" * 65536)
            await writer.drain()
            sent += 65536
    answer = b""
    with contextlib.suppress(ConnectionError):
        answer = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 431") or answer == b""  # or reset after the answer
    assert sent < 32 * 1024 * 1024, "the server kept reading a 32 MB header"


async def test_slow_headers_are_timed_out(port: int) -> None:
    """A client trickling its headers is answered 408 and closed after the read timeout."""
    answer = await _exchange(port, b"GET / HTTP/1.1\r\nHost: heed.test\r\nX-Slow: ", wait=1.5)
    assert answer.startswith(b"HTTP/1.1 408")


async def test_keep_alive_requests_get_a_fresh_header_deadline(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(3):
            writer.write(_request())
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(65536), 5)
            assert answer.startswith(b"HTTP/1.1 200")
            await asyncio.sleep(0.6)  # under the deadline each time, over it in total
    finally:
        writer.close()


def _post(length: int) -> bytes:
    return f"POST /body HTTP/1.1\r\nHost: heed.test\r\nContent-Length: {length}\r\n\r\n".encode()


async def test_a_slow_body_is_timed_out(port: int) -> None:
    """The body shares its request's deadline: a client that sends a tenth of it and stops
    is answered 408 and closed."""
    answer = await _exchange(port, _post(100) + b"x" * 10, wait=1.5)
    assert answer.startswith(b"HTTP/1.1 408")
    assert answer.endswith(b"request body took too long")


async def test_a_body_sent_in_parts_within_the_deadline_is_read(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(2):  # and the next request on the connection gets its own deadline
            writer.write(_post(100) + b"x" * 50)
            await writer.drain()
            await asyncio.sleep(0.6)
            writer.write(b"x" * 50)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(65536), 5)
            assert answer.startswith(b"HTTP/1.1 200")
            assert answer.endswith(b"100")
    finally:
        writer.close()


async def test_a_websocket_outlives_the_request_deadline(port: int) -> None:
    """The deadline is for a request's headers and body: once upgraded, a WebSocket is
    bounded by its pings, not by it."""
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as socket:
        await asyncio.sleep(LIMITS.read_timeout_seconds + 0.5)
        await socket.send("still here")
        assert await asyncio.wait_for(socket.recv(), 5) == "still here"
