"""Managing webhook endpoints: the use cases behind the GraphQL mutations and `heed webhooks`.

Callers hold the admin key; `scope` is the organization an admin acts for (the
X-Heed-Organization header), who then sees and creates only that organization's endpoints.
Expected failures raise `EndpointError` with a code, never a half-made endpoint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from api.db.models import Organization, WebhookEndpoint
from api.events import store
from api.events.catalogue import ALL_TYPES, catalogue
from api.events.signing import new_secret
from api.events.urls import UrlRefused, resolve
from api.settings import Settings

MAX_DESCRIPTION = 500
MAX_EVENT_TYPES = 64


class EndpointError(Exception):
    def __init__(self, code: str, message: str, field: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = tuple(field)


@dataclass(frozen=True)
class EndpointView:
    pk: int
    id: str
    url: str
    events: tuple[str, ...]
    organization_id: str | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    previous_secret_expires_at: dt.datetime | None
    created_at: dt.datetime


def view(endpoint: WebhookEndpoint) -> EndpointView:
    organization = endpoint.organization if endpoint.organization_id else None  # type: ignore[attr-defined]
    return EndpointView(
        pk=endpoint.id,
        id=endpoint.public_id,
        url=endpoint.url,
        events=tuple(endpoint.events),
        organization_id=organization.external_id if organization else None,
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
        created_at=endpoint.created_at,
    )


async def scope_pk(organization_id: str | None) -> int | None:
    """The acting organization's key; -1 (matching nothing) when it was never seen."""
    if organization_id is None:
        return None
    found = await Organization.filter(external_id=organization_id).values_list("id", flat=True)
    return found[0] if found else -1


async def list_endpoints(scope: str | None) -> list[EndpointView]:
    return [view(e) for e in await store.list_endpoints(await scope_pk(scope))]


async def create(
    settings: Settings,
    scope: str | None,
    url: str,
    events: Sequence[str],
    organization_id: str | None,
    description: str | None,
) -> tuple[EndpointView, str]:
    """The new endpoint and its signing secret (shown this once)."""
    if scope is not None and organization_id not in (None, scope):
        raise EndpointError(
            "FORBIDDEN",
            "acting for one organization, an endpoint can only be for that organization",
            ("input", "organizationId"),
        )
    organization_id = organization_id if organization_id is not None else scope
    if organization_id is not None and not 0 < len(organization_id) <= 128:
        raise EndpointError(
            "INVALID_INPUT",
            "organizationId must be 1 to 128 characters",
            ("input", "organizationId"),
        )
    checked_events = _event_types(events)
    checked_description = _description(description)
    await _check_url(url, settings)
    organization = await store.organization_pk(organization_id) if organization_id else None
    secret = new_secret()
    endpoint = await store.create_endpoint(
        url, checked_events, organization, checked_description, secret
    )
    return view(endpoint), secret


async def update(
    settings: Settings,
    scope: str | None,
    endpoint_id: str,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> EndpointView:
    endpoint = await _endpoint(scope, endpoint_id)
    changes: dict[str, object] = {}
    if url is not None:
        await _check_url(url, settings)
        changes["url"] = url
    checked_events = _event_types(events) if events is not None else None
    if checked_events is not None:
        changes["events"] = list(checked_events)
    if description is not None:
        changes["description"] = _description(description)
    if enabled is True:
        changes.update(enabled=True, disabled_reason=None, failing_since=None)
    elif enabled is False and endpoint.enabled:
        changes.update(enabled=False, disabled_reason="disabled by an admin")
    return view(await store.update_endpoint(endpoint, changes, checked_events))


async def rotate_secret(
    settings: Settings, scope: str | None, endpoint_id: str, overlap_seconds: int | None
) -> tuple[EndpointView, str]:
    """A new secret; the old one keeps signing (a second signature) for the overlap."""
    overlap = (
        settings.webhooks.secret_overlap_seconds if overlap_seconds is None else overlap_seconds
    )
    if not 0 <= overlap <= 30 * 24 * 3600:
        raise EndpointError(
            "INVALID_INPUT", "overlapSeconds must be 0 to 2592000 (30 days)", ("overlapSeconds",)
        )
    endpoint = await _endpoint(scope, endpoint_id)
    secret = new_secret()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=overlap)
    changes = {
        "secret": secret,
        "previous_secret": endpoint.secret if overlap else None,
        "previous_secret_expires_at": expires if overlap else None,
    }
    return view(await store.update_endpoint(endpoint, changes, None)), secret


async def delete(scope: str | None, endpoint_id: str) -> EndpointView:
    endpoint = await _endpoint(scope, endpoint_id)
    await store.delete_endpoint(endpoint)
    return view(endpoint)


async def replay(
    scope: str | None,
    *,
    delivery_id: str | None = None,
    endpoint_id: str | None = None,
    since: dt.datetime | None = None,
) -> int:
    """Queue one logged delivery again, or every event since a time for one endpoint;
    how many messages were queued."""
    now = dt.datetime.now(dt.UTC)
    if delivery_id is not None:
        if endpoint_id is not None or since is not None:
            raise EndpointError(
                "INVALID_INPUT", "give either deliveryId, or endpointId and since", ("input",)
            )
        if not await store.replay_delivery(delivery_id, await scope_pk(scope), now):
            raise EndpointError("NOT_FOUND", "no such delivery", ("input", "deliveryId"))
        return 1
    if endpoint_id is None or since is None:
        raise EndpointError(
            "INVALID_INPUT", "give either deliveryId, or endpointId and since", ("input",)
        )
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    if since > now:
        raise EndpointError("INVALID_INPUT", "since is in the future", ("input", "since"))
    endpoint = await _endpoint(scope, endpoint_id, ("input", "endpointId"))
    return await store.replay_since(endpoint, since, now)


async def _endpoint(
    scope: str | None, endpoint_id: str, field: Sequence[str] = ("id",)
) -> WebhookEndpoint:
    found = await store.endpoint_by_id(endpoint_id, await scope_pk(scope))
    if found is None:
        raise EndpointError("NOT_FOUND", "no such webhook endpoint", field)
    return found


def _event_types(events: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(events))
    if not names or len(names) > MAX_EVENT_TYPES:
        raise EndpointError(
            "INVALID_INPUT",
            f'events must list 1 to {MAX_EVENT_TYPES} event types (or "*" for all)',
            ("input", "events"),
        )
    unknown = [name for name in names if name != ALL_TYPES and name not in catalogue()]
    if unknown:
        raise EndpointError(
            "INVALID_INPUT",
            f"unknown event type(s): {', '.join(n[:64] for n in unknown[:5])}"
            "; see the event catalogue",
            ("input", "events"),
        )
    return names


def _description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise EndpointError(
            "INVALID_INPUT",
            f"description must be at most {MAX_DESCRIPTION} characters",
            ("input", "description"),
        )
    return description or None


async def _check_url(url: str, settings: Settings) -> None:
    try:
        await resolve(url, settings)
    except UrlRefused as refused:
        raise EndpointError("INVALID_INPUT", str(refused), ("input", "url")) from None
