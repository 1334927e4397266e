"""Outgoing webhooks end to end: a real receiver verifies every delivery with the
`standardwebhooks` package, on SQLite and Postgres.

Events are written two ways: through the API where the change exists today (step changes,
flow completion, help requests), and with `record_event` inside a transaction, as the write
unit does, for the whole catalogue.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from api.db import using
from api.db.models import Event, Organization, WebhookMessage
from api.events.catalogue import catalogue
from api.progress.store import record_event
from api.settings import Settings, WebhookSettings
from tests.conftest import TEST_ADMIN_KEY, auth, graphql, running_app, unique
from tests.webhook_receiver import Receiver, receiving

FAST = WebhookSettings(
    poll_seconds=0.05,
    timeout_seconds=2.0,
    retry_base_seconds=0.05,
    retry_max_seconds=0.2,
    max_attempts=5,
)
ADMIN = {"x-heed-admin-key": TEST_ADMIN_KEY}
CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  endpoint { id url events organizationId description enabled disabledReason }
  secret userErrors { code message field } } }"""
ENDPOINTS = """query($first: Int, $after: String) { webhookEndpoints { id url events organizationId
  enabled disabledReason deliveries(first: $first, after: $after) {
    edges { cursor node { id eventId eventType attempt succeeded statusCode latencyMs error
      response createdAt deliveredAt } }
    pageInfo { hasNextPage endCursor } } } }"""
STEP = """mutation($input: StepInput!) { %s(input: $input) { step { id status }
  userErrors { code message } } }"""
REQUEST_HELP = """mutation($input: RequestHelpInput!) { requestHelp(input: $input) {
  helpRequest { id token } userErrors { code message } } }"""

# One valid `data` (without organizationId) per catalogue type, as the write unit emits it.
SAMPLES: dict[str, dict[str, Any]] = {
    "step.completed": {
        "flowId": "reception-setup",
        "stepId": "add-card",
        "flowRevision": 1,
        "scope": "organization",
        "memberId": "dana",
    },
    "step.skipped": {
        "flowId": "reception-setup",
        "stepId": "add-card",
        "flowRevision": 1,
        "scope": "organization",
        "memberId": "brendan",
    },
    "step.reopened": {
        "flowId": "getting-started",
        "stepId": "profile",
        "flowRevision": 2,
        "scope": "user",
        "memberId": "brendan",
    },
    "flow.completed": {
        "flowId": "reception-setup",
        "flowRevision": 1,
        "scope": "organization",
        "memberId": None,
    },
    "help.requested": {
        "requestId": "hr_1",
        "token": "tok_abc",
        "locale": "en",
        "organization": {"id": "projectmap", "name": "ProjectMap"},
        "inviter": {"id": "brendan", "name": "Brendan", "email": "brendan@projectmap.test"},
        "invitee": {"id": "dana", "name": "Dana", "email": "dana@projectmap.test"},
        "email": None,
        "flow": {"id": "reception-setup", "title": "Set up reception"},
        "step": {"id": "add-card", "title": "Add the company card", "summary": "Billing."},
        "message": "Could you add the company card?",
    },
    "help.resolved": {
        "requestId": "hr_1",
        "flowId": "reception-setup",
        "stepId": "add-card",
        "resolvedById": "dana",
        "inviterId": "brendan",
    },
    "help.cancelled": {
        "requestId": "hr_2",
        "flowId": "reception-setup",
        "stepId": "add-card",
        "cancelledById": "brendan",
    },
    "owner.changed": {"memberId": "brendan", "previousMemberId": None},
    "step.assigned": {"flowId": "reception-setup", "stepId": "add-card", "assigneeId": "dana"},
    "member.joined": {
        "memberId": "dana",
        "name": "Dana",
        "email": "dana@projectmap.test",
        "roles": ["billing"],
    },
    "progress.reset": {"memberId": "dana", "flowId": "getting-started", "cleared": 3},
}


@pytest.fixture(scope="module")
async def hooks(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """An app of its own whose worker delivers quickly (the session app sends nothing)."""
    async with running_app(replace(settings, webhooks=FAST)) as pair:
        yield pair


@pytest.fixture
def client(hooks: tuple[Starlette, httpx.AsyncClient]) -> httpx.AsyncClient:
    return hooks[1]


@contextlib.contextmanager
def database(hooks: tuple[Starlette, httpx.AsyncClient]) -> Any:
    with using(hooks[0].state.runtime.database) as db:
        yield db


async def create_endpoint(
    client: httpx.AsyncClient, receiver: Receiver, org: str | None, events: list[str] | None = None
) -> dict[str, Any]:
    body = await graphql(
        client,
        CREATE,
        ADMIN,
        {"input": {"url": receiver.url, "events": events or ["*"], "organizationId": org}},
    )
    payload = body["data"]["createWebhookEndpoint"]
    assert payload["userErrors"] == [], payload
    assert payload["secret"].startswith("whsec_")
    receiver.secrets.append(payload["secret"])
    return payload["endpoint"]  # type: ignore[no-any-return]


async def write_events(org: str, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Event rows written as the write unit writes them: in one transaction, actor in data."""
    organization, _ = await Organization.get_or_create(external_id=org)
    async with in_transaction() as connection:
        for name, data in events:
            properties = {"version": 1, "actorId": data.get("memberId"), **data}
            await record_event(
                organization.id, None, name.split(".")[0], name, properties, connection
            )


def validate(payload: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(
        catalogue()[payload["type"]].schema, format_checker=jsonschema.FormatChecker()
    ).validate(payload)


def test_catalogue_has_every_agreed_type_with_a_valid_schema() -> None:
    assert set(catalogue()) == set(SAMPLES)
    for event_type in catalogue().values():
        jsonschema.Draft202012Validator.check_schema(event_type.schema)
        assert event_type.description


async def test_every_event_type_is_delivered_signed_and_valid(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    org = unique("catalogue")
    async with receiving() as receiver:
        await create_endpoint(client, receiver, org)
        with database(hooks):
            await write_events(org, list(SAMPLES.items()))
        delivered = await receiver.wait_for(len(SAMPLES))
    assert receiver.refused == []
    assert [d.type for d in delivered] == list(SAMPLES)
    for item in delivered:
        validate(item.payload)
        assert item.data["organizationId"] == org
        assert item.data["version"] == 1
        assert item.webhook_id.startswith("msg_")
    assert delivered[4].data["invitee"]["email"] == "dana@projectmap.test"


async def test_a_rolled_back_change_sends_nothing(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    org = unique("rollback")
    async with receiving() as receiver:
        await create_endpoint(client, receiver, org)
        with database(hooks):
            organization, _ = await Organization.get_or_create(external_id=org)
            data = {"version": 1, "actorId": None, **SAMPLES["owner.changed"]}

            async def failing_change() -> None:
                async with in_transaction() as connection:
                    await record_event(
                        organization.id, None, "owner", "owner.changed", data, connection
                    )
                    raise RuntimeError("the change fails after writing its event")

            with pytest.raises(RuntimeError):
                await failing_change()
            assert await WebhookMessage.filter(organization_id=organization.id).count() == 0
            await write_events(org, [("progress.reset", SAMPLES["progress.reset"])])
        (only,) = await receiver.wait_for(1)
    assert only.type == "progress.reset"


async def test_app_events_are_never_webhooks(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    """A member tracking an app event named like a catalogue type forges nothing."""
    org = unique("forge")
    async with receiving() as receiver:
        await create_endpoint(client, receiver, org)
        headers = auth(org, "mallory", ("member",))
        tracked = await graphql(
            client,
            'mutation { track(input: {event: "help.requested"}) { userErrors { code } } }',
            headers,
        )
        assert tracked["data"]["track"]["userErrors"] == []
        with database(hooks):
            organization = await Organization.get(external_id=org)
            assert await Event.filter(organization_id=organization.id, kind="app").count() == 1
            assert await WebhookMessage.filter(organization_id=organization.id).count() == 0


async def test_step_changes_through_the_api_arrive_in_order(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    org = unique("api")
    brendan = auth(org, "brendan", ("office_manager",), name="Brendan")
    dana = auth(org, "dana", ("billing",), name="Dana", email="dana@projectmap.test")
    async with receiving() as receiver:
        await create_endpoint(client, receiver, org)
        for headers in (brendan, dana):
            await graphql(client, "{ viewer { member { id } } }", headers)

        async def change(headers: dict[str, str], name: str, step: str) -> None:
            body = await graphql(
                client,
                STEP % name,
                headers,
                {"input": {"flowId": "reception-setup", "stepId": step}},
            )
            assert body["data"][name]["userErrors"] == [], body

        await change(brendan, "skipStep", "add-card")
        asked = await graphql(
            client,
            REQUEST_HELP,
            brendan,
            {"input": {"flowId": "reception-setup", "stepId": "add-card", "memberId": "dana"}},
        )
        assert asked["data"]["requestHelp"]["userErrors"] == []
        await change(brendan, "completeStep", "create-account")
        await change(brendan, "reopenStep", "create-account")
        await change(brendan, "completeStep", "create-account")
        await change(brendan, "completeStep", "install-ipad")
        await change(dana, "completeStep", "add-card")
        expected = [
            ("step.skipped", "add-card"),
            ("help.requested", None),
            ("step.completed", "create-account"),
            ("step.reopened", "create-account"),
            ("step.completed", "create-account"),
            ("step.completed", "install-ipad"),
            ("step.completed", "add-card"),
        ]
        delivered = await receiver.wait_for(len(expected))
    assert [(d.type, d.data.get("stepId")) for d in delivered[: len(expected)]] == expected
    assert all(d.data["organizationId"] == org for d in delivered)
    assert receiver.refused == []
