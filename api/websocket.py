"""GraphQL subscriptions over WebSocket (graphql-transport-ws, and the older graphql-ws).

Browsers cannot set headers on a WebSocket, so the bearer token may come in the handshake's
Authorization header or in the `connection_init` payload; a bad one closes the socket with
the protocol's 4403 before any subscription starts.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import HTTPConnection
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from api.auth import AuthError, MemberPrincipal, authenticate
from api.context import Context
from api.runtime import Runtime
from api.ws_protocols import (
    LegacyWSHandler,
    NamedRejectionAdapter,
    TransportWSHandler,
    refuse_with_reason,
)


class SubscriptionEndpoint(GraphQL):  # type: ignore[type-arg]
    websocket_adapter_class = NamedRejectionAdapter  # type: ignore[assignment]
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(
            runtime.schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        )
        self.runtime = runtime

    async def get_context(self, request: HTTPConnection, response: Any) -> Context:  # type: ignore[override]
        return Context(
            request=request,
            request_id=uuid.uuid4().hex,
            settings=self.runtime.settings,
            principal=None,
            member_ref=None,
            release=self.runtime.release,
            progress_hub=self.runtime.progress_hub,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:  # type: ignore[override]
        headers = {key.lower(): value for key, value in context.request.headers.items()}
        params = context.connection_params or {}
        token = params.get("Authorization") or params.get("authorization")
        if isinstance(token, str):
            headers["authorization"] = token
        try:
            principal = authenticate(headers, self.runtime.settings)
        except AuthError as exc:
            refuse_with_reason(context.request, exc.reason)
            raise ConnectionRejectionError({"message": exc.reason, "code": exc.code}) from None
        if not isinstance(principal, MemberPrincipal):
            refuse_with_reason(context.request, "subscriptions need a member's token")
            raise ConnectionRejectionError({"message": "subscriptions need a member's token"})
        context.principal = principal
        context.member_ref = await self.runtime.members.ensure(principal)
        context.loaders = context.fresh_loaders()
        return UNSET
