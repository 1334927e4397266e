"""The WebSocket transport held to the HTTP one's rules.

Everything the schema enforces (depth, aliases, tokens, cost, literal and typed variable
bounds, masked errors) applies by itself, since operations over a socket run through the same
schema. What the HTTP edge does around execution is done here too: a maximum message size,
variables checked before execution, the same rate limits (address and failed authentication
at `connection_init`, member and organization per operation, invitations), a cap on sockets
per member (and, through strawberry, on operations per socket), and a close code instead of a
dropped socket when something unexpected happens while connecting.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from graphql import GraphQLError, parse
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from api.auth import MemberPrincipal
from api.db import is_connection_failure
from api.faults import HEALTH, described, unexpected_message
from api.limits import InputRejected, check_variables
from api.ratelimit import RateLimited, client_address

logger = logging.getLogger("heed.websocket")

CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013
CLOSE_TOO_MANY = 4429


class SocketCounts:
    """Open, acknowledged sockets per member of this worker."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[tuple[str, str]] = Counter()

    def admit(self, member: tuple[str, str]) -> bool:
        if self._open[member] >= self.limit:
            return False
        self._open[member] += 1
        return True

    def release(self, member: tuple[str, str]) -> None:
        self._open[member] -= 1
        if self._open[member] <= 0:
            del self._open[member]


class LimitedWebSocketAdapter(ASGIWebSocketAdapter):
    """Closes the socket (1009) on a message over the HTTP body limit, before parsing it."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object]:
        limit = self.view.runtime.settings.limits.max_body_bytes  # type: ignore[attr-defined]
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is None:
                    raise NonTextMessageReceived
                if len(text) > limit:
                    await self.close(CLOSE_TOO_BIG, f"message larger than {limit} bytes")
                    return
                try:
                    decoded = self.view.decode_json(text)
                except (ValueError, RecursionError) as exc:
                    # RecursionError: 100,000 nested brackets fit in a message.
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
                    continue
                yield decoded
        except WebSocketDisconnect:
            return


class _Guard:
    """What both protocols' handlers share; mixed in before strawberry's handler class."""

    view: Any
    context: Any
    websocket: Any
    _admitted: tuple[str, str] | None = None
    _refused = False  # over the socket cap: closed, and nothing more is run

    async def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.websocket.close(4400, "a message must be a JSON object with a 'type'")
            return
        if "id" in message and not isinstance(message["id"], str):
            await self.websocket.close(4400, "'id' must be a string")
            return
        await super().handle_message(message)  # type: ignore[misc]

    @property
    def _runtime(self) -> Any:
        return self.view.runtime

    def _address(self) -> str:
        request = self.context.request
        peer = request.client.host if request.client else None
        forwarded = request.headers.get("x-forwarded-for")
        return client_address(peer, forwarded, self._runtime.settings.trusted_proxies)

    async def _connect(self, connect: Any, message: Any) -> bool:
        """Runs strawberry's connection_init handling within the limits; False if the socket
        was closed instead."""
        limiter = self._runtime.limiter
        address = self._address()
        try:
            limiter.before_authentication(address)
        except RateLimited as exc:
            await self.websocket.close(CLOSE_TOO_MANY, exc.message[:120])
            return False
        try:
            await connect(message)
        except Exception as exc:
            if is_connection_failure(exc):
                HEALTH.failed(exc)
                await self.websocket.close(CLOSE_TRY_AGAIN, "database unavailable, retry shortly")
            else:
                logger.error(
                    "unexpected error while connecting (%s)\n%s",
                    self.context.request_id,
                    described(exc),
                )
                await self.websocket.close(
                    CLOSE_INTERNAL, unexpected_message(self.context.request_id)
                )
            return False
        if self.context.principal is None:
            limiter.failed_authentication(address)
        return True

    async def _admit_socket(self) -> bool:
        """At acknowledgement: within the member's socket cap, or closed with 4429."""
        principal = self.context.principal
        if not isinstance(principal, MemberPrincipal) or self._admitted is not None:
            return True
        member = (principal.organization_id, principal.member_id)
        sockets: SocketCounts = self.view.sockets
        if not sockets.admit(member):
            self._refused = True
            await self.websocket.close(
                CLOSE_TOO_MANY, f"at most {sockets.limit} open sockets per member"
            )
            return False
        self._admitted = member
        return True

    def _release_socket(self) -> None:
        if self._admitted is not None:
            self.view.sockets.release(self._admitted)
            self._admitted = None

    def _operation_error(self, payload: object) -> dict[str, Any] | None:
        """Why an operation is refused before execution (as a GraphQL error), or None."""
        if not isinstance(payload, Mapping) or not isinstance(payload.get("query"), str):
            return _error("the payload must be an object with a 'query' string", "BAD_REQUEST")
        variables = payload.get("variables")
        operation_name = payload.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            return _error("'variables' must be an object", "BAD_REQUEST")
        if operation_name is not None and not isinstance(operation_name, str):
            return _error("'operationName' must be a string", "BAD_REQUEST")
        syntax_error = _syntax_error(payload["query"], self._runtime.settings.limits.max_tokens)
        if syntax_error is not None:
            return _error(syntax_error, "GRAPHQL_PARSE_FAILED")
        try:
            check_variables(variables, self._runtime.settings.limits)
            self._runtime.limiter.after_authentication(
                self.context.principal, payload["query"], operation_name
            )
        except InputRejected as exc:
            return _error(str(exc), "BAD_USER_INPUT")
        except RateLimited as exc:
            return _error(exc.message, "RATE_LIMITED", retryAfter=exc.retry_after)
        return None


@functools.lru_cache(maxsize=256)
def _syntax_error(query: str, max_tokens: int) -> str | None:
    """Strawberry lets a syntax error escape a socket's operation task (logged as a crash, the
    client gets a bare `complete`): found here first, it is an error message like over HTTP."""
    try:
        parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError as exc:
        return exc.message
    return None


def _error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


class GuardedTransportWSHandler(_Guard, BaseGraphQLTransportWSHandler):  # type: ignore[type-arg]
    """graphql-transport-ws."""

    async def handle_connection_init(self, message: Any) -> None:
        await self._connect(super().handle_connection_init, message)

    async def send_message(self, message: Any) -> None:
        if message.get("type") == "connection_ack" and not await self._admit_socket():
            return
        await super().send_message(message)

    async def handle_subscribe(self, message: Any) -> None:
        if self._refused:
            return
        if self.connection_acknowledged and isinstance(message.get("id"), str):
            error = self._operation_error(message.get("payload"))
            if error is not None:
                await self.send_message({"id": message["id"], "type": "error", "payload": [error]})
                return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            self._release_socket()


class GuardedWSHandler(_Guard, BaseGraphQLWSHandler):  # type: ignore[type-arg]
    """The older graphql-ws protocol."""

    async def handle_connection_init(self, message: Any) -> None:
        await self._connect(super().handle_connection_init, message)

    async def send_message(self, message: Any) -> None:
        if message.get("type") == "connection_ack" and not await self._admit_socket():
            return
        await super().send_message(message)

    async def handle_start(self, message: Any) -> None:
        if self._refused:
            return
        if self.connection_acknowledged:
            error = self._operation_error(message.get("payload"))
            if error is not None:
                await self.send_message(
                    {"type": "error", "id": message.get("id"), "payload": error}
                )
                return
        await super().handle_start(message)

    async def cleanup(self) -> None:
        try:
            await super().cleanup()
        finally:
            self._release_socket()
