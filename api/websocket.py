"""GraphQL subscriptions over WebSocket (graphql-transport-ws, and the older graphql-ws).

Browsers cannot set headers on a WebSocket, so the bearer token may come in the handshake's
Authorization header or in the `connection_init` payload; a bad one closes the socket with
the protocol's 4403 before any subscription starts.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from api.auth import AuthError
from api.context import Context
from api.runtime import Runtime
from api.ws_limits import (
    GuardedTransportWSHandler,
    GuardedWSHandler,
    LimitedWebSocketAdapter,
    SocketCounts,
)
from api.ws_protocols import (
    LegacyWSHandler,
    NamedRejectionAdapter,
    TransportWSHandler,
    refuse_with_reason,
)


class WebSocketAdapter(LimitedWebSocketAdapter, NamedRejectionAdapter):
    """Messages bounded as HTTP bodies are (api.ws_limits); a refusal says why."""


class TransportHandler(GuardedTransportWSHandler, TransportWSHandler):  # type: ignore[misc]
    """graphql-transport-ws held to the HTTP rules, observed for metrics, trusted documents."""


class LegacyHandler(GuardedWSHandler, LegacyWSHandler):  # type: ignore[misc]
    """The same for the older graphql-ws protocol."""


class SubscriptionEndpoint(GraphQL):  # type: ignore[type-arg]
    websocket_adapter_class = WebSocketAdapter  # type: ignore[assignment]
    graphql_transport_ws_handler_class = TransportHandler
    graphql_ws_handler_class = LegacyHandler

    def __init__(self, runtime: Runtime) -> None:
        limits = runtime.settings.limits
        super().__init__(
            runtime.schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            max_subscriptions_per_connection=limits.max_subscriptions_per_socket,
        )
        self.runtime = runtime
        self.sockets = SocketCounts(limits.max_sockets_per_member)

    async def get_context(self, request: HTTPConnection, response: Any) -> Context:  # type: ignore[override]
        """Signed in by `on_ws_connect`, once the token may have arrived."""
        return Context(request, self.runtime)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:  # type: ignore[override]
        headers = {key.lower(): value for key, value in context.request.headers.items()}
        params = context.connection_params or {}
        token = params.get("Authorization") or params.get("authorization")
        if isinstance(token, str):
            headers["authorization"] = token
        try:
            await context.sign_in(headers)
        except AuthError as exc:
            refuse_with_reason(context.request, exc.reason)
            raise ConnectionRejectionError({"message": exc.reason, "code": exc.code}) from None
        if context.member is None:
            refuse_with_reason(context.request, "subscriptions need a member's token")
            raise ConnectionRejectionError({"message": "subscriptions need a member's token"})
        return UNSET
