"""What front-end teams and operators meet at the edge: metrics, request logs, persisted and
trusted documents, conditional GETs, GraphiQL served offline, named WebSocket refusals."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import jwt
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from api.graphiql import ASSETS_PATH, STATIC_DIR
from api.observability import JsonFormatter, Metrics, ReadableFormatter, outcome_of
from api.persisted import APQ_CAPACITY, DocumentRegistry, PersistedDocumentError
from api.settings import ConfigError, Settings
from tests.conftest import TEST_SECRET, auth, graphql, running_app, token, unique

CONTENT_QUERY = 'query Help { help(context: "dashboard") { id title } }'
RELEASE_QUERY = "query Release { release { number } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(query_hash: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": query_hash}}


def sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """One sample's value from the Prometheus text format."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    match = re.search(pattern, metrics_text, re.MULTILINE)
    return float(match.group(1)) if match else None


# Metrics


async def test_metrics_show_a_request_by_operation_and_outcome(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = auth(unique("acme"), unique("ann"))
    operation = f"Mine{unique('op').replace('-', '')}"
    query = f"query {operation} {{ viewer {{ member {{ id }} }} }}"
    await graphql(client, query, headers)
    await graphql(client, query, headers)  # the second is answered from memory
    await client.post("/graphql", json={"query": "{ nope }"}, headers=headers)
    pages_before = sample(
        (await client.get("/metrics")).text,
        "heed_graphql_requests_total",
        operation="anonymous",
        outcome="ok",
    )
    await client.get("/graphql", headers={"accept": "text/html"})  # GraphiQL: not counted
    text = (await client.get("/metrics")).text
    assert "_created" not in text
    assert sample(text, "heed_graphql_requests_total", operation="anonymous", outcome="ok") == (
        pages_before
    )

    assert sample(text, "heed_graphql_requests_total", operation=operation, outcome="ok") == 2
    assert sample(text, "heed_graphql_request_duration_seconds_count", operation=operation) == 2
    assert sample(text, "heed_graphql_requests_total", operation="anonymous", outcome="rejected")
    assert (sample(text, "heed_answer_cache_lookups_total", result="hit") or 0) >= 1
    assert (sample(text, "heed_answer_cache_lookups_total", result="miss") or 0) >= 1
    assert sample(text, "heed_release") is not None
    assert 'heed_release_info{hash="' in text
    assert sample(text, "heed_open_subscriptions") == 0
    if settings.database_url.startswith("asyncpg"):
        assert (sample(text, "heed_db_pool_max") or 0) == settings.database_pool_size
        assert sample(text, "heed_db_pool_in_use") is not None


def test_operation_labels_are_bounded() -> None:
    metrics = Metrics()
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("Home") == "Home"
    assert metrics.operation_label('x"} 1\nevil') == "other"
    for number in range(300):
        metrics.operation_label(f"Op{number}")
    assert metrics.operation_label("OneTooMany") == "other"
    assert metrics.operation_label("Home") == "Home"


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, b'{"data":{}}', "ok"),
        (200, b'{"errors":[{"m', "errors"),
        (304, b"", "not_modified"),
        (400, b'{"errors"', "rejected"),
        (401, b"", "unauthenticated"),
        (503, b"", "server_error"),
    ],
)
def test_outcomes(status: int, body: bytes, outcome: str) -> None:
    assert outcome_of(status, body) == outcome


async def test_open_subscriptions_are_counted(app: Starlette, client: httpx.AsyncClient) -> None:
    bearer = token(unique("acme"), unique("ann"))
    transport = ASGIWebSocketTransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://heed.test") as ws_client,
        aconnect_ws("/graphql", ws_client, subprotocols=["graphql-transport-ws"]) as socket,
    ):
        await socket.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
        )
        assert (await socket.receive_json(timeout=5))["type"] == "connection_ack"
        await socket.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { progressChanged { stepId } }"},
            }
        )
        for _ in range(50):
            text = (await client.get("/metrics")).text
            if sample(text, "heed_open_subscriptions") == 1:
                break
            await asyncio.sleep(0.05)
        assert sample(text, "heed_open_subscriptions") == 1


# Request logs


@pytest.fixture
def request_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("heed.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
    handler.formatter = None


async def test_one_json_line_per_request_in_production_form(
    client: httpx.AsyncClient, request_lines: io.StringIO
) -> None:
    org = unique("acme")
    headers = {**auth(org, unique("ann")), "x-request-id": "req-json-1"}
    logging.getLogger("heed.request").handlers[-1].setFormatter(JsonFormatter())
    await graphql(client, "query Me { viewer { member { id } } }", headers)
    lines = [json.loads(line) for line in request_lines.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "req-json-1"
    assert line["operation"] == "Me"
    assert line["organization"] == org
    assert line["status"] == 200
    assert line["outcome"] == "ok"
    assert isinstance(line["duration_ms"], float)
    assert headers["Authorization"].split()[1] not in request_lines.getvalue()


async def test_readable_line_in_development_form(
    client: httpx.AsyncClient, request_lines: io.StringIO
) -> None:
    org = unique("acme")
    logging.getLogger("heed.request").handlers[-1].setFormatter(ReadableFormatter())
    await graphql(client, "query Me { viewer { member { id } } }", auth(org, unique("ann")))
    line = request_lines.getvalue().strip()
    assert re.search(rf"POST /graphql 200 Me org={org} [\d.]+ ms req=\w+$", line), line


# Conditional GETs


async def test_content_gets_carry_an_etag_and_answer_304(client: httpx.AsyncClient) -> None:
    headers = auth(unique("acme"), unique("ann"))
    first = await client.get("/graphql", params={"query": CONTENT_QUERY}, headers=headers)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in first.headers["vary"]
    for sent in (etag, f"W/{etag}", f'"other", {etag}'):
        again = await client.get(
            "/graphql", params={"query": CONTENT_QUERY}, headers={**headers, "if-none-match": sent}
        )
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
    changed = await client.get(
        "/graphql", params={"query": CONTENT_QUERY}, headers={**headers, "if-none-match": '"x"'}
    )
    assert changed.status_code == 200
    assert changed.json() == first.json()


async def test_state_reads_and_posts_carry_no_etag(client: httpx.AsyncClient) -> None:
    headers = auth(unique("acme"), unique("ann"))
    state = await client.get("/graphql", params={"query": "{ viewer { roles } }"}, headers=headers)
    assert state.status_code == 200
    assert "etag" not in state.headers
    post = await client.post("/graphql", json={"query": CONTENT_QUERY}, headers=headers)
    assert "etag" not in post.headers


# Automatic persisted queries


async def test_automatic_persisted_queries(client: httpx.AsyncClient) -> None:
    headers = auth(unique("acme"), unique("ann"))
    query = f"query Apq {{ viewer {{ member {{ id }} }} }} # {unique('apq')}"
    query_hash = sha256(query)
    unknown = await client.post(
        "/graphql", json={"extensions": persisted(query_hash)}, headers=headers
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    mismatch = await client.post(
        "/graphql",
        json={"query": query, "extensions": persisted(sha256("something else"))},
        headers=headers,
    )
    assert mismatch.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"

    registered = await client.post(
        "/graphql", json={"query": query, "extensions": persisted(query_hash)}, headers=headers
    )
    assert registered.json()["data"]["viewer"]["member"]["id"].startswith("ann-")
    by_get = await client.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(query_hash))},
        headers=headers,
    )
    assert by_get.status_code == 200
    assert by_get.json() == registered.json()


def test_apq_keeps_a_bounded_number_of_documents() -> None:
    registry = DocumentRegistry()
    documents = [f"{{ __typename }} # {number}" for number in range(APQ_CAPACITY + 1)]
    for document in documents:
        registry.resolve({"query": document, "extensions": persisted(sha256(document))})
    with pytest.raises(PersistedDocumentError):
        registry.resolve({"extensions": persisted(sha256(documents[0]))})
    params: dict[str, object] = {"extensions": persisted(sha256(documents[-1]))}
    registry.resolve(params)
    assert params["query"] == documents[-1]


# Trusted documents


@pytest.fixture
def relay_manifest(tmp_path: Path) -> Path:
    """Relay's and GraphQL Codegen's format: {"<id>": "<document>"}."""
    path = tmp_path / "persisted-documents.json"
    path.write_text(
        json.dumps(
            {
                sha256(RELEASE_QUERY): RELEASE_QUERY,
                "custom-id-1": "subscription Live { progressChanged { stepId } }",
            }
        )
    )
    return path


async def test_trusted_documents_run_only_the_manifest(
    settings: Settings, relay_manifest: Path
) -> None:
    headers = auth(unique("acme"), unique("ann"))
    trusted = replace(settings, trusted_documents=relay_manifest)
    async with running_app(trusted) as (app, client):
        by_id = await client.post(
            "/graphql", json={"documentId": sha256(RELEASE_QUERY)}, headers=headers
        )
        assert by_id.json()["data"]["release"]["number"] >= 1
        by_hash = await client.get(
            "/graphql",
            params={"extensions": json.dumps(persisted(sha256(RELEASE_QUERY)))},
            headers=headers,
        )
        assert by_hash.json()["data"]["release"]["number"] >= 1
        in_full = await graphql(client, RELEASE_QUERY, headers)
        assert in_full["data"]["release"]["number"] >= 1
        other = await client.post(
            "/graphql", json={"query": "{ viewer { roles } }"}, headers=headers
        )
        assert other.status_code == 400
        assert other.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
        unknown = await client.post("/graphql", json={"documentId": "nope"}, headers=headers)
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

        bearer = headers["Authorization"]
        transport = ASGIWebSocketTransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://heed.test") as ws_client,
            aconnect_ws("/graphql", ws_client, subprotocols=["graphql-transport-ws"]) as socket,
        ):
            await socket.send_json(
                {"type": "connection_init", "payload": {"Authorization": bearer}}
            )
            assert (await socket.receive_json(timeout=5))["type"] == "connection_ack"
            untrusted = "subscription { progressChanged { flowId } }"
            await socket.send_json(
                {"id": "1", "type": "subscribe", "payload": {"query": untrusted}}
            )
            refused = await socket.receive_json(timeout=5)
            assert refused["type"] == "error"
            assert "registered documents" in refused["payload"][0]["message"]


def test_a_bad_manifest_stops_the_start(tmp_path: Path) -> None:
    env = {"HEED_TRUSTED_DOCUMENTS": str(tmp_path / "missing.json")}
    with pytest.raises(ConfigError, match="HEED_TRUSTED_DOCUMENTS: cannot read"):
        Settings.from_env(env)
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected an object"):
        Settings.from_env({"HEED_TRUSTED_DOCUMENTS": str(broken)})
    apollo = tmp_path / "apollo.json"
    apollo.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": "a1", "name": "R", "type": "query", "body": RELEASE_QUERY}],
            }
        )
    )
    assert Settings.from_env({"HEED_TRUSTED_DOCUMENTS": str(apollo)}).trusted_documents == apollo


# GraphiQL


async def test_graphiql_is_served_from_heed_itself(settings: Settings) -> None:
    app_token = "dev.token.value"
    from api.app import create_app

    app = create_app(settings, development_token=app_token)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://heed.test") as client:
            page = await client.get("/graphql", headers={"accept": "text/html"})
            assert page.status_code == 200
            assert "https://" not in page.text.split("<body>")[0]
            assert f"Bearer {app_token}" in page.text
            assert "query Onboarding" in page.text
            for name in ("graphiql.min.js", "graphiql.min.css", "graphql-ws.min.js"):
                asset = await client.get(f"{ASSETS_PATH}/{name}")
                assert asset.status_code == 200
                assert asset.content == (STATIC_DIR / name).read_bytes()


# WebSocket refusals


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("expired", "Forbidden: token expired"),
        ("forged", "Forbidden: token signature does not verify"),
        ("missing", "Forbidden: missing Authorization header"),
    ],
)
async def test_refused_sockets_say_why(app: Starlette, kind: str, reason: str) -> None:
    claims = {"sub": "ann", "org": "acme", "exp": int(time.time()) - 120}
    payloads = {
        "expired": {"Authorization": f"Bearer {jwt.encode(claims, TEST_SECRET, 'HS256')}"},
        "forged": {"Authorization": f"Bearer {jwt.encode(claims | {'exp': 2**31}, 'x' * 40)}"},
        "missing": {},
    }
    with pytest.raises((WebSocketDisconnect, ExceptionGroup)) as closed:
        await _connect(app, payloads[kind])
    disconnect = _disconnect(closed.value)
    assert disconnect is not None
    assert disconnect.code == 4403
    assert (disconnect.reason or "").startswith(reason)


async def _connect(app: Starlette, payload: dict[str, str]) -> None:
    transport = ASGIWebSocketTransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://heed.test") as ws_client,
        aconnect_ws("/graphql", ws_client, subprotocols=["graphql-transport-ws"]) as socket,
    ):
        await socket.send_json({"type": "connection_init", "payload": payload})
        await socket.receive_json(timeout=5)


def _disconnect(error: BaseException) -> WebSocketDisconnect | None:
    if isinstance(error, WebSocketDisconnect):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _disconnect(inner)
            if found is not None:
                return found
    return None
