"""The GraphQL-over-HTTP contract, limits and error handling, through the real app."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import httpx
import pytest
from starlette.datastructures import Headers

from api.graphql_http import LookupHeaders
from api.settings import Limits, Settings
from tests.conftest import auth, drop_database, running_app, unique

GRAPHQL_RESPONSE = "application/graphql-response+json"
QUERY = "{ viewer { member { id } } }"


@pytest.fixture
def headers() -> dict[str, str]:
    return auth(unique("acme"), unique("ann"))


async def test_post_answers_in_the_spec_media_type(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/graphql", json={"query": QUERY}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.headers["x-request-id"]


async def test_get_runs_queries(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/graphql", params={"query": QUERY}, headers=headers)
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["member"]["id"]


async def test_get_refuses_mutations_with_405(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/graphql", params={"query": "mutation { x }"}, headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("accept", "status", "media_type"),
    [
        (GRAPHQL_RESPONSE, 400, GRAPHQL_RESPONSE),
        ("application/json", 200, "application/json"),
        ("*/*", 200, "application/json"),
        ("", 200, "application/json"),
        ("application/*", 200, "application/json"),
    ],
)
async def test_syntax_errors_status_depends_on_media_type(
    client: httpx.AsyncClient, headers: dict[str, str], accept: str, status: int, media_type: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ viewer {"}, headers={**headers, "accept": accept}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == media_type
    body = response.json()
    assert "data" not in body
    assert "Syntax Error" in body["errors"][0]["message"]


async def test_validation_errors_have_no_data_entry(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/graphql", json={"query": "{ nope }"}, headers=headers)
    assert response.status_code == 400
    assert "data" not in response.json()
    assert "nope" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "message"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        ({"json": []}, 400, "JSON object"),
        ({"json": {"query": 3}}, 400, "'query' must be a string"),
        ({"json": {"query": QUERY, "variables": "x"}}, 400, "'variables' must be an object"),
        ({"json": {"query": QUERY, "operationName": 1}}, 400, "'operationName'"),
        ({"content": QUERY, "headers": {"content-type": "text/plain"}}, 415, "application/json"),
        ({"json": {"query": QUERY}, "headers": {"accept": "text/csv"}}, 406, "cannot answer"),
    ],
)
async def test_malformed_requests_are_refused_clearly(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    request_kwargs: dict[str, object],
    status: int,
    message: str,
) -> None:
    extra_headers = request_kwargs.pop("headers", {})
    response = await client.post(
        "/graphql",
        headers={**headers, **extra_headers},
        **request_kwargs,  # type: ignore[arg-type]
    )
    assert response.status_code == status
    assert message in response.json()["errors"][0]["message"]


async def test_oversized_bodies_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings
) -> None:
    padding = "#" * (settings.limits.max_body_bytes + 1)
    response = await client.post("/graphql", json={"query": QUERY + padding}, headers=headers)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_depth_limit(settings: Settings, headers: dict[str, str]) -> None:
    shallow = replace(settings, limits=replace(settings.limits, max_depth=1))
    async with running_app(shallow) as (_, client):
        ok = await client.post("/graphql", json={"query": "{ viewer { roles } }"}, headers=headers)
        assert ok.status_code == 200, ok.text
        deep = await client.post("/graphql", json={"query": QUERY}, headers=headers)
    assert deep.status_code == 400
    assert "exceeds maximum operation depth" in deep.json()["errors"][0]["message"]


async def test_alias_limit(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings
) -> None:
    def aliases(count: int) -> str:
        return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"

    ok = await client.post(
        "/graphql", json={"query": aliases(settings.limits.max_aliases)}, headers=headers
    )
    assert ok.status_code == 200
    refused = await client.post(
        "/graphql", json={"query": aliases(settings.limits.max_aliases + 1)}, headers=headers
    )
    assert refused.status_code == 400
    assert "aliases found" in refused.json()["errors"][0]["message"]


async def test_token_limit(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings
) -> None:
    assert settings.limits.max_tokens == 5000
    query = "{ " + "__typename " * settings.limits.max_tokens + "}"
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 400
    assert "more than 5000 tokens" in response.json()["errors"][0]["message"]


async def test_the_home_query_of_a_front_end_fits_the_default_limits() -> None:
    """The defaults must never reject a legitimate query: a wide, typical one stays inside."""
    limits = Limits()
    assert limits.max_depth >= 8
    assert limits.max_aliases >= 20
    assert limits.max_tokens >= 2000


async def test_limits_do_not_defeat_the_document_caches(
    client: httpx.AsyncClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.execution

    calls: list[str] = []

    def counted(name: str, function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return function(*args, **kwargs)

        return call

    # A content query: state-reading ones repeated unchanged are answered from the answer cache.
    query = '{ help(context: "settings") { id title } }'
    for _ in range(3):
        await client.post("/graphql", json={"query": query}, headers=headers)
    monkeypatch.setattr(api.execution, "parse", counted("parse", api.execution.parse))
    validate = api.execution.validation_errors
    monkeypatch.setattr(api.execution, "validation_errors", counted("validate", validate))
    for _ in range(5):
        response = await client.post("/graphql", json={"query": query}, headers=headers)
        assert response.json()["data"]["help"]
    assert calls == []
    await client.post("/graphql", json={"query": query + " "}, headers=headers)
    assert calls == ["parse", "validate"]


async def test_graphiql_in_development(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_production_hides_graphiql_and_introspection(
    production_settings: Settings, headers: dict[str, str]
) -> None:
    async with running_app(production_settings) as (_, client):
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        introspection = await client.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}, headers=headers
        )
        assert introspection.status_code == 400
        assert "introspection" in introspection.json()["errors"][0]["message"].lower()
        ordinary = await client.post("/graphql", json={"query": QUERY}, headers=headers)
        assert ordinary.status_code == 200


async def test_unexpected_errors_are_masked_in_production_and_logged_with_request_id(
    production_settings: Settings,
    headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import resolvers.viewer

    def broken(_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(resolvers.viewer, "viewer", broken)
    async with running_app(production_settings) as (_, client):
        with caplog.at_level(logging.ERROR, logger="heed.graphql"):
            response = await client.post(
                "/graphql", json={"query": QUERY}, headers={**headers, "x-request-id": "req-42"}
            )
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert "secret" not in response.text
    assert error["message"] == "Internal server error (request id req-42)"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    logged = [record for record in caplog.records if record.levelno >= logging.ERROR]
    # The traceback is in the line, its exception text clipped (api.errors.described).
    assert any(
        "req-42" in r.getMessage() and "RuntimeError: secret" in r.getMessage() for r in logged
    )


async def test_client_mistakes_are_not_logged_as_server_errors(
    client: httpx.AsyncClient, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await client.post("/graphql", json={"query": "{ viewer {"}, headers=headers)
        await client.post("/graphql", json={"query": "{ nope }"}, headers=headers)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_secrets_never_reach_the_logs(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, settings: Settings
) -> None:
    headers = auth(unique("acme"), unique("ann"))
    with caplog.at_level(logging.DEBUG):
        await client.post("/graphql", json={"query": QUERY}, headers=headers)
        await client.post("/graphql", json={"query": QUERY}, headers={"authorization": "Bearer x"})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert headers["Authorization"].split()[1] not in logged
    assert settings.jwt_secret is not None
    assert settings.jwt_secret not in logged


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] is True


async def test_database_gone_gives_503_and_not_ready(
    settings: Settings, fresh_database_url: str
) -> None:
    """Postgres dropped under a running app: a member not seen before needs it, and is told so."""
    if not fresh_database_url.startswith("asyncpg"):
        pytest.skip("an embedded SQLite file cannot go away under a running app")
    async with running_app(replace(settings, database_url=fresh_database_url)) as (_, client):
        assert (await client.get("/readyz")).json()["checks"]["database"] is True
        drop_database(fresh_database_url)
        response = await client.post(
            "/graphql", json={"query": QUERY}, headers=auth(unique("acme"), unique("ann"))
        )
        assert response.status_code == 503
        assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] is False


def test_limits_are_configurable() -> None:
    settings = Settings.from_env({"HEED_MAX_DEPTH": "5", "HEED_MAX_ALIASES": "3"})
    assert replace(settings.limits, max_tokens=Limits().max_tokens) == Limits(
        max_depth=5, max_aliases=3, max_body_bytes=Limits().max_body_bytes
    )


def test_lookup_headers_answer_as_starlette_headers() -> None:
    """The endpoint's dict of headers answers every lookup as Starlette's list does: any
    case, the first of repeated headers, absent ones."""
    raw = [
        (b"authorization", b"Bearer first"),
        (b"accept", b"*/*"),
        (b"authorization", b"Bearer second"),
        (b"x-request-id", b"abc"),
    ]
    scope = {"type": "http", "headers": raw}
    ours, theirs = LookupHeaders(scope), Headers(scope=scope)
    for name in ("authorization", "Authorization", "accept", "X-Request-Id", "x-forwarded-for"):
        assert ours.get(name) == theirs.get(name)
        assert (name in ours) == (name in theirs)
    assert ours["AUTHORIZATION"] == "Bearer first"
    assert ours.getlist("authorization") == ["Bearer first", "Bearer second"]
    with pytest.raises(KeyError):
        ours["x-absent"]
