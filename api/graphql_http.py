"""GraphQL over HTTP, as the GraphQL-over-HTTP specification describes it.

Strawberry executes; this module owns the HTTP contract: media types
(`application/graphql-response+json` first, `application/json` for older clients), the status
codes that go with each, authentication, body limits, and masking of unexpected errors.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from api.answers import Question, root_fields
from api.auth import AuthError
from api.content.preview import PreviewInvalid
from api.context import Context
from api.db import DatabaseUnavailable, is_connection_failure
from api.faults import HEALTH, RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, request_id_of
from api.graphiql import graphiql_html
from api.limits import InputRejected, check_variables
from api.observability import document_operation_name, note
from api.persisted import PersistedDocumentError, requested_hash
from api.ratelimit import RateLimited, client_address
from api.runtime import Runtime
from schema import is_unexpected

logger = logging.getLogger("heed.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
QUERY_ONLY = frozenset({OperationType.QUERY})
QUERY_AND_MUTATION = frozenset({OperationType.QUERY, OperationType.MUTATION})


class LookupHeaders(Headers):
    """Headers read from a dict made once per request: the endpoint asks for a dozen, most of
    them absent, and Starlette's `Headers` scans the whole list for each (raising KeyError
    inside `get` for every absent one). The first of repeated headers wins, as there."""

    def __init__(self, scope: Mapping[str, Any]) -> None:
        super().__init__(scope=scope)
        self._by_name = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in reversed(self._list)
        }

    def get(self, key: str, default: Any = None) -> Any:
        return self._by_name.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return self._by_name[key.lower()]

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower() in self._by_name


class GraphQLRequest(Request):
    """A GraphQL request over HTTP, with `LookupHeaders`."""

    @property
    def headers(self) -> Headers:
        found: Headers | None = getattr(self, "_lookup_headers", None)
        if found is None:
            found = self._lookup_headers = LookupHeaders(self.scope)
        return found


class RequestError(Exception):
    """The request is not a GraphQL request we can run; answered before any execution."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


async def graphql_endpoint(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    request_id = request_id_of(request)
    if _wants_ide(request):
        if not runtime.settings.is_production:
            return HTMLResponse(graphiql_html(runtime.development_token))
        return _error_response(404, "GraphiQL is disabled in production", JSON, request_id)
    media_type = JSON
    try:
        media_type = _negotiate(request.headers.get("accept", ""))
        address = _client_address(request, runtime)
        runtime.limiter.before_authentication(address)
        params = await _read_params(request, runtime.settings.limits.max_body_bytes)
        _resolve_document(request, runtime, params)
        _check_inputs(params, runtime)
        try:
            context = await _build_context(request, runtime, request_id)
        except AuthError:
            runtime.limiter.failed_authentication(address)
            raise
        note(request, organization=getattr(context.principal, "organization_id", None))
        runtime.limiter.after_authentication(
            context.principal, params["query"], params.get("operationName")
        )
        question = await _question(runtime, context, params)
        if question is not None:
            cached = runtime.answers.get(question)
            runtime.metrics.answer_cache_lookup(cached is not None)
            if cached is not None:
                return _ok(cached, media_type, request_id)
        result = await runtime.schema.execute(
            params["query"],
            variable_values=params.get("variables"),
            context_value=context,
            operation_name=params.get("operationName"),
            allowed_operation_types=QUERY_ONLY if request.method == "GET" else QUERY_AND_MUTATION,
        )
    except PreviewInvalid as exc:
        body = {"data": None, "errors": [exc.formatted]}
        return Response(orjson.dumps(body), 200, media_type=media_type)
    except AuthError as exc:
        status = {"FORBIDDEN": 403, "BAD_REQUEST": 400}.get(exc.code, 401)
        return _error_response(status, exc.reason, media_type, request_id, exc.code)
    except RequestError as exc:
        return _error_response(exc.status, exc.message, media_type, request_id, headers=exc.headers)
    except RateLimited as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        return _error_response(429, exc.message, media_type, request_id, "RATE_LIMITED", headers)
    except PersistedDocumentError as exc:
        status = 400 if media_type == GRAPHQL_RESPONSE else 200
        return _error_response(status, exc.message, media_type, request_id, exc.code)
    except InvalidOperationTypeError:
        return _error_response(
            405,
            "mutations are only accepted over POST",
            media_type,
            request_id,
            headers={"Allow": "POST"},
        )
    except MissingQueryError:
        return _error_response(400, "the request has no query", media_type, request_id)
    except CannotGetOperationTypeError as exc:
        return _error_response(400, exc.as_http_error_reason(), media_type, request_id)
    except DatabaseUnavailable as exc:
        HEALTH.failed(exc)
        return _unavailable(media_type, request_id)
    response = _result_response(result, media_type, request_id, runtime.settings.is_production)
    if question is not None and not result.errors and result.data is not None:
        runtime.answers.put(question, bytes(response.body), context.catalog)
    if request.method == "GET" and response.status_code == 200 and not result.errors:
        return _conditional(request, runtime, params, response)
    return response


def _resolve_document(request: Request, runtime: Runtime, params: dict[str, Any]) -> None:
    """Persisted and trusted documents become the query they name; the operation's name is
    noted for metrics and the request log."""
    runtime.documents.resolve(params)
    name = params.get("operationName") or document_operation_name(params["query"])
    note(request, operation=name)


def _conditional(
    request: Request, runtime: Runtime, params: dict[str, Any], response: Response
) -> Response:
    """Content-only GET answers carry an ETag (a hash of the answer, so it changes exactly
    when the answer does) and are answered 304 to a matching If-None-Match. They depend on
    the token's audience, so only private caches may keep them, and must revalidate."""
    roots = root_fields(params["query"], params.get("operationName"), runtime.answers.max_tokens)
    if roots is None or runtime.answers.reads_state(roots):
        return response
    etag = '"' + hashlib.blake2b(bytes(response.body), digest_size=16).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization, Accept",
        "x-request-id": response.headers["x-request-id"],
    }
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _client_address(request: Request, runtime: Runtime) -> str:
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    return client_address(peer, forwarded, runtime.settings.trusted_proxies)


def _check_inputs(params: Mapping[str, Any], runtime: Runtime) -> None:
    """Variables are bounded before anything reads them (the answer cache serializes them)."""
    try:
        check_variables(params.get("variables"), runtime.settings.limits)
    except InputRejected as exc:
        raise RequestError(400, str(exc)) from None


async def _question(runtime: Runtime, context: Context, params: dict[str, Any]) -> Question | None:
    with _database_failures:
        return await runtime.answers.question(context, params)


class _DatabaseFailures:
    """A lost database outside execution is answered like one lost mid-query: 503. (A class,
    not a generator: every request enters it twice.)"""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, _: object) -> None:
        if isinstance(error, Exception) and is_connection_failure(error):
            raise DatabaseUnavailable(str(error)) from error


_database_failures = _DatabaseFailures()


def _ok(body: bytes, media_type: str, request_id: str) -> Response:
    return Response(body, 200, media_type=media_type, headers={"x-request-id": request_id})


def _wants_ide(request: Request) -> bool:
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and "text/html" in request.headers.get("accept", "")
    )


@functools.lru_cache(maxsize=64)
def _negotiate(accept: str) -> str:
    """The spec's media type when the client names it; JSON for clients that name JSON, a
    wildcard or nothing (as the spec asks, for older clients); refuse anything else."""
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")} - {""}
    if GRAPHQL_RESPONSE in types:
        return GRAPHQL_RESPONSE
    if not types or types & {JSON, "application/*", "*/*"}:
        return JSON
    raise RequestError(406, f"cannot answer with any of: {accept}; ask for {GRAPHQL_RESPONSE}")


async def _read_params(request: Request, max_body_bytes: int) -> dict[str, Any]:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        for key in ("variables", "extensions"):
            if key in params:
                params[key] = _parse_json(params[key], key)
    elif request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise RequestError(415, f"send the request body as {JSON}")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise RequestError(413, f"request body larger than {max_body_bytes} bytes")
        body = await _read_body(request, max_body_bytes)
        params = _parse_json(body, "body")
        if not isinstance(params, dict):
            raise RequestError(400, "the request body must be a JSON object")
    else:
        raise RequestError(405, "use GET or POST", {"Allow": "GET, POST"})
    _check_params(params)
    return params


async def _read_body(request: Request, max_body_bytes: int) -> bytes:
    """The body, within the size limit. The time it may take is the server's to bound (one
    deadline for a request's headers and body, in `api.server`): a client that trickles it
    is answered 408 there, and seen gone here."""
    body = bytearray()
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise RequestError(408, "the client left before its request body arrived")
        body += message.get("body", b"")
        if len(body) > max_body_bytes:
            raise RequestError(413, f"request body larger than {max_body_bytes} bytes")
        if not message.get("more_body", False):
            return bytes(body)


def _parse_json(raw: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"{what} is not valid JSON: {exc}") from None


def _check_params(params: Mapping[str, Any]) -> None:
    if not isinstance(params.get("query"), str) and requested_hash(params) is None:
        raise RequestError(400, "'query' must be a string holding a GraphQL document")
    expected = {"variables": dict, "operationName": str, "extensions": dict}
    for key, kind in expected.items():
        value = params.get(key)
        if value is not None and not isinstance(value, kind):
            raise RequestError(
                400, f"'{key}' must be {'an object' if kind is dict else 'a string'}"
            )


async def _build_context(request: Request, runtime: Runtime, request_id: str) -> Context:
    context = Context(request, runtime, request_id)
    with _database_failures:
        await context.sign_in(request.headers)
    return context


def _result_response(
    result: ExecutionResult, media_type: str, request_id: str, production: bool
) -> Response:
    errors = result.errors or []
    if any(is_connection_failure(e.original_error) for e in errors if e.original_error):
        return _unavailable(media_type, request_id)
    body: dict[str, Any] = {}
    if errors:
        body["errors"] = [_format_error(error, request_id, production) for error in errors]
    if isinstance(result, PreExecutionError) or (
        result.data is None and errors and all(error.path is None for error in errors)
    ):
        # The request never reached execution (parse, validation or variable errors):
        # no `data` entry at all, as the spec requires.
        status = 400 if media_type == GRAPHQL_RESPONSE else 200
    else:
        body["data"] = result.data
        status = 200
    if result.extensions:
        body["extensions"] = result.extensions
    return Response(
        orjson.dumps(body), status, media_type=media_type, headers={"x-request-id": request_id}
    )


def _unavailable(media_type: str, request_id: str) -> Response:
    return _error_response(
        503,
        UNAVAILABLE_MESSAGE,
        media_type,
        request_id,
        code="SERVICE_UNAVAILABLE",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _format_error(error: GraphQLError, request_id: str, production: bool) -> dict[str, Any]:
    formatted = error.formatted
    if is_unexpected(error):
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        if production:
            formatted["message"] = f"Internal server error (request id {request_id})"
    return formatted


def _error_response(
    status: int,
    message: str,
    media_type: str,
    request_id: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    codes = {
        401: "UNAUTHENTICATED",
        408: "REQUEST_TIMEOUT",
        413: "PAYLOAD_TOO_LARGE",
        429: "RATE_LIMITED",
        503: "SERVICE_UNAVAILABLE",
    }
    error = {"message": message, "extensions": {"code": code or codes.get(status, "BAD_REQUEST")}}
    all_headers = {"x-request-id": request_id, **(headers or {})}
    if status == 401:
        all_headers["WWW-Authenticate"] = 'Bearer realm="heed"'
    return Response(
        orjson.dumps({"errors": [error]}), status, media_type=media_type, headers=all_headers
    )
