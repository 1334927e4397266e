"""Outgoing webhooks end to end: a real receiver verifies every delivery with the
`standardwebhooks` package, on SQLite and Postgres.

Events are written two ways: through the API where the change exists today (step changes,
flow completion, help requests), and through the write unit directly for the whole catalogue.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jsonschema
import pytest
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from api.actor import Actor
from api.db import open_database, using
from api.db.models import Event, Organization, WebhookDelivery, WebhookMessage
from api.events import store as events_store
from api.events.catalogue import catalogue
from api.events.signing import new_secret
from api.events.urls import UrlRefused, resolve
from api.progress.live import ProgressHub
from api.progress.store import EventRow, insert_events, run_writes
from api.progress.unit import Change, commit
from api.settings import ConfigError, Settings, WebhookSettings
from bench.statements import counting_statements
from tests.conftest import (
    ROOT,
    TEST_ADMIN_KEY,
    auth,
    graphql,
    running_app,
    serve_env,
    unique,
)
from tests.webhook_receiver import Receiver, free_port, receiving

T = TypeVar("T")
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
    "survey.answered": {
        "memberId": "dana",
        "surveyId": "frontdesk-nps",
        "surveyRevision": 1,
        "responseId": "r-1",
        "locale": "en",
        "answers": [{"questionId": "score", "value": 9}],
    },
    "badge.earned": {
        "memberId": "dana",
        "badgeId": "team-unblocker",
        "criterion": {"flow": None, "steps": [], "event": None, "times": 1, "helped": True},
    },
    "milestone.target_moved": {
        "milestoneId": "first-visitor-checked-in",
        "targetAt": "2031-01-27T09:00:00Z",
        "previousTargetAt": "2031-01-20T09:00:00Z",
        "reason": "The office opens a week late",
    },
    "milestone.reached": {
        "milestoneId": "account-ready",
        "reachedAt": "2031-01-10T09:00:00Z",
        "targetAt": "2031-01-13T09:00:00Z",
        "days": 4.0,
        "onTime": True,
    },
    "milestone.overdue": {
        "milestoneId": "first-visitor-checked-in",
        "targetAt": "2031-01-20T09:00:00Z",
        "met": 0.0,
    },
    "nudge.member_stalled": {
        "memberId": "dana",
        "flowId": "first-visitor",
        "stepId": "register-test-visitor",
        "idleDays": 4.5,
        "period": "2031-01-08",
    },
    "nudge.help_unanswered": {
        "requestId": "hr_1",
        "flowId": "reception-setup",
        "stepId": "add-card",
        "inviterId": "brendan",
        "inviteeId": "dana",
        "email": None,
        "openHours": 52.0,
        "period": "2031-01-08",
    },
    "nudge.account_at_risk": {
        "healthScore": 41,
        "previousScore": 63,
        "milestones": [{"id": "account-ready", "status": "OVERDUE"}],
        "reasons": ["milestone account-ready is overdue", "health fell from 63 to 41"],
        "period": "2031-01-08",
    },
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
    """Events written through the write unit, one change each, for the whole catalogue
    (some types have no mutation that makes them yet); the actor is the event's member."""
    organization, _ = await Organization.get_or_create(external_id=org)
    for name, data in events:

        async def decide(change: Change, name: str = name, data: Any = data) -> dict[str, Any]:
            change.emit(name, data)
            return {}

        actor = Actor(organization.id, org, None, member_id=data.get("memberId") or "")
        await commit(actor, ProgressHub(None), decide)


async def eventually(check: Callable[[], Awaitable[T]], within: float = 30.0) -> T:
    """Poll until `check` gives something truthy (the bound only ends a hung test)."""
    async with asyncio.timeout(within):
        for _ in itertools.count():
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.05)
    raise AssertionError("unreachable")


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
                    event = insert_events(
                        organization.id,
                        [EventRow(None, "owner.changed", data)],
                        dt.datetime.now(dt.UTC),
                    )
                    await run_writes([event], [], connection)
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
        await create_endpoint(client, receiver, org, ["help.requested"])
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
    wanted = ["step.completed", "step.skipped", "step.reopened", "help.requested"]
    async with receiving() as receiver:
        await create_endpoint(client, receiver, org, wanted)
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


async def deliveries_of(client: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    body = await graphql(client, ENDPOINTS, {**ADMIN}, {"first": 100})
    (endpoint,) = [e for e in body["data"]["webhookEndpoints"] if e["id"] == endpoint_id]
    return [edge["node"] for edge in endpoint["deliveries"]["edges"]]


async def test_a_failing_receiver_gets_retries_with_the_same_webhook_id(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    org = unique("retry")
    async with receiving() as receiver:
        receiver.statuses = [500, 503]
        endpoint = await create_endpoint(client, receiver, org)
        with database(hooks):
            await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
        (delivered,) = await receiver.wait_for(1)
    assert [r.status for r in receiver.requests] == [500, 503, 200]
    assert {r.webhook_id for r in receiver.requests} == {delivered.webhook_id}
    log = await deliveries_of(client, endpoint["id"])  # newest first
    assert [(d["attempt"], d["statusCode"], d["succeeded"]) for d in log] == [
        (3, 200, True),
        (2, 503, False),
        (1, 500, False),
    ]
    assert {d["eventId"] for d in log} == {delivered.webhook_id}
    assert (log[0]["response"], log[1]["error"]) == ("ok", "HTTP 503")
    assert [d["deliveredAt"] is not None for d in log] == [True, False, False]


async def test_a_receiver_down_for_a_while_then_back_gets_everything(
    settings: Settings, fresh_database_url: str
) -> None:
    """Nothing listens on the port at first (connection refused), then a receiver starts.
    Its own database and worker: enough attempts that none is given up meanwhile."""
    patient = replace(FAST, max_attempts=1000)
    alone = replace(settings, database_url=fresh_database_url, webhooks=patient)
    org = unique("down")
    async with running_app(alone) as (app, client):
        async with receiving() as placeholder:
            port = placeholder.port
            endpoint = await create_endpoint(client, placeholder, org)
        events = [(name, SAMPLES[name]) for name in ("step.completed", "flow.completed")]
        with using(app.state.runtime.database):
            await write_events(org, events)
            # A claim counts its attempt before the send; the log row comes after it.
            logged = WebhookDelivery.filter(message__organization__external_id=org)
            await eventually(lambda: logged.filter(attempt__gte=2).exists())
        log = await deliveries_of(client, endpoint["id"])
        assert len(log) >= 2
        assert all(not d["succeeded"] and d["statusCode"] is None for d in log)
        assert log[0]["error"].startswith(f"could not connect to 127.0.0.1:{port}: ")
        async with receiving(port, *placeholder.secrets) as receiver:
            delivered = await receiver.wait_for(2)
    assert [d.type for d in delivered] == ["step.completed", "flow.completed"]


async def test_a_4xx_answer_is_final_and_the_line_moves_on(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    org = unique("refused")
    async with receiving() as receiver:
        receiver.statuses = [400]
        await create_endpoint(client, receiver, org)
        with database(hooks):
            await write_events(
                org,
                [
                    ("step.assigned", SAMPLES["step.assigned"]),
                    ("owner.changed", SAMPLES["owner.changed"]),
                ],
            )
        (delivered,) = await receiver.wait_for(1)
    assert [r.status for r in receiver.requests] == [400, 200]
    assert delivered.type == "owner.changed"
    with database(hooks):
        states = await WebhookMessage.filter(organization__external_id=org).order_by("id")
    assert [(m.state, m.attempts) for m in states] == [("failed", 1), ("delivered", 1)]


async def test_429_waits_as_long_as_retry_after_says(
    settings: Settings, fresh_database_url: str
) -> None:
    """A database of its own: no other test's worker (with other settings) shares it."""
    patient = replace(FAST, retry_max_seconds=7200)
    org = unique("slowdown")
    alone = replace(settings, database_url=fresh_database_url, webhooks=patient)
    async with (
        running_app(alone) as (app, client),
        receiving() as receiver,
    ):
        receiver.statuses = [429]
        receiver.retry_after = "3600"
        await create_endpoint(client, receiver, org)
        with using(app.state.runtime.database):
            await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
            logged = WebhookDelivery.filter(message__organization__external_id=org)
            attempt = await eventually(logged.first)
            message = await WebhookMessage.get(id=attempt.message_id)  # type: ignore[attr-defined]
    assert (attempt.status_code, attempt.succeeded) == (429, False)
    assert message.state == "pending"
    assert message.next_attempt_at >= attempt.created_at + dt.timedelta(seconds=3599)
    assert len(receiver.requests) == 1


async def test_one_organizations_events_arrive_in_order_despite_a_failure(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    org = unique("order")
    async with receiving() as receiver:
        receiver.statuses = [500, 500]
        await create_endpoint(client, receiver, org)
        names = ["member.joined", "step.assigned", "step.completed", "help.resolved"]
        with database(hooks):
            for name in names:  # separate transactions: separate changes
                await write_events(org, [(name, SAMPLES[name])])
        delivered = await receiver.wait_for(len(names))
    assert [d.type for d in delivered] == names
    # The first message failed twice; nothing after it was sent before it succeeded.
    assert [r.type for r in receiver.requests[:3]] == ["member.joined"] * 3


async def test_an_endpoint_failing_too_long_is_disabled(
    settings: Settings, fresh_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    quick = replace(FAST, disable_after_seconds=0.01, max_attempts=100)
    org = unique("disable")
    alone = replace(settings, database_url=fresh_database_url, webhooks=quick)
    async with running_app(alone) as (app, client):
        async with receiving() as receiver:
            receiver.statuses = [500] * 1000
            endpoint = await create_endpoint(client, receiver, org)
            with using(app.state.runtime.database):
                await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
            await receiver.wait_requests(2)
            stats = app.state.runtime.webhooks.stats
            await eventually(lambda: asyncio.sleep(0, stats.endpoints_disabled))
        body = await graphql(client, ENDPOINTS, ADMIN)
        (found,) = [e for e in body["data"]["webhookEndpoints"] if e["id"] == endpoint["id"]]
        assert found["enabled"] is False
        assert found["disabledReason"].startswith("every delivery failed since")
        assert "disabled: every delivery failed" in caplog.text
        enabled = await graphql(
            client,
            "mutation($id: ID!) { updateWebhookEndpoint(input: {id: $id, enabled: true}) {"
            " endpoint { enabled disabledReason } userErrors { code } } }",
            ADMIN,
            {"id": endpoint["id"]},
        )
        assert enabled["data"]["updateWebhookEndpoint"]["endpoint"] == {
            "enabled": True,
            "disabledReason": None,
        }


async def test_finishing_a_flow_through_the_api_sends_flow_completed(
    client: httpx.AsyncClient,
) -> None:
    org = unique("flow")
    member = auth(org, "mia", ())
    steps = ["open-dashboard", "register-test-visitor", "get-notified", "sign-out-visitor"]
    async with receiving() as receiver:
        await create_endpoint(client, receiver, org, ["step.completed", "flow.completed"])
        for step in steps:
            body = await graphql(
                client,
                STEP % "completeStep",
                member,
                {"input": {"flowId": "first-visitor", "stepId": step}},
            )
            assert body["data"]["completeStep"]["userErrors"] == [], body
        delivered = await receiver.wait_for(len(steps) + 1)
    assert [d.type for d in delivered] == ["step.completed"] * 4 + ["flow.completed"]
    assert delivered[-1].data["flowId"] == "first-visitor"


MANAGE = {
    "update": """mutation($input: UpdateWebhookEndpointInput!) {
      updateWebhookEndpoint(input: $input) { endpoint { id url events description enabled
        disabledReason } secret userErrors { code message field } } }""",
    "rotate": """mutation($id: ID!, $overlap: Int) { rotateWebhookSecret(id: $id,
      overlapSeconds: $overlap) { endpoint { id previousSecretExpiresAt } secret
      userErrors { code message field } } }""",
    "delete": """mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { endpoint { id }
      userErrors { code message field } } }""",
    "replay": """mutation($input: ReplayWebhookDeliveriesInput!) {
      replayWebhookDeliveries(input: $input) { queued userErrors { code message field } } }""",
}


async def manage(
    client: httpx.AsyncClient, name: str, variables: dict[str, Any], headers: dict[str, str] = ADMIN
) -> dict[str, Any]:
    body = await graphql(client, MANAGE[name], headers, variables)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))  # type: ignore[no-any-return]


async def test_endpoints_are_for_the_admin_key_only(client: httpx.AsyncClient) -> None:
    member = auth(unique("org"), "someone", ("admin",))
    listed = await graphql(client, "{ webhookEndpoints { id } }", member)
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    created = await graphql(
        client, CREATE, member, {"input": {"url": "https://example.com/h", "events": ["*"]}}
    )
    payload = created["data"]["createWebhookEndpoint"]
    assert payload["endpoint"] is None
    assert payload["userErrors"][0]["code"] == "FORBIDDEN"


async def test_an_admin_acting_for_one_organization_sees_only_its_endpoints(
    client: httpx.AsyncClient,
) -> None:
    mine, theirs = unique("mine"), unique("theirs")
    acting = {**ADMIN, "x-heed-organization": mine}
    async with receiving() as receiver:
        other = await create_endpoint(client, receiver, theirs)
        created = await graphql(
            client, CREATE, acting, {"input": {"url": receiver.url, "events": ["*"]}}
        )
        own = created["data"]["createWebhookEndpoint"]["endpoint"]
        assert own["organizationId"] == mine
        refused = await graphql(
            client,
            CREATE,
            acting,
            {"input": {"url": receiver.url, "events": ["*"], "organizationId": theirs}},
        )
        error = refused["data"]["createWebhookEndpoint"]["userErrors"][0]
        assert (error["code"], error["field"]) == ("FORBIDDEN", ["input", "organizationId"])
    listed = await graphql(client, "{ webhookEndpoints { id } }", acting)
    assert listed["data"]["webhookEndpoints"] == [{"id": own["id"]}]
    gone = await manage(client, "delete", {"id": other["id"]}, acting)
    assert gone["userErrors"][0]["code"] == "NOT_FOUND"


async def test_bad_input_is_a_user_error_and_changes_nothing(client: httpx.AsyncClient) -> None:
    org = unique("bad")
    cases = [
        ({"url": "ftp://example.com/h", "events": ["*"]}, ["input", "url"]),
        ({"url": "http://user:pw@127.0.0.1/h", "events": ["*"]}, ["input", "url"]),
        ({"url": "http://no-such-host.invalid/h", "events": ["*"]}, ["input", "url"]),
        ({"url": "http://127.0.0.1:9/h", "events": []}, ["input", "events"]),
        ({"url": "http://127.0.0.1:9/h", "events": ["step.done"]}, ["input", "events"]),
        ({"url": "http://127.0.0.1:9/h", "events": ["*"], "description": "x" * 501}, None),
    ]
    for given, field in cases:
        body = await graphql(client, CREATE, ADMIN, {"input": {**given, "organizationId": org}})
        payload = body["data"]["createWebhookEndpoint"]
        assert payload["endpoint"] is None
        assert payload["secret"] is None
        (error,) = payload["userErrors"]
        assert error["code"] == "INVALID_INPUT", error
        assert error["field"] == (field or ["input", "description"])
    listed = await graphql(client, "{ webhookEndpoints { organizationId } }", ADMIN)
    assert {"organizationId": org} not in listed["data"]["webhookEndpoints"]


async def test_update_disable_rotate_replay_and_delete(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    org = unique("manage")
    async with receiving() as receiver:
        with database(hooks):  # before the endpoint exists: only a replay sends it
            await write_events(org, [("member.joined", SAMPLES["member.joined"])])
        endpoint = await create_endpoint(client, receiver, org, ["owner.changed"])
        updated = await manage(
            client,
            "update",
            {
                "input": {
                    "id": endpoint["id"],
                    "events": ["owner.changed", "member.joined"],
                    "description": "CRM sync",
                }
            },
        )
        assert updated["endpoint"]["events"] == ["owner.changed", "member.joined"]
        assert updated["endpoint"]["description"] == "CRM sync"
        assert updated["secret"] is None

        disabled = await manage(
            client, "update", {"input": {"id": endpoint["id"], "enabled": False}}
        )
        assert disabled["endpoint"]["disabledReason"] == "disabled by an admin"
        with database(hooks):  # while disabled: not queued
            await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
        await manage(client, "update", {"input": {"id": endpoint["id"], "enabled": True}})

        since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
        replayed = await manage(
            client, "replay", {"input": {"endpointId": endpoint["id"], "since": since}}
        )
        assert replayed == {"queued": 2, "userErrors": []}
        first = await receiver.wait_for(2)
        assert [d.type for d in first] == ["member.joined", "owner.changed"]

        old_secret = receiver.secrets[0]
        rotated = await manage(client, "rotate", {"id": endpoint["id"]})
        new_secret = rotated["secret"]
        assert new_secret.startswith("whsec_")
        assert new_secret != old_secret
        assert rotated["endpoint"]["previousSecretExpiresAt"] is not None
        log = await deliveries_of(client, endpoint["id"])
        again = await manage(client, "replay", {"input": {"deliveryId": log[-1]["id"]}})
        assert again == {"queued": 1, "userErrors": []}
        await receiver.wait_requests(3)
        resent = receiver.requests[2]
        assert resent.webhook_id == log[-1]["eventId"]  # the same webhook-id as the first time
        signatures = resent.headers["webhook-signature"].split(" ")
        assert len(signatures) == 2  # the new secret's, and the old one's during the overlap
        receiver.secrets[:] = [new_secret]
        with database(hooks):
            await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
        await receiver.wait_for(3)
        assert receiver.refused == []

        rotated = await manage(client, "rotate", {"id": endpoint["id"], "overlap": 0})
        assert rotated["endpoint"]["previousSecretExpiresAt"] is None
        receiver.secrets[:] = [rotated["secret"]]
        with database(hooks):
            await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
        (*_, last) = await receiver.wait_for(4)
        assert len(last.headers["webhook-signature"].split(" ")) == 1

    page = await graphql(client, ENDPOINTS, ADMIN, {"first": 2})
    (listed,) = [e for e in page["data"]["webhookEndpoints"] if e["id"] == endpoint["id"]]
    assert len(listed["deliveries"]["edges"]) == 2
    assert listed["deliveries"]["pageInfo"]["hasNextPage"] is True
    rest = await graphql(
        client,
        ENDPOINTS,
        ADMIN,
        {"first": 100, "after": listed["deliveries"]["pageInfo"]["endCursor"]},
    )
    (more,) = [e for e in rest["data"]["webhookEndpoints"] if e["id"] == endpoint["id"]]
    assert len(more["deliveries"]["edges"]) == 3  # five attempts in all

    deleted = await manage(client, "delete", {"id": endpoint["id"]})
    assert deleted == {"endpoint": {"id": endpoint["id"]}, "userErrors": []}
    again = await manage(client, "delete", {"id": endpoint["id"]})
    assert again["userErrors"][0]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("url", "environment", "allowed", "problem"),
    [
        ("http://example.com/h", "production", {}, "must start with https://"),
        ("http://127.0.0.1:9/h", "development", {}, None),
        ("https://127.0.0.1/h", "production", {}, "loopback"),
        ("https://localhost/h", "production", {}, "loopback"),
        ("https://[::1]/h", "production", {}, "loopback"),
        ("https://[::ffff:127.0.0.1]/h", "production", {}, "loopback"),
        ("https://10.1.2.3/h", "production", {}, "private"),
        ("http://192.168.1.1/h", "development", {}, "private"),
        ("https://169.254.169.254/latest/meta-data", "production", {}, "link-local"),
        ("https://100.100.100.200/h", "production", {}, "non-public"),
        ("https://93.184.215.14/h", "production", {}, None),
        ("https://10.1.2.3/h", "production", {"allow_private": True}, None),
        ("http://93.184.215.14/h", "production", {"allow_http": True}, None),
        ("https://93.184.215.14/h#frag", "production", {}, "fragment"),
    ],
)
async def test_url_rules(
    url: str, environment: str, allowed: dict[str, bool], problem: str | None
) -> None:
    settings = Settings(environment=environment, webhooks=WebhookSettings(**allowed))  # type: ignore[arg-type]
    if problem is None:
        target = await resolve(url, settings)
        assert target.addresses
        return
    with pytest.raises(UrlRefused, match=problem):
        await resolve(url, settings)


async def test_addresses_are_checked_again_at_delivery(
    settings: Settings, fresh_database_url: str
) -> None:
    """An endpoint whose name now resolves to a refused address is not called."""
    production = replace(
        settings,
        environment="production",
        database_url=fresh_database_url,
        webhooks=replace(FAST, allow_http=True),  # the address rule is what is tested here
    )
    org = unique("rebind")
    async with receiving() as receiver, running_app(production) as (app, _):
        with using(app.state.runtime.database):
            endpoint = await events_store.create_endpoint(
                receiver.url, ["*"], await events_store.organization_pk(org), None, new_secret()
            )
            await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
            logged = WebhookDelivery.filter(endpoint_id=endpoint.id)
            attempt = await eventually(logged.first)
    assert receiver.requests == []
    assert attempt.succeeded is False
    assert "loopback" in (attempt.error or "")


async def test_a_slow_receiver_does_not_slow_the_api(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    """The mutation returns while the receiver still holds the delivery, and costs the same
    statements as in an organization without endpoints (the outbox trigger adds none)."""
    quiet, watched = unique("quiet"), unique("watched")
    staff = {org: auth(org, "olga", ("office_manager",)) for org in (quiet, watched)}

    async def complete(org: str, step: str) -> int:
        with counting_statements() as counter:
            body = await graphql(
                client,
                STEP % "completeStep",
                staff[org],
                {"input": {"flowId": "reception-setup", "stepId": step}},
            )
        assert body["data"]["completeStep"]["userErrors"] == [], body
        return len(counter.statements)

    async with receiving() as receiver:
        receiver.hold = asyncio.Event()
        await create_endpoint(client, receiver, watched, ["step.completed"])
        for org in (quiet, watched):
            await graphql(client, "{ viewer { member { id } } }", staff[org])
        await complete(quiet, "create-account")
        await complete(watched, "create-account")
        await receiver.wait_requests(1)  # that delivery is now stuck in the receiver

        async def fewest(org: str) -> int:
            """The least of three completions of one step: another app in this process
            (the session's) may poll for a release during one of them."""
            counts = []
            for _ in range(3):
                counts.append(await complete(org, "install-ipad"))
                reopened = await graphql(
                    client,
                    STEP % "reopenStep",
                    staff[org],
                    {"input": {"flowId": "reception-setup", "stepId": "install-ipad"}},
                )
                assert reopened["data"]["reopenStep"]["userErrors"] == []
            return min(counts)

        without_endpoint = await fewest(quiet)
        with_endpoint = await fewest(watched)
        assert receiver.in_flight >= 1  # the mutations returned; the receiver still holds
        assert receiver.requests == []
        assert with_endpoint == without_endpoint
        receiver.hold.set()
        delivered = await receiver.wait_for(4)
    steps = [d.data["stepId"] for d in delivered]
    assert steps == ["create-account", "install-ipad", "install-ipad", "install-ipad"]


async def test_two_workers_on_postgres_deliver_each_event_once(
    settings: Settings, fresh_database_url: str
) -> None:
    if not fresh_database_url.startswith("asyncpg"):
        pytest.skip("SQLite: one process delivers")
    shared = replace(settings, database_url=fresh_database_url, webhooks=FAST)
    orgs = [unique("shared") for _ in range(12)]
    async with (
        receiving() as receiver,
        running_app(shared) as (first, client),
        running_app(shared) as (second, _),
    ):
        await create_endpoint(client, receiver, None)
        with using(first.state.runtime.database):
            for round_ in range(5):
                for org in orgs:
                    data = {**SAMPLES["progress.reset"], "cleared": round_}
                    await write_events(org, [("progress.reset", data)])
        delivered = await receiver.wait_for(len(orgs) * 5)
        workers = [app.state.runtime.webhooks.stats for app in (first, second)]
        # Every send is recorded as delivered once, just after the receiver answered.
        await eventually(lambda: asyncio.sleep(0, sum(s.delivered for s in workers) == 60))
    assert len(receiver.requests) == len(orgs) * 5  # no webhook-id twice
    for org in orgs:  # and each organization's in order
        mine = [d.data["cleared"] for d in delivered if d.data["organizationId"] == org]
        assert mine == [0, 1, 2, 3, 4]


@contextlib.asynccontextmanager
async def heed_serve(
    env: dict[str, str],
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`heed serve` in its own process; yields it and its base URL once it answers."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "api.cli", "serve", "--port", str(port)),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    async def healthy() -> bool:
        assert process.returncode is None, "heed serve exited"
        try:
            async with httpx.AsyncClient() as probe:
                return (await probe.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await eventually(healthy, within=60)
        yield process, url
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def test_killing_heed_mid_delivery_loses_nothing(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """kill -9 while deliveries are in flight, start again: every committed change's event
    arrives at least once (the one in flight at the kill may arrive twice, same webhook-id)."""
    env = serve_env(
        fresh_database_url,
        tmp_path / "data",
        HEED_ADMIN_KEY=TEST_ADMIN_KEY,
        HEED_CONTENT_DIR=str(ROOT / "content"),
        HEED_WEBHOOK_POLL_SECONDS="0.05",
        HEED_WEBHOOK_TIMEOUT_SECONDS="1",
        HEED_WEBHOOK_RETRY_BASE_SECONDS="0.05",
        HEED_WEBHOOK_RETRY_MAX_SECONDS="0.5",
    )
    org = unique("crash")
    steps = ["open-dashboard", "register-test-visitor", "get-notified", "sign-out-visitor"]
    async with receiving() as receiver:
        receiver.hold = asyncio.Event()
        async with heed_serve(env) as (process, url), httpx.AsyncClient(base_url=url) as client:
            await create_endpoint(client, receiver, org, ["step.completed", "flow.completed"])
            for member in ("ann", "bob", "cem"):
                headers = auth(org, member, ())
                for step in steps:
                    body = await graphql(
                        client,
                        STEP % "completeStep",
                        headers,
                        {"input": {"flowId": "first-visitor", "stepId": step}},
                    )
                    assert body["data"]["completeStep"]["userErrors"] == [], body
            await receiver.wait_requests(1)
            assert receiver.in_flight >= 1  # a delivery is in the receiver's hands
            process.kill()  # SIGKILL: no shutdown, no cleanup
            await process.wait()
        receiver.hold.set()
        async with heed_serve(env):
            delivered = await receiver.wait_for(3 * 5, within=60)
    database = await open_database(
        Settings.from_env({"DATABASE_URL": fresh_database_url}).database_url, migrate=False
    )
    try:
        with using(database):
            committed = await Event.filter(
                organization__external_id=org, name__in=["step.completed", "flow.completed"]
            ).order_by("id")
            queued = await WebhookMessage.filter(organization__external_id=org).count()
    finally:
        await database.close_connections()
    assert len(committed) == 3 * 5 == queued
    assert sorted(d.type for d in delivered) == sorted(e.name for e in committed)
    assert [d.type for d in delivered].count("flow.completed") == 3


async def projectmap(client: httpx.AsyncClient, org: str) -> str:
    """The seeds' scenario: Brendan cannot add the card, asks Dana, Dana adds it.
    Returns the help request's token."""
    brendan = auth(org, "brendan", ("office_manager",), name="Brendan", locale="en")
    dana = auth(org, "dana", ("billing",), name="Dana", email="dana@projectmap.test")
    for headers in (brendan, dana):
        await graphql(client, "{ viewer { member { id } } }", headers)
    skipped = await graphql(
        client,
        STEP % "skipStep",
        brendan,
        {"input": {"flowId": "reception-setup", "stepId": "add-card"}},
    )
    assert skipped["data"]["skipStep"]["userErrors"] == []
    asked = await graphql(
        client,
        REQUEST_HELP,
        brendan,
        {
            "input": {
                "flowId": "reception-setup",
                "stepId": "add-card",
                "memberId": "dana",
                "message": "Could you add the company card? Thanks!",
            }
        },
    )
    request = asked["data"]["requestHelp"]
    assert request["userErrors"] == []
    done = await graphql(
        client,
        STEP % "completeStep",
        dana,
        {"input": {"flowId": "reception-setup", "stepId": "add-card"}},
    )
    assert done["data"]["completeStep"]["userErrors"] == []
    return request["helpRequest"]["token"]  # type: ignore[no-any-return]


async def test_projectmap_tells_the_host_whom_to_email_then_that_the_card_is_in(
    client: httpx.AsyncClient,
) -> None:
    org = unique("projectmap")
    async with receiving() as receiver:
        await create_endpoint(client, receiver, org, ["help.requested", "step.completed"])
        token = await projectmap(client, org)
        invitation, card = await receiver.wait_for(2)
    assert invitation.type == "help.requested"
    assert invitation.data["token"] == token
    assert invitation.data["invitee"] == {
        "id": "dana",
        "name": "Dana",
        "email": "dana@projectmap.test",
    }
    assert invitation.data["inviter"]["id"] == "brendan"
    assert invitation.data["step"]["title"]
    assert invitation.data["message"] == "Could you add the company card? Thanks!"
    assert (card.type, card.data["stepId"]) == ("step.completed", "add-card")


async def test_projectmap_events_follow_the_catalogue(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    org = unique("projectmap")
    wanted = ["step.skipped", "help.requested", "step.completed", "help.resolved"]
    async with receiving() as receiver:
        await create_endpoint(client, receiver, org, wanted)
        await projectmap(client, org)
        await receiver.wait_for(3)  # skipped, requested, completed
        with database(hooks):
            resolved = Event.filter(organization__external_id=org, name="help.resolved")
            assert await resolved.exists(), "no help.resolved event was written"
        delivered = await receiver.wait_for(4)
    assert [d.type for d in delivered] == [
        "step.skipped",
        "help.requested",
        "step.completed",
        "help.resolved",
    ]
    for item in delivered:
        validate(item.payload)
    assert delivered[2].data["actorId"] == delivered[2].data["memberId"] == "dana"
    assert delivered[3].data["inviterId"] == "brendan"
    assert delivered[3].data["resolvedById"] == "dana"


async def heed(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "api.cli", *args),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_command_line_manages_endpoints_and_heed_worker_delivers(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = serve_env(
        fresh_database_url,
        tmp_path / "data",
        HEED_WEBHOOK_POLL_SECONDS="0.05",
        HEED_WEBHOOK_RETRY_BASE_SECONDS="0.05",
    )
    org = unique("cli")
    async with receiving() as receiver:
        code, out, err = await heed(
            env, "webhooks", "create", receiver.url, "--events", "owner.changed", "--org", org
        )
        assert code == 0, err
        endpoint_id = out.split("\t", 1)[0]
        receiver.secrets.append(out.split("secret: ", 1)[1].split()[0])
        code, out, _ = await heed(env, "webhooks", "list")
        assert endpoint_id in out
        assert org in out

        code, _, err = await heed(env, "webhooks", "create", "ftp://x", "--events", "*")
        assert code == 1
        assert err.strip() == "heed: the URL must start with https:// or http://"

        worker = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "api.cli", "worker"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            database = await open_database(
                Settings.from_env({"DATABASE_URL": fresh_database_url}).database_url,
                migrate=False,
            )
            try:
                with using(database):
                    await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
                    (delivered,) = await receiver.wait_for(1)
                    logged = WebhookMessage.filter(state="delivered")
                    await eventually(logged.exists)
            finally:
                await database.close_connections()
        finally:
            worker.terminate()
            await worker.wait()
        assert delivered.type == "owner.changed"

        code, out, _ = await heed(env, "webhooks", "deliveries", endpoint_id)
        assert "owner.changed" in out
        assert "delivered" in out
        code, out, _ = await heed(env, "webhooks", "rotate-secret", endpoint_id, "--overlap", "0")
        assert out.count("whsec_") == 1
        code, out, _ = await heed(env, "webhooks", "update", endpoint_id, "--disable")
        assert "disabled (disabled by an admin)" in out
        code, out, _ = await heed(env, "webhooks", "delete", endpoint_id)
        assert out.strip() == f"deleted {endpoint_id}"
        code, _, err = await heed(env, "webhooks", "delete", endpoint_id)
        assert (code, err.strip()) == (1, "heed: no such webhook endpoint")


async def test_finished_messages_and_old_log_entries_are_purged(
    hooks: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    org = unique("purge")
    async with receiving() as receiver:
        endpoint = await create_endpoint(client, receiver, org)
        with database(hooks):
            await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
            await receiver.wait_for(1)
            mine = WebhookMessage.filter(organization__external_id=org)
            await eventually(mine.filter(state="delivered").exists)
            await events_store.purge(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
            assert await mine.count() == 1  # newer than the cutoff: kept
            receiver.hold = asyncio.Event()
            await write_events(org, [("step.assigned", SAMPLES["step.assigned"])])
            await receiver.wait_requests(2)  # in the receiver's hands: still pending
            await events_store.purge(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
            left = await mine.values_list("event__name", "state")
            assert await deliveries_of(client, endpoint["id"]) == []
            receiver.hold.set()
            await receiver.wait_for(2)
    assert left == [("step.assigned", "pending")]  # a pending message is never purged


def test_webhook_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"HEED_WEBHOOK_POLL_SECONDS": "0.5", "HEED_WEBHOOK_ALLOW_PRIVATE": "true"}
    )
    assert settings.webhooks.poll_seconds == 0.5
    assert settings.webhooks.allow_private is True
    with pytest.raises(ConfigError, match="HEED_WEBHOOK_TIMEOUT_SECONDS"):
        Settings.from_env({"HEED_WEBHOOK_TIMEOUT_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="HEED_WEBHOOK_RETRY_BASE_SECONDS"):
        Settings.from_env({"HEED_WEBHOOK_RETRY_BASE_SECONDS": "-1"})


async def test_deleting_an_endpoint_while_it_receives(
    hooks: tuple[Starlette, httpx.AsyncClient],
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Deletion and the worker's bookkeeping take rows in the same order: no deadlock."""
    async with receiving() as receiver:
        for _ in range(3):
            orgs = [unique("busy") for _ in range(8)]
            endpoints = [await create_endpoint(client, receiver, org) for org in orgs]
            received = len(receiver.requests)  # before this round's events exist
            with database(hooks):
                for org in orgs:
                    await write_events(org, [("owner.changed", SAMPLES["owner.changed"])] * 3)
            await receiver.wait_requests(received + 4)
            for endpoint in endpoints:
                deleted = await manage(client, "delete", {"id": endpoint["id"]})
                assert deleted["userErrors"] == []
    assert "webhook delivery round failed" not in caplog.text


def localhost_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate it signed for `localhost`: (CA file, key file, cert file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: Any, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Heed test CA")])
    ca = certificate("Heed test CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate("localhost", key, ca_name, ca_key, ca=False)
    paths = (folder / "ca.pem", folder / "key.pem", folder / "cert.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return paths


async def test_https_receivers_are_verified_by_name_on_the_checked_address(
    settings: Settings, fresh_database_url: str, tmp_path: Path
) -> None:
    """The connection goes to the address checked, with the URL's name for SNI and for the
    certificate check (a CA the operator names in HEED_WEBHOOK_CA_BUNDLE)."""
    ca, key, cert = localhost_certificate(tmp_path)
    org = unique("tls")
    trusting = replace(FAST, ca_bundle=ca)
    alone = replace(settings, database_url=fresh_database_url, webhooks=trusting)
    async with receiving(tls=(key, cert)) as receiver, running_app(alone) as (app, client):
        assert receiver.url.startswith("https://localhost:")
        await create_endpoint(client, receiver, org)
        with using(app.state.runtime.database):
            await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
        (delivered,) = await receiver.wait_for(1)
    assert delivered.type == "owner.changed"

    untrusting = replace(settings, database_url=fresh_database_url, webhooks=FAST)
    async with receiving(tls=(key, cert)) as receiver, running_app(untrusting) as (app, client):
        endpoint = await create_endpoint(client, receiver, org)
        with using(app.state.runtime.database):
            await write_events(org, [("owner.changed", SAMPLES["owner.changed"])])
            logged = WebhookDelivery.filter(endpoint__public_id=endpoint["id"])
            attempt = await eventually(logged.first)
    assert receiver.requests == []
    assert "CERTIFICATE_VERIFY_FAILED" in (attempt.error or "")


async def test_the_outbox_trigger_is_on_the_event_table(
    hooks: tuple[Starlette, httpx.AsyncClient],
) -> None:
    """SQLite drops a table's triggers when a migration rebuilds it: this fails if one did."""
    with database(hooks):
        connection = Event._meta.db
        if connection.capabilities.dialect == "postgres":
            sql = (
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'event'::regclass"
                " AND NOT tgisinternal"
            )
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'event'"
        _, rows = await connection.execute_query(sql)
    assert [row[0] for row in rows] == ["webhook_outbox"]
