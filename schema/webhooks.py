"""Outgoing webhooks: endpoints, their delivery log and the event catalogue (admin key)."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON

from resolvers import webhooks as resolve
from schema.content import PageInfo
from schema.errors import UserError


@strawberry.type(description="One attempt to send one event to one endpoint.")
class WebhookDelivery:
    id: strawberry.ID
    event_id: str = strawberry.field(
        description="The webhook-id the receiver saw: the same on every attempt and replay."
    )
    event_type: str
    attempt: int
    succeeded: bool
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response: str | None = strawberry.field(description="The first bytes of the answer.")
    created_at: dt.datetime
    delivered_at: dt.datetime | None


@strawberry.type(description="A delivery, with the cursor to continue after it.")
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type(description="A Relay connection over an endpoint's deliveries, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo


@strawberry.type(description="A URL that receives signed events (Standard Webhooks).")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    events: list[str] = strawberry.field(description='Event types it receives ("*": all).')
    organization_id: strawberry.ID | None = strawberry.field(
        description="Only this organization's events; null: every organization's."
    )
    description: str | None
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why it is disabled: by an admin, or after failing for too long."
    )
    previous_secret_expires_at: dt.datetime | None = strawberry.field(
        description="Until then, the secret before the last rotation also signs."
    )
    created_at: dt.datetime

    @strawberry.field(description="The delivery log, newest first.")
    async def deliveries(
        self, first: int | None = None, after: str | None = None
    ) -> WebhookDeliveryConnection:
        return await resolve.deliveries(self, first, after)  # type: ignore[arg-type,return-value]


@strawberry.type(description="An event type of the catalogue, with its payload's JSON Schema.")
class WebhookCatalogueEntry:
    name: str
    description: str
    schema: JSON


@strawberry.type(description="An endpoint after a change; its secret only when just made.")
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(
        description="The signing secret (whsec_...): returned once, on create and rotate."
    )
    user_errors: list[UserError]


@strawberry.type(description="How many deliveries were queued again.")
class ReplayWebhookDeliveriesPayload:
    queued: int = strawberry.field(description="How many messages were queued again.")
    user_errors: list[UserError]


@strawberry.input(description="A new endpoint: where, which event types, for which organization.")
class CreateWebhookEndpointInput:
    url: str
    events: list[str]
    organization_id: strawberry.ID | None = None
    description: str | None = None


@strawberry.input(description="Only the fields given change; enabled: true also re-enables.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    events: list[str] | None = None
    description: str | None = None
    enabled: bool | None = None


@strawberry.input(description="One delivery (deliveryId), or an endpoint's events since a time.")
class ReplayWebhookDeliveriesInput:
    delivery_id: strawberry.ID | None = None
    endpoint_id: strawberry.ID | None = None
    since: dt.datetime | None = None


@strawberry.type
class WebhooksQuery:
    @strawberry.field(description="Webhook endpoints (admin key).")
    async def webhook_endpoints(self, info: strawberry.Info) -> list[WebhookEndpoint]:
        return await resolve.webhook_endpoints(info.context)  # type: ignore[return-value]

    @strawberry.field(description="The event catalogue: every type a webhook can carry.")
    def webhook_event_types(self) -> list[WebhookCatalogueEntry]:
        return resolve.event_types()  # type: ignore[return-value]


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(description="Add an endpoint; the payload holds its secret, once.")
    async def create_webhook_endpoint(
        self, info: strawberry.Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        return await resolve.create_endpoint(  # type: ignore[return-value]
            info.context, input.url, input.events, input.organization_id, input.description
        )

    @strawberry.mutation(description="Change an endpoint, disable it or enable it again.")
    async def update_webhook_endpoint(
        self, info: strawberry.Info, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        return await resolve.update_endpoint(  # type: ignore[return-value]
            info.context, input.id, input.url, input.events, input.description, input.enabled
        )

    @strawberry.mutation(
        description="A new secret; the old one still signs for overlapSeconds (default: a day)."
    )
    async def rotate_webhook_secret(
        self, info: strawberry.Info, id: strawberry.ID, overlap_seconds: int | None = None
    ) -> WebhookEndpointPayload:
        return await resolve.rotate_secret(info.context, id, overlap_seconds)  # type: ignore[return-value]

    @strawberry.mutation(description="Remove an endpoint with its queue and delivery log.")
    async def delete_webhook_endpoint(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> WebhookEndpointPayload:
        return await resolve.delete_endpoint(info.context, id)  # type: ignore[return-value]

    @strawberry.mutation(description="Send one delivery again, or every event since a time.")
    async def replay_webhook_deliveries(
        self, info: strawberry.Info, input: ReplayWebhookDeliveriesInput
    ) -> ReplayWebhookDeliveriesPayload:
        return await resolve.replay(  # type: ignore[return-value]
            info.context, input.delivery_id, input.endpoint_id, input.since
        )
