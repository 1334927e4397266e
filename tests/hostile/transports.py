"""Sending one GraphQL request over HTTP or over WebSocket (graphql-transport-ws), and reading
back a comparable outcome, so that every hostile input is tried on both transports."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette


@dataclass
class Outcome:
    transport: str
    status: int | None = None  # HTTP status
    close_code: int | None = None  # WebSocket close code, when the server closed it
    errors: list[dict[str, Any]] = field(default_factory=list)
    data: Any = None
    text: str = ""

    @property
    def codes(self) -> list[str]:
        return [str((error.get("extensions") or {}).get("code")) for error in self.errors]

    def assert_not_a_crash(self) -> None:
        assert self.status is None or self.status < 500 or self.status == 503, self
        assert "INTERNAL_SERVER_ERROR" not in self.codes, self
        assert "Traceback" not in self.text, self
        assert self.close_code not in (1006, 1011), self  # dropped, or an internal error

    def assert_refused(self) -> None:
        """A clear client error: a 4xx, a GraphQL error, a close code, or userErrors."""
        self.assert_not_a_crash()
        user_errors = _user_errors(self.data)
        assert (
            (self.status is not None and 400 <= self.status < 500)
            or self.errors
            or (self.close_code is not None and self.close_code >= 4000)
            or user_errors
        ), self


def _user_errors(data: Any) -> list[Any]:
    if not isinstance(data, dict):
        return []
    found: list[Any] = []
    for value in data.values():
        if isinstance(value, dict) and value.get("userErrors"):
            found.extend(value["userErrors"])
    return found


async def over_http(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None,
    headers: dict[str, str],
    *,
    raw_body: bytes | None = None,
) -> Outcome:
    body = raw_body
    if body is None:
        # The standard library writes what orjson refuses (2^64, 255 levels): hostile input.
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
    response = await client.post(
        "/graphql", content=body, headers={**headers, "content-type": "application/json"}
    )
    outcome = Outcome("http", status=response.status_code, text=response.text)
    with contextlib.suppress(ValueError):
        parsed = response.json()
        outcome.errors = parsed.get("errors") or []
        outcome.data = parsed.get("data")
    return outcome


async def over_websocket(
    app: Starlette,
    query: str,
    variables: dict[str, Any] | None,
    headers: dict[str, str],
    *,
    raw_message: str | None = None,
) -> Outcome:
    """Token in connection_init, one `subscribe` for the operation, its first answer."""
    outcome = Outcome("ws")
    transport = ASGIWebSocketTransport(app=app)
    try:
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://heed.test") as client,
            aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as socket,
        ):
            await socket.send_json({"type": "connection_init", "payload": dict(headers)})
            ack = await socket.receive_json(timeout=10)
            assert ack["type"] == "connection_ack", ack
            message = raw_message or json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
            await socket.send_text(message)
            answer = await socket.receive_json(timeout=10)
            outcome.text = orjson.dumps(answer).decode()
            if answer["type"] == "error":
                outcome.errors = answer["payload"]
            elif answer["type"] == "next":
                outcome.errors = answer["payload"].get("errors") or []
                outcome.data = answer["payload"].get("data")
    except (WebSocketDisconnect, BaseExceptionGroup) as exc:
        closed = _disconnect(exc)
        if closed is None:
            raise
        outcome.close_code = closed.code
        outcome.text = closed.reason or ""
    return outcome


def _disconnect(exc: BaseException) -> WebSocketDisconnect | None:
    """The server's close, also when httpx-ws's task group wraps it."""
    if isinstance(exc, WebSocketDisconnect):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _disconnect(inner)
            if found is not None:
                return found
    return None


async def send(
    transport: str,
    app: Starlette,
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None,
    headers: dict[str, str],
) -> Outcome:
    if transport == "http":
        return await over_http(client, query, variables, headers)
    return await over_websocket(app, query, variables, headers)
