"""Heed's additions to strawberry's two WebSocket protocol handlers.

- A socket refused at `connection_init` closes with 4403 and a reason naming the problem
  ("Forbidden: token expired"), not only "Forbidden".
- Running operations are counted for `/metrics` (`heed_open_subscriptions`).
- With trusted documents on, a subscription's document must be in the manifest too.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from api.persisted import PersistedDocumentError

CLOSE_REASON_BYTES = 123  # the WebSocket protocol's limit for a close reason


def refuse_with_reason(connection: HTTPConnection, reason: str) -> None:
    """Record why a connection is refused; the 4403 close will carry it."""
    connection.state.rejection = reason


class NamedRejectionAdapter(ASGIWebSocketAdapter):
    async def close(self, code: int, reason: str) -> None:
        if code == 4403:
            why = getattr(self.ws.state, "rejection", None)
            if why:
                reason = f"Forbidden: {why}".encode()[:CLOSE_REASON_BYTES].decode(errors="ignore")
        await super().close(code, reason)


class _Observed:
    """Registers the handler with the worker's metrics while its socket is open."""

    view: Any

    async def handle(self) -> None:
        live = self.view.runtime.metrics.subscriptions
        live.add(self)
        try:
            await super().handle()  # type: ignore[misc]
        finally:
            live.discard(self)

    def untrusted(self, query: Any) -> str | None:
        """Why a document may not run, when trusted documents are on."""
        try:
            self.view.runtime.documents.resolve({"query": query})
        except PersistedDocumentError as exc:
            return exc.message
        return None


class TransportWSHandler(_Observed, BaseGraphQLTransportWSHandler[Any, None]):
    async def handle_subscribe(self, message: Any) -> None:
        refusal = self.untrusted(message.get("payload", {}).get("query"))
        if refusal is not None and self.connection_acknowledged:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [{"message": refusal}]}
            )
            return
        await super().handle_subscribe(message)


class LegacyWSHandler(_Observed, BaseGraphQLWSHandler[Any, None]):
    async def handle_start(self, message: Any) -> None:
        refusal = self.untrusted(message.get("payload", {}).get("query"))
        if refusal is not None and self.connection_acknowledged:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": {"message": refusal}}
            )
            return
        await super().handle_start(message)
