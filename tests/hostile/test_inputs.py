"""Every hostile input of the hardening review, over HTTP and over WebSocket: each gets a clear
client error (400/401, a GraphQL error, a close code or a userError), never a 500, an
INTERNAL_SERVER_ERROR, a dropped socket or an unmasked message."""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

import httpx
import jwt
import orjson
import pytest
from starlette.applications import Starlette

from tests.conftest import TEST_SECRET, auth, unique
from tests.hostile.transports import over_http, over_websocket, send

TRANSPORTS = ("http", "ws")
TRACK = (
    'mutation($p: JSON) { track(input: {event: "app.opened", properties: $p}) '
    "{ userErrors { code } } }"
)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def nested_object_literal(depth: int) -> str:
    return "{a: " * depth + "1" + "}" * depth


def signed(**claims: Any) -> dict[str, str]:
    body = {"sub": unique("ann"), "org": unique("acme"), "exp": int(time.time()) + 300}
    body.update(claims)
    return {"Authorization": "Bearer " + jwt.encode(body, TEST_SECRET, "HS256")}


def raw_token(header: bytes, payload: bytes) -> dict[str, str]:
    """A token with arbitrary bytes in its parts, signed like a real one."""
    import hashlib
    import hmac

    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(payload)}".encode()
    signature = hmac.new(TEST_SECRET.encode(), signing_input, hashlib.sha256).digest()
    return {"Authorization": f"Bearer {signing_input.decode()}.{part(signature)}"}


@pytest.fixture
def member() -> dict[str, str]:
    return auth(unique("acme"), unique("ann"), ("admin",))


VARIABLE_CASES = {
    "variables nested 255 deep": ("{ viewer { roles } }", {"x": nested(255)}),
    "track properties nested 255 deep": (TRACK, {"p": {"a": nested(255)}}),
    "track properties with 2^64": (TRACK, {"p": {"n": 2**64}}),
    "track properties with -2^70": (TRACK, {"p": {"n": -(2**70)}}),
    "track properties over the JSON size": (TRACK, {"p": {"s": "x" * 40_000}}),
    "a 129-character memberId": (
        "mutation($m: ID!) { setOnboardingOwner(memberId: $m) { userErrors { code } } }",
        {"m": "m" * 129},
    ),
    "a 129-character id inside an input object": (
        "mutation($i: StepInput!) { completeStep(input: $i) { userErrors { code } } }",
        {"i": {"flowId": "f" * 129, "stepId": "s"}},
    ),
    "a NUL in a variable": ("query($c: String!) { help(context: $c) { id } }", {"c": "a\x00b"}),
}

LITERAL_CASES = {
    "track properties literal nested 200 deep": (
        'mutation { track(input: {event: "x", properties: '
        + nested_object_literal(200)
        + "}) { userErrors { code } } }"
    ),
    "track properties literal with 2^64": (
        'mutation { track(input: {event: "x", properties: {n: 18446744073709551616}}) '
        "{ userErrors { code } } }"
    ),
    "a 129-character memberId literal": (
        'mutation { setOnboardingOwner(memberId: "' + "m" * 129 + '") { userErrors { code } } }'
    ),
    "a 200 KB memberId literal": (
        'mutation { setOnboardingOwner(memberId: "' + "m" * 200_000 + '") { userErrors { code } } }'
    ),
    "a NUL in a string literal": '{ help(context: "a\\u0000b") { id } }',
    "a lone surrogate in a string literal": '{ help(context: "a\\ud800b") { id } }',
    "thousands of repeated fields": "{ viewer { " + "member { id } " * 1200 + "} }",
    "nested help requests five levels deep": (
        "{ organization { helpRequests { organization { helpRequests { organization { "
        "helpRequests { organization { helpRequests { organization { helpRequests { id } "
        "} } } } } } } } } }"
    ),
    "thirty aliases of content(first: 100)": "{ "
    + " ".join(
        f"a{i}: content(first: 100) {{ edges {{ node {{ id bodyHtml bodyTree }} }} }}"
        for i in range(30)
    )
    + " }",
}

TOKEN_CASES = {
    "a NUL in name": {"name": "Ann\x00"},
    "a lone surrogate in name": {"name": "Ann\ud800"},
    "a NUL in sub": {"sub": "ann\x00"},
    "a lone surrogate in org": {"org": "acme\udfff"},
    "attrs nested 300 deep": {"attrs": {"a": nested(300)}},
    "attrs with 2^64": {"attrs": {"n": 2**64}},
    "attrs too large": {"attrs": {"s": "x" * 10_000}},
    "a role with a NUL": {"roles": ["admin\x00"]},
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", sorted(VARIABLE_CASES))
async def test_hostile_variables_are_refused(
    transport: str, case: str, app: Starlette, client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    query, variables = VARIABLE_CASES[case]
    outcome = await send(transport, app, client, query, variables, member)
    outcome.assert_refused()
    if transport == "http":
        assert outcome.status == 400, outcome


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", sorted(LITERAL_CASES))
async def test_hostile_documents_are_refused(
    transport: str, case: str, app: Starlette, client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    outcome = await send(transport, app, client, LITERAL_CASES[case], None, member)
    outcome.assert_refused()
    assert all("Validation aborted" not in error["message"] for error in outcome.errors)
    if transport == "http":
        assert outcome.status == 400, outcome


async def test_deep_variables_over_get_are_refused(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "{ viewer { roles } }", "variables": json.dumps({"x": nested(255)})},
        headers=member,
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/")


async def test_the_cost_is_said_and_refusal_is_clear(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    outcome = await over_http(
        client, LITERAL_CASES["thirty aliases of content(first: 100)"], None, member
    )
    (error,) = outcome.errors
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] > error["extensions"]["maximumCost"]
    small = await over_http(client, "{ content(first: 5) { edges { node { id } } } }", None, member)
    assert small.status == 200
    assert orjson.loads(small.text)["extensions"]["cost"]["requestedQueryCost"] > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", sorted(TOKEN_CASES))
async def test_hostile_token_claims_are_401(
    transport: str, case: str, app: Starlette, client: httpx.AsyncClient
) -> None:
    headers = signed(**TOKEN_CASES[case])
    outcome = await send(transport, app, client, "{ viewer { roles } }", None, headers)
    outcome.assert_not_a_crash()
    if transport == "http":
        assert outcome.status == 401, outcome
    else:
        assert outcome.close_code == 4403, outcome


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (b'{"alg":"HS256","typ":"JWT"}', b"\xff\xfe not utf-8"),
        (b"\xff\xff", b"{}"),
        (b'{"alg":"HS256"}', b'{"sub": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        (b'{"alg":"HS256"}', b'{"sub":"a","org":"b","exp":' + b"9" * 5000 + b"}"),
    ],
)
async def test_token_decoding_errors_do_not_reach_clients(
    header: bytes, payload: bytes, client: httpx.AsyncClient
) -> None:
    outcome = await over_http(client, "{ viewer { roles } }", None, raw_token(header, payload))
    assert outcome.status == 401, outcome
    message = outcome.errors[0]["message"]
    for leak in ("codec", "utf-8", "decode", "Invalid payload", "Expecting", "digits"):
        assert leak not in message, message


async def test_unparseable_tokens_are_401(client: httpx.AsyncClient) -> None:
    for token in ("a.b.c", "x" * 20_000, "%C3%A9.e.e", "...."):
        response = await client.post(
            "/graphql",
            json={"query": "{ viewer { roles } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401, token


async def test_a_lone_surrogate_in_websocket_variables_is_refused(
    app: Starlette, member: dict[str, str]
) -> None:
    """JSON over HTTP cannot carry one (orjson refuses it); a WebSocket message can."""
    message = (
        '{"id": "1", "type": "subscribe", "payload": {"query": '
        '"query($c: String!) { help(context: $c) { id } }", "variables": {"c": "a\\ud800"}}}'
    )
    outcome = await over_websocket(app, "", None, member, raw_message=message)
    outcome.assert_refused()
    assert outcome.codes == ["BAD_USER_INPUT"], outcome


async def test_a_two_megabyte_track_is_refused_on_both_transports(
    app: Starlette, client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    variables = {"p": {"blob": "x" * 2_000_000}}
    over_http_outcome = await over_http(client, TRACK, variables, member)
    assert over_http_outcome.status == 413
    outcome = await over_websocket(app, TRACK, variables, member)
    assert outcome.close_code == 1009, outcome


async def test_deeply_nested_json_bodies_are_refused(
    app: Starlette, client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    over_http_outcome = await over_http(client, "", None, member, raw_body=deep.encode())
    assert over_http_outcome.status == 400, over_http_outcome
    outcome = await over_websocket(app, "", None, member, raw_message=deep)
    assert outcome.close_code == 4400, outcome


@pytest.mark.parametrize(
    "message",
    [
        "[]",
        '"x"',
        '{"type": 1}',
        '{"id": [1], "type": "subscribe", "payload": {}}',
        '{"id": "1", "type": "subscribe", "payload": []}',
        '{"id": "1", "type": "subscribe", "payload": {"query": 5}}',
        '{"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { roles } }", '
        '"variables": [1]}}',
    ],
)
async def test_malformed_websocket_messages_get_a_close_code_or_an_error(
    message: str, app: Starlette, member: dict[str, str]
) -> None:
    outcome = await over_websocket(app, "", None, member, raw_message=message)
    outcome.assert_refused()


async def test_long_ids_do_not_make_long_log_lines(
    client: httpx.AsyncClient, member: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    huge = "m" * 200_000
    for query, variables in (
        (
            "mutation($m: ID!) { setOnboardingOwner(memberId: $m) { userErrors { code } } }",
            {"m": huge},
        ),
        ('mutation { setOnboardingOwner(memberId: "' + huge + '") { userErrors { code } } }', {}),
        ('query($n: Int) { help(context: "x", first: $n) { id } }', {"n": huge}),
    ):
        outcome = await over_http(client, query, variables, member)
        assert outcome.status == 400
    longest = max((len(record.getMessage()) for record in caplog.records), default=0)
    assert longest < 2_000


async def test_request_ids_from_clients_are_bounded(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    sent = {**member, "X-Request-Id": "r" * 10_000}
    response = await client.post("/graphql", json={"query": "{ viewer { roles } }"}, headers=sent)
    assert len(response.headers["x-request-id"]) <= 64
    kept = await client.post(
        "/graphql",
        json={"query": "{ viewer { roles } }"},
        headers={**member, "X-Request-Id": "abc-1"},
    )
    assert kept.headers["x-request-id"] == "abc-1"


class _BrokenRelease:
    """A release whose every attribute fails: an unexpected error inside execution."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("secret internals: /srv/heed/db password=hunter2")


async def test_unexpected_errors_are_masked_with_the_request_id(
    production_settings: Any, member: dict[str, str]
) -> None:
    from tests.conftest import running_app

    async with running_app(production_settings) as (app, client):
        runtime = app.state.runtime
        good = runtime.release
        runtime.release = _BrokenRelease()
        try:
            outcomes = [
                await over_http(client, "{ release { number } }", None, member),
                await over_websocket(app, "{ release { number } }", None, member),
            ]
        finally:
            runtime.release = good

        # Before execution: whatever escapes the endpoint is a JSON 500, never text/plain.
        async def broken_question(*_: Any) -> Any:
            raise RuntimeError("secret internals before execution")

        runtime.answers.question = broken_question
        before = await client.post(
            "/graphql", json={"query": "{ viewer { roles } }"}, headers=member
        )
    for outcome in outcomes:
        assert "secret" not in outcome.text, outcome
        (error,) = outcome.errors
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert error["extensions"]["requestId"] in error["message"]
    assert before.status_code == 500
    assert before.headers["content-type"] == "application/json"
    assert "secret" not in before.text
    assert before.json()["errors"][0]["extensions"]["requestId"] == before.headers["x-request-id"]


def test_connection_level_database_errors_are_classified() -> None:
    import asyncpg

    from api.db import is_connection_failure

    lost = [
        asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        ConnectionResetError(104, "Connection reset by peer"),
        OSError("Connect call failed"),
    ]
    for error in lost:
        wrapped = RuntimeError("wrapped")
        wrapped.__cause__ = error
        assert is_connection_failure(wrapped), error
    assert not is_connection_failure(asyncpg.UniqueViolationError("duplicate key"))
    assert not is_connection_failure(ValueError("bad input"))


async def test_websocket_subscriptions_per_socket_are_capped(
    app: Starlette, member: dict[str, str]
) -> None:
    from httpx_ws import aconnect_ws
    from httpx_ws.transport import ASGIWebSocketTransport

    limit = app.state.runtime.settings.limits.max_subscriptions_per_socket
    transport = ASGIWebSocketTransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://heed.test") as ws_client,
        aconnect_ws("/graphql", ws_client, subprotocols=["graphql-transport-ws"]) as socket,
    ):
        await socket.send_json({"type": "connection_init", "payload": member})
        assert (await socket.receive_json(timeout=5))["type"] == "connection_ack"
        query = "subscription { progressChanged { stepId } }"
        for number in range(limit + 1):
            await socket.send_json(
                {"id": str(number), "type": "subscribe", "payload": {"query": query}}
            )
        refused = await socket.receive_json(timeout=5)
    assert refused["type"] == "error"
    assert refused["id"] == str(limit)


async def test_websocket_sockets_per_member_are_capped(
    app: Starlette, member: dict[str, str]
) -> None:
    import contextlib

    from httpx_ws import WebSocketDisconnect, aconnect_ws
    from httpx_ws.transport import ASGIWebSocketTransport

    limit = app.state.runtime.settings.limits.max_sockets_per_member
    async with contextlib.AsyncExitStack() as stack:
        transport = ASGIWebSocketTransport(app=app)
        ws_client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://heed.test")
        )
        for _ in range(limit):
            socket = await stack.enter_async_context(
                aconnect_ws("/graphql", ws_client, subprotocols=["graphql-transport-ws"])
            )
            await socket.send_json({"type": "connection_init", "payload": member})
            assert (await socket.receive_json(timeout=5))["type"] == "connection_ack"
        extra = await stack.enter_async_context(
            aconnect_ws("/graphql", ws_client, subprotocols=["graphql-transport-ws"])
        )
        await extra.send_json({"type": "connection_init", "payload": member})
        with pytest.raises(WebSocketDisconnect) as closed:
            await extra.receive_json(timeout=5)
    assert closed.value.code == 4429
    # Closed sockets free their place.
    outcome = await over_websocket(app, "{ viewer { roles } }", None, member)
    assert outcome.errors == []
    assert outcome.data == {"viewer": {"roles": ["admin"]}}
