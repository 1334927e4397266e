"""Webhook endpoints for the admin key: parse input, call one use case, shape the answer."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from api.auth import AdminPrincipal
from api.context import Context
from api.events import endpoints, store
from api.events.catalogue import EventType, catalogue
from api.events.endpoints import EndpointError, EndpointView

MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass
class UserErrorObject:
    code: str
    message: str
    field: list[str]
    roles: list[str] = field(default_factory=list)
    candidates: list[Any] = field(default_factory=list)


@dataclass
class EndpointPayloadObject:
    endpoint: EndpointView | None
    secret: str | None
    user_errors: list[UserErrorObject]


@dataclass
class ReplayPayloadObject:
    queued: int
    user_errors: list[UserErrorObject]


@dataclass
class DeliveryObject:
    id: str
    event_id: str
    event_type: str
    attempt: int
    succeeded: bool
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


@dataclass
class PageInfoObject:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@dataclass
class EdgeObject:
    cursor: str
    node: DeliveryObject


@dataclass
class ConnectionObject:
    edges: list[EdgeObject]
    page_info: PageInfoObject


class AdminKeyRequired(GraphQLError):
    def __init__(self) -> None:
        super().__init__("webhook endpoints need the admin key", extensions={"code": "FORBIDDEN"})


def _scope(context: Context) -> str | None:
    """The organization the admin acts for; members may not manage webhooks."""
    if not isinstance(context.principal, AdminPrincipal):
        raise EndpointError("FORBIDDEN", "webhook endpoints need the admin key")
    return context.principal.organization_id


def _error(error: EndpointError) -> UserErrorObject:
    return UserErrorObject(error.code, error.message, list(error.field))


async def webhook_endpoints(context: Context) -> list[EndpointView]:
    if not isinstance(context.principal, AdminPrincipal):
        raise AdminKeyRequired
    return await endpoints.list_endpoints(context.principal.organization_id)


def event_types() -> list[EventType]:
    return list(catalogue().values())


async def create_endpoint(
    context: Context,
    url: str,
    events: Sequence[str],
    organization_id: str | None,
    description: str | None,
) -> EndpointPayloadObject:
    try:
        endpoint, secret = await endpoints.create(
            context.settings, _scope(context), url, events, organization_id, description
        )
    except EndpointError as error:
        return EndpointPayloadObject(None, None, [_error(error)])
    return EndpointPayloadObject(endpoint, secret, [])


async def update_endpoint(
    context: Context,
    endpoint_id: str,
    url: str | None,
    events: Sequence[str] | None,
    description: str | None,
    enabled: bool | None,
) -> EndpointPayloadObject:
    try:
        endpoint = await endpoints.update(
            context.settings,
            _scope(context),
            endpoint_id,
            url=url,
            events=events,
            description=description,
            enabled=enabled,
        )
    except EndpointError as error:
        return EndpointPayloadObject(None, None, [_error(error)])
    return EndpointPayloadObject(endpoint, None, [])


async def rotate_secret(
    context: Context, endpoint_id: str, overlap_seconds: int | None
) -> EndpointPayloadObject:
    try:
        endpoint, secret = await endpoints.rotate_secret(
            context.settings, _scope(context), endpoint_id, overlap_seconds
        )
    except EndpointError as error:
        return EndpointPayloadObject(None, None, [_error(error)])
    return EndpointPayloadObject(endpoint, secret, [])


async def delete_endpoint(context: Context, endpoint_id: str) -> EndpointPayloadObject:
    try:
        endpoint = await endpoints.delete(_scope(context), endpoint_id)
    except EndpointError as error:
        return EndpointPayloadObject(None, None, [_error(error)])
    return EndpointPayloadObject(endpoint, None, [])


async def replay(
    context: Context,
    delivery_id: str | None,
    endpoint_id: str | None,
    since: dt.datetime | None,
) -> ReplayPayloadObject:
    try:
        queued = await endpoints.replay(
            _scope(context), delivery_id=delivery_id, endpoint_id=endpoint_id, since=since
        )
    except EndpointError as error:
        return ReplayPayloadObject(0, [_error(error)])
    return ReplayPayloadObject(queued, [])


async def deliveries(
    endpoint: EndpointView, first: int | None, after: str | None
) -> ConnectionObject:
    """The endpoint's delivery log, newest first."""
    size = DEFAULT_PAGE if first is None else first
    if not 0 <= size <= MAX_PAGE:
        raise GraphQLError(f"first must be 0 to {MAX_PAGE}", extensions={"code": "BAD_REQUEST"})
    rows = await store.deliveries(endpoint.pk, size + 1, _cursor_pk(after))
    page = rows[:size]
    edges = [EdgeObject(_cursor(row.pk), _delivery(row)) for row in page]
    return ConnectionObject(
        edges,
        PageInfoObject(
            has_next_page=len(rows) > size,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def _delivery(row: store.DeliveryRow) -> DeliveryObject:
    delivered = (
        row.created_at + dt.timedelta(milliseconds=row.latency_ms or 0) if row.succeeded else None
    )
    return DeliveryObject(
        row.id,
        row.event_id,
        row.event_type,
        row.attempt,
        row.succeeded,
        row.status_code,
        row.latency_ms,
        row.error,
        row.response,
        row.created_at,
        delivered,
    )


def _cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"delivery:{pk}".encode()).decode()


def _cursor_pk(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        kind, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "delivery" and pk.isdigit():
            return int(pk)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise GraphQLError(
        "after is not a cursor from this connection", extensions={"code": "BAD_REQUEST"}
    )
