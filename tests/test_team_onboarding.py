"""Team onboarding end to end: roles, skips, help requests, owners, live updates, isolation."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from api.content.store import publish
from api.db import open_database, using
from api.db.models import Event, HelpRequest, StepState
from api.settings import Settings
from tests.conftest import ROOT, TEST_SECRET, SQLCounter, auth, graphql, running_app, token, unique

FLOW = """query($id: ID!) { flow(id: $id) {
  id state progress { done total percent } nextStep { id }
  steps { id status scope roles optional candidates { id name } completedBy { id }
          assignee { id } }
} }"""
STEP_MUTATION = """mutation($input: StepInput!) { %s(input: $input) {
  step { id status } flow { progress { done total percent } }
  userErrors { code message field roles candidates { id } }
} }"""
REQUEST_HELP = """mutation($input: RequestHelpInput!) { requestHelp(input: $input) {
  helpRequest { id status stepTitle message inviter { id } invitee { id } token }
  userErrors { code message }
} }"""
HOME = """query Home { viewer { member { id name } organization { id name } roles
  helpRequests { id } } flows { id title state progress { done total percent }
  nextStep { id title } steps { id title status scope roles optional completedAt
  candidates { id name } bodyHtml } } }"""


class Team:
    """Members of one organization, each with their own token."""

    def __init__(self, name: str) -> None:
        self.org = unique(name)
        self.headers: dict[str, dict[str, str]] = {}

    def add(self, member: str, *roles: str, **claims: Any) -> dict[str, str]:
        self.headers[member] = auth(self.org, member, roles, name=member.title(), **claims)
        return self.headers[member]


async def step(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    flow: str,
    step_id: str,
    key: str | None = None,
) -> dict[str, Any]:
    body = await graphql(
        client,
        STEP_MUTATION % name,
        headers,
        {"input": {"flowId": flow, "stepId": step_id, "idempotencyKey": key}},
    )
    assert "errors" not in body, body
    return body["data"][name]


async def statuses(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    flow = (await graphql(client, FLOW, headers, {"id": "reception-setup"}))["data"]["flow"]
    return flow


@contextlib.asynccontextmanager
async def subscription(app: Starlette, bearer: str) -> AsyncIterator[Any]:
    """A graphql-transport-ws subscription to progressChanged, token in connection_init."""
    transport = ASGIWebSocketTransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://heed.test") as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as socket,
    ):
        await socket.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
        )
        assert (await socket.receive_json(timeout=5))["type"] == "connection_ack"
        await socket.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": "subscription { progressChanged { flowId stepId action "
                    "memberId organizationId } }"
                },
            }
        )
        yield socket


async def next_events(socket: Any, count: int) -> list[dict[str, Any]]:
    events = []
    for _ in range(count):
        message = await socket.receive_json(timeout=10)
        assert message["type"] == "next", message
        events.append(message["payload"]["data"]["progressChanged"])
    return events


async def test_projectmap_scenario(client: httpx.AsyncClient, app: Starlette) -> None:
    team = Team("projectmap")
    brendan = team.add("brendan", "office_manager", locale="en")
    dana = team.add("dana", "billing", email="dana@projectmap.test")
    ivan = team.add("ivan", "it_admin")
    for headers in (brendan, dana, ivan):
        await graphql(client, "{ viewer { member { id } } }", headers)
    other = Team("other")
    olga = other.add("olga", "office_manager")

    brendan_token = brendan["Authorization"].split()[1]
    async with (
        subscription(app, brendan_token) as socket,
        subscription(app, olga["Authorization"].split()[1]) as foreign_socket,
    ):
        flow = await statuses(client, brendan)
        add_card = next(s for s in flow["steps"] if s["id"] == "add-card")
        assert add_card["status"] == "NEEDS_ROLE"
        assert add_card["roles"] == ["billing", "admin"]
        assert [c["id"] for c in add_card["candidates"]] == ["dana"]

        skipped = await step(client, brendan, "skipStep", "reception-setup", "add-card")
        assert skipped["step"]["status"] == "SKIPPED"
        assert skipped["userErrors"] == []

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
        request = asked["data"]["requestHelp"]["helpRequest"]
        assert request["invitee"] == {"id": "dana"}
        assert request["token"]

        locked = await step(client, brendan, "completeStep", "reception-setup", "install-ipad")
        assert locked["userErrors"][0]["code"] == "STEP_LOCKED"
        await step(client, brendan, "completeStep", "reception-setup", "create-account")
        installed = await step(client, brendan, "completeStep", "reception-setup", "install-ipad")
        assert installed["step"]["status"] == "DONE"

        inbox = await graphql(
            client,
            "{ viewer { helpRequests { id message stepTitle inviter { id name } "
            "organization { id } } } }",
            dana,
        )
        (received,) = inbox["data"]["viewer"]["helpRequests"]
        assert received["message"] == "Could you add the company card? Thanks!"
        assert received["inviter"] == {"id": "brendan", "name": "Brendan"}
        assert received["organization"]["id"] == team.org
        card = await step(client, dana, "completeStep", "reception-setup", "add-card")
        assert card["step"]["status"] == "DONE"

        tracked = await graphql(
            client,
            'mutation { track(input: {event: "directory.connected"}) '
            "{ completedSteps { id status } userErrors { code } } }",
            ivan,
        )
        assert tracked["data"]["track"]["completedSteps"] == [
            {"id": "connect-directory", "status": "DONE"}
        ]

        events = await next_events(socket, 6)
        assert [(e["stepId"], e["action"], e["memberId"]) for e in events] == [
            ("add-card", "SKIPPED", "brendan"),
            ("add-card", "HELP_REQUESTED", "brendan"),
            ("create-account", "COMPLETED", "brendan"),
            ("install-ipad", "COMPLETED", "brendan"),
            ("add-card", "COMPLETED", "dana"),
            (None, "BADGE_EARNED", "dana"),  # she unblocked Brendan's request: team-unblocker
        ]
        (directory,) = await next_events(socket, 1)
        assert (directory["stepId"], directory["memberId"]) == ("connect-directory", "ivan")
        assert all(e["organizationId"] == team.org for e in [*events, directory])
        with pytest.raises(TimeoutError):
            await foreign_socket.receive_json(timeout=0.5)

    final = await statuses(client, brendan)
    by_id = {s["id"]: s for s in final["steps"]}
    assert {k: v["status"] for k, v in by_id.items()} == {
        "create-account": "DONE",
        "add-card": "DONE",
        "connect-directory": "DONE",
        "add-nda": "NEEDS_ROLE",
        "install-ipad": "DONE",
    }
    assert by_id["add-card"]["completedBy"] == {"id": "dana"}
    assert final["progress"] == {"done": 4, "total": 4, "percent": 100.0}
    assert final["state"] == "COMPLETED"
    assert final["nextStep"] is None

    sent = await graphql(
        client, "{ viewer { sentHelpRequests { status resolvedBy { id } } } }", brendan
    )
    assert sent["data"]["viewer"]["sentHelpRequests"] == [
        {"status": "DONE", "resolvedBy": {"id": "dana"}}
    ]

    foreign = await statuses(client, olga)
    assert all(s["status"] != "DONE" for s in foreign["steps"])
    assert foreign["state"] == "NOT_STARTED"


async def test_home_query_runs_at_most_three_statements(
    client: httpx.AsyncClient, sql_counter: SQLCounter
) -> None:
    team = Team("home")
    ann = team.add("ann", "admin")
    for member in ("bob", "cid", "dee"):
        await graphql(client, "{ viewer { member { id } } }", team.add(member, "billing"))
    await step(client, ann, "completeStep", "reception-setup", "create-account")
    await graphql(client, HOME, ann)
    sql_counter.statements.clear()
    body = await graphql(client, HOME, ann)
    assert "errors" not in body, body
    assert len(body["data"]["flows"]) >= 2
    assert len(sql_counter.statements) <= 3, sql_counter.statements


async def test_fifty_members_completing_one_step_record_it_once(
    client: httpx.AsyncClient,
) -> None:
    team = Team("crowd")
    members = [team.add(f"m{i}", "admin") for i in range(50)]
    for headers in members:
        await graphql(client, "{ viewer { member { id } } }", headers)
    results = await asyncio.gather(
        *[
            step(client, headers, "completeStep", "reception-setup", "create-account")
            for headers in members
        ]
    )
    assert all(r["userErrors"] == [] and r["step"]["status"] == "DONE" for r in results)
    org_rows = StepState.filter(
        organization__external_id=team.org, flow_id="reception-setup", step_id="create-account"
    )
    assert await org_rows.count() == 1
    assert (
        await Event.filter(organization__external_id=team.org, name="step.completed").count() == 1
    )


async def test_retried_mutations_record_nothing_twice(client: httpx.AsyncClient) -> None:
    team = Team("retry")
    ann = team.add("ann", "admin")
    first = await step(client, ann, "completeStep", "reception-setup", "create-account", "k-1")
    again = await step(client, ann, "completeStep", "reception-setup", "create-account", "k-1")
    assert first == again
    # Besides Ann's joining (a `member.joined` event), the retried step recorded one event.
    events = Event.filter(organization__external_id=team.org).exclude(name="member.joined")
    assert await events.count() == 1
    request = {
        "flowId": "reception-setup",
        "stepId": "add-nda",
        "email": "lee@retry.test",
        "idempotencyKey": "k-2",
    }
    one = await graphql(client, REQUEST_HELP, ann, {"input": request})
    two = await graphql(client, REQUEST_HELP, ann, {"input": request})
    assert one == two
    without_key = {**request, "idempotencyKey": None}
    three = await graphql(client, REQUEST_HELP, ann, {"input": without_key})
    assert (
        three["data"]["requestHelp"]["helpRequest"]["id"]
        == (one["data"]["requestHelp"]["helpRequest"]["id"])
    ), "a duplicate open request is not created"
    assert await HelpRequest.filter(organization__external_id=team.org).count() == 1

    track = (
        'mutation { track(input: {event: "directory.connected", idempotencyKey: "k-3"})'
        " { completedSteps { id status } } }"
    )
    tracked = await graphql(client, track, ann)
    assert tracked == await graphql(client, track, ann)
    assert tracked["data"]["track"]["completedSteps"] == [
        {"id": "connect-directory", "status": "DONE"}
    ]
    assert await Event.filter(organization__external_id=team.org, kind="app").count() == 1


async def test_emailed_invite_reaches_the_member_who_signs_in_with_it(
    client: httpx.AsyncClient,
) -> None:
    team = Team("email")
    ann = team.add("ann", "office_manager")
    await graphql(
        client,
        REQUEST_HELP,
        ann,
        {"input": {"flowId": "reception-setup", "stepId": "add-card", "email": "Lee@Email.test"}},
    )
    lee = team.add("lee", "billing", email="lee@email.test")
    inbox = await graphql(client, "{ viewer { helpRequests { inviter { id } } } }", lee)
    assert inbox["data"]["viewer"]["helpRequests"] == [{"inviter": {"id": "ann"}}]
    row = await HelpRequest.get(organization__external_id=team.org)
    assert row.invitee_id is not None


async def test_emailing_a_colleague_already_here_asks_them_as_a_member(
    client: httpx.AsyncClient,
) -> None:
    team = Team("email-known")
    ann = team.add("ann", "office_manager")
    lee = team.add("lee", "billing", email="lee@email.test")
    await graphql(client, "{ __typename }", lee)
    asked = await graphql(
        client,
        REQUEST_HELP,
        ann,
        {"input": {"flowId": "reception-setup", "stepId": "add-card", "email": "LEE@email.test"}},
    )
    assert asked["data"]["requestHelp"]["helpRequest"]["invitee"] == {"id": "lee"}
    inbox = await graphql(client, "{ viewer { helpRequests { inviter { id } } } }", lee)
    assert inbox["data"]["viewer"]["helpRequests"] == [{"inviter": {"id": "ann"}}]


async def test_owner_assigns_and_sees_the_team(client: httpx.AsyncClient) -> None:
    team = Team("owner")
    admin = team.add("ann", "admin")
    bob = team.add("bob", "office_manager")
    await graphql(client, "{ viewer { member { id } } }", bob)
    refused = await graphql(
        client, 'mutation { setOnboardingOwner(memberId: "ann") { userErrors { code } } }', bob
    )
    assert refused["data"]["setOnboardingOwner"]["userErrors"][0]["code"] == "FORBIDDEN"
    named = await graphql(
        client,
        'mutation { setOnboardingOwner(memberId: "bob") { organization { owner { id } } '
        "userErrors { code } } }",
        admin,
    )
    assert named["data"]["setOnboardingOwner"]["organization"]["owner"] == {"id": "bob"}
    assigned = await graphql(
        client,
        'mutation { assignStep(input: {flowId: "reception-setup", stepId: "add-card", '
        'memberId: "ann"}) { step { assignee { id } } userErrors { code } } }',
        bob,
    )
    assert assigned["data"]["assignStep"]["step"]["assignee"] == {"id": "ann"}
    overview = await graphql(
        client,
        "{ organization { owner { id } progress { edges { node { flowId done total } } }"
        " members { edges { node { member { id } isOwner"
        " progress { edges { node { flowId percent } } } } } }"
        " helpRequests { edges { node { id } } } } }",
        bob,
    )
    organization = overview["data"]["organization"]
    assert organization["owner"] == {"id": "bob"}
    members = [edge["node"] for edge in organization["members"]["edges"]]
    assert {m["member"]["id"]: m["isOwner"] for m in members} == {
        "ann": False,
        "bob": True,
    }
    assert [e["node"]["flowId"] for e in organization["progress"]["edges"]] == ["reception-setup"]
    hidden = await graphql(
        client, "{ organization { members { totalCount } } }", team.add("cid", "billing")
    )
    assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_other_organizations_ids_lead_nowhere(client: httpx.AsyncClient) -> None:
    home, away = Team("home"), Team("away")
    ann = home.add("ann", "admin")
    eve = away.add("eve", "admin")
    for headers in (ann, eve):
        await graphql(client, "{ viewer { member { id } } }", headers)
    asked = await graphql(
        client,
        REQUEST_HELP,
        ann,
        {"input": {"flowId": "reception-setup", "stepId": "add-nda", "email": "x@home.test"}},
    )
    request_id = asked["data"]["requestHelp"]["helpRequest"]["id"]

    cancel = await graphql(
        client,
        "mutation($id: ID!) { cancelHelpRequest(id: $id) { userErrors { code } } }",
        eve,
        {"id": request_id},
    )
    assert cancel["data"]["cancelHelpRequest"]["userErrors"][0]["code"] == "NOT_FOUND"
    for mutation in (
        'requestHelp(input: {flowId: "reception-setup", stepId: "add-card", memberId: "ann"})',
        'assignStep(input: {flowId: "reception-setup", stepId: "add-card", memberId: "ann"})',
    ):
        body = await graphql(client, f"mutation {{ {mutation} {{ userErrors {{ code }} }} }}", eve)
        assert next(iter(body["data"].values()))["userErrors"][0]["code"] == "NOT_FOUND"
    owner = await graphql(
        client, 'mutation { setOnboardingOwner(memberId: "ann") { userErrors { code } } }', eve
    )
    assert owner["data"]["setOnboardingOwner"]["userErrors"][0]["code"] == "NOT_FOUND"
    await step(client, ann, "completeStep", "reception-setup", "create-account")
    eve_view = await statuses(client, eve)
    assert next(s for s in eve_view["steps"] if s["id"] == "create-account")["status"] != "DONE"
    overview = await graphql(client, "{ organization { helpRequests { totalCount } } }", eve)
    assert overview["data"]["organization"]["helpRequests"] == {"totalCount": 0}


async def test_unknown_flow_and_step_are_errors_as_data(client: httpx.AsyncClient) -> None:
    ann = Team("errors").add("ann", "admin")
    unknown_flow = await step(client, ann, "completeStep", "nope", "create-account")
    assert unknown_flow["userErrors"][0]["code"] == "NOT_FOUND"
    unknown_step = await step(client, ann, "completeStep", "reception-setup", "nope")
    assert unknown_step["userErrors"][0]["code"] == "NOT_FOUND"
    needs_role = await step(
        client,
        Team("r").add("bob", "office_manager"),
        "completeStep",
        "reception-setup",
        "add-card",
    )
    assert needs_role["userErrors"][0]["code"] == "ROLE_REQUIRED"
    assert sorted(needs_role["userErrors"][0]["roles"]) == ["admin", "billing"]


@pytest.mark.parametrize("kind", ["expired", "forged"])
async def test_bad_subscription_tokens_get_the_protocol_close_code(
    app: Starlette, kind: str
) -> None:
    claims = {"sub": "ann", "org": "acme", "exp": int(time.time()) - 120}
    bad = (
        jwt.encode(claims, TEST_SECRET, algorithm="HS256")
        if kind == "expired"
        else token("acme", "ann").rsplit(".", 1)[0] + ".forged-signature"
    )
    with pytest.raises((WebSocketDisconnect, ExceptionGroup)) as closed:
        async with subscription(app, bad) as socket:
            await socket.receive_json(timeout=5)
    assert close_code(closed.value) == 4403


def close_code(error: BaseException) -> int | None:
    """The close code, from the error or from inside the transport's exception group."""
    if isinstance(error, WebSocketDisconnect):
        return error.code
    if isinstance(error, BaseExceptionGroup):
        return next(
            (code for inner in error.exceptions if (code := close_code(inner)) is not None), None
        )
    return None


async def test_changes_reach_subscribers_on_another_worker(
    app: Starlette, settings: Settings
) -> None:
    """Two workers on one Postgres: Ivan's change on one reaches Ann's socket on the other."""
    if not settings.database_url.startswith("asyncpg"):
        pytest.skip("SQLite runs in one process: there is no other worker to reach")
    team = Team("workers")
    ann = team.add("ann", "admin")
    ivan = team.add("ivan", "it_admin")
    async with running_app(settings) as (_, other_worker):
        await graphql(other_worker, "{ viewer { member { id } } }", ivan)
        async with subscription(app, ann["Authorization"].split()[1]) as socket:
            await step(other_worker, ivan, "completeStep", "reception-setup", "connect-directory")
            (event,) = await next_events(socket, 1)
    assert (event["stepId"], event["memberId"]) == ("connect-directory", "ivan")


NEW_STEP = """
## Train the reception staff {#train-staff}

```step
roles: [office_manager, admin]
```

Walk the people at the front desk through one check-in.
"""


async def test_content_changes_do_not_break_people_mid_flow(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "content"
    shutil.copytree(ROOT / "content", root)
    database = await open_database(fresh_database_url, migrate=False)
    with using(database):
        await publish(root)
    await database.close_connections()
    team = Team("changes")
    ann = team.add("ann", "admin")
    async with running_app(replace(settings, database_url=fresh_database_url)) as (app, client):
        for step_id in ("create-account", "add-card", "connect-directory", "install-ipad"):
            await step(client, ann, "completeStep", "reception-setup", step_id)
        done = await statuses(client, ann)
        assert done["state"] == "COMPLETED"

        source = root / "flows" / "reception-setup.md"
        text = source.read_text()
        nda_start = text.index("## ", text.index("{#add-nda}") - 80)
        nda_end = text.index("## ", nda_start + 3)
        source.write_text(text[:nda_start] + text[nda_end:] + NEW_STEP)
        translation = root / "flows" / "reception-setup.ru.md"
        ru = translation.read_text()
        ru_start = ru.index("## ", ru.index("{#add-nda}") - 80)
        ru_end = ru.index("## ", ru_start + 3)
        translation.write_text(
            ru[:ru_start] + ru[ru_end:] + "\n## Обучите сотрудников {#train-staff}\n\nТекст.\n"  # noqa: RUF001
        )
        database = await open_database(fresh_database_url, migrate=False)
        with using(database):
            result = await publish(root)
        await database.close_connections()
        assert result.created
        await app.state.runtime.follower.refresh()

        changed = await statuses(client, ann)
    steps = {s["id"]: s["status"] for s in changed["steps"]}
    assert "add-nda" not in steps, "a removed step drops out"
    assert steps["train-staff"] == "AVAILABLE", "a new step appears not done"
    assert steps["add-card"] == "DONE", "progress is keyed by step id"
    assert changed["state"] == "COMPLETED", "a completed flow stays completed"
    assert changed["progress"] == {"done": 4, "total": 5, "percent": 80.0}


async def test_subscription_token_in_the_handshake_header(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    team = Team("header")
    ann = team.add("ann", "admin")
    transport = ASGIWebSocketTransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://heed.test") as ws_client,
        aconnect_ws(
            "/graphql", ws_client, subprotocols=["graphql-transport-ws"], headers=ann
        ) as socket,
    ):
        await socket.send_json({"type": "connection_init", "payload": {}})
        assert (await socket.receive_json(timeout=5))["type"] == "connection_ack"
        await socket.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { progressChanged { stepId memberId } }"},
            }
        )
        await asyncio.sleep(0.1)  # let the subscription register before the change
        await step(client, ann, "completeStep", "reception-setup", "create-account")
        (event,) = await next_events(socket, 1)
    assert event == {"stepId": "create-account", "memberId": "ann"}


FLOW_FIELDS = FLOW.split("flow(id: $id) ", 1)[1].rsplit("}", 1)[0]
COMPLETE_WITH_FLOW = (
    "mutation($input: StepInput!) { completeStep(input: $input) { userErrors { code } flow "
    + FLOW_FIELDS
    + "} }"
)


async def test_a_step_change_answers_from_its_own_transaction(
    client: httpx.AsyncClient, sql_counter: SQLCounter
) -> None:
    """The payload is built from the state the write left, without reading it again, and
    equals what a fresh read gives: the last step also completes the flow."""
    team = Team("payload")
    ann = team.add("ann", "admin")
    last = ("create-account", "add-card", "connect-directory", "add-nda", "install-ipad")
    for step_id in last[:-1]:
        await step(client, ann, "completeStep", "reception-setup", step_id)
    sql_counter.statements.clear()
    body = await graphql(
        client,
        COMPLETE_WITH_FLOW,
        ann,
        {"input": {"flowId": "reception-setup", "stepId": last[-1], "idempotencyKey": "k-1"}},
    )
    statements = list(sql_counter.statements)
    payload = body["data"]["completeStep"]
    assert payload["userErrors"] == []
    assert payload["flow"]["state"] == "COMPLETED"
    assert payload["flow"] == await statuses(client, ann)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # the key's replay check, the members, the state under the lock (and pg_notify)
    assert len(reads) <= 4, reads
    assert len(statements) <= 13, statements


async def test_a_step_change_costs_at_most_four_statements(
    client: httpx.AsyncClient, sql_counter: SQLCounter, database_url: str
) -> None:
    """Lock, one read under it, then the writes: on Postgres the writes (mark, events,
    answered help requests, flow completion, idempotency record, NOTIFY) are one statement."""
    team = Team("fourstatements")
    ann = team.add("ann", "admin")
    last = ("create-account", "add-card", "connect-directory", "add-nda", "install-ipad")
    for step_id in last[:-1]:
        await step(client, ann, "completeStep", "reception-setup", step_id)
    await graphql(
        client,
        REQUEST_HELP,
        ann,
        {"input": {"flowId": "reception-setup", "stepId": "install-ipad", "email": "lee@x.test"}},
    )
    sql_counter.statements.clear()
    done = await step(client, ann, "completeStep", "reception-setup", last[-1], "k-last")
    assert done["flow"]["progress"]["percent"] == 100.0
    assert "help_request" in " ".join(sql_counter.statements), "the open request is answered"
    statements = list(sql_counter.statements)
    assert statements[0].startswith("UPDATE organization SET state_version"), statements
    if database_url.startswith("asyncpg"):
        assert len(statements) <= 4, statements
    else:  # SQLite runs each write on its own, in process
        writes = [s for s in statements[2:] if not s.startswith("SELECT")]
        assert len(writes) == len(statements) - 2, statements
