"""What a client sees when something goes wrong on our side, and what the log says.

- Unexpected exceptions are masked (in production) and always carry the request id, on every
  transport: a schema extension for errors raised while executing, `guarded` for anything
  raised before or around execution.
- A lost database is a `503` with `Retry-After`, and an outage writes one log line when it
  starts and one when it ends (`DatabaseHealth`), not a traceback per request.
"""

from __future__ import annotations

import logging
import random
import re
import time
import traceback
from collections.abc import Awaitable, Callable

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import MaskErrors

from api.db import is_connection_failure
from api.errors import HeedError
from api.limits import clipped

logger = logging.getLogger("heed.errors")

RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = "the database is unavailable, try again shortly"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_of(request: Request) -> str:
    """The client's X-Request-Id when it is a short token (it reaches our logs), else a new
    one; the same for the whole request. New ones need to be unique, not unpredictable: no
    system call for them (`random` is seeded again in a forked worker)."""
    state = request.scope.setdefault("state", {})  # what `request.state` wraps
    cached: str | None = state.get("request_id")
    if cached is None:
        sent = request.headers.get("x-request-id")
        cached = sent if sent and _REQUEST_ID.fullmatch(sent) else f"{random.getrandbits(128):032x}"
        state["request_id"] = cached
    return cached


class DatabaseHealth:
    """Remembers whether the database was last seen up or down, so that an outage is logged
    once when it starts (with the first failure's reason) and once when it ends."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self.refused = 0

    def failed(self, error: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.refused = 0
            reason = f"{type(error).__name__}: {str(error)[:200]}"
            logger.error("database unavailable, answering 503 until it is back (%s)", reason)
        self.refused += 1

    def succeeded(self) -> None:
        if self.down_since is not None:
            seconds = time.monotonic() - self.down_since
            logger.warning(
                "database available again after %.1f s (%d requests answered 503)",
                seconds,
                self.refused,
            )
            self.down_since = None


HEALTH = DatabaseHealth()  # one per worker process: the database is shared by its apps


def described(exc: BaseException) -> str:
    """A traceback for the log whose exception text is clipped: messages from drivers and
    parsers may quote a client's input whole (a 200 KB id makes a 200 KB line otherwise)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    cause = exc.__cause__ or exc.__context__
    caused_by = f" (from {type(cause).__name__}: {clipped(str(cause))})" if cause else ""
    return f"{frames}{type(exc).__name__}: {clipped(str(exc), 500)}{caused_by}"


def unexpected_message(request_id: str) -> str:
    return f"Internal server error (request id {request_id})"


def error_body(message: str, code: str, request_id: str | None = None) -> bytes:
    extensions: dict[str, str] = {"code": code}
    if request_id:
        extensions["requestId"] = request_id
    return orjson.dumps({"errors": [{"message": message, "extensions": extensions}]})


def guarded(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """The HTTP catch-all: whatever escapes the endpoint becomes a JSON error with the request
    id (503 when the database is gone), never a text/plain 500 with a traceback in it."""

    async def endpoint_with_catch_all(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except Exception as exc:
            request_id = request_id_of(request)
            headers = {"x-request-id": request_id}
            if is_connection_failure(exc):
                HEALTH.failed(exc)
                headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
                body = error_body(UNAVAILABLE_MESSAGE, "SERVICE_UNAVAILABLE", request_id)
                return Response(body, 503, media_type="application/json", headers=headers)
            logger.error(
                "unexpected error before execution in request %s\n%s",
                request_id,
                described(exc),
            )
            body = error_body(unexpected_message(request_id), "INTERNAL_SERVER_ERROR", request_id)
            return Response(body, 500, media_type="application/json", headers=headers)
        if response.status_code != 503:
            HEALTH.succeeded()
        return response

    return endpoint_with_catch_all


class MaskUnexpectedErrors(MaskErrors):
    """Errors from our own code get a code and the request id on every transport; in
    production their message is replaced too. The original exception stays attached, so the
    HTTP edge still recognises a lost database."""

    def __init__(self, production: bool) -> None:
        super().__init__(should_mask_error=is_unexpected)
        self.production = production

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", "") or ""
        return masked(error, request_id, self.production)


def masked(error: GraphQLError, request_id: str, production: bool) -> GraphQLError:
    """An unexpected error as clients see it: a code and the request id (in production, no
    message of ours); the original exception stays attached."""
    original = error.original_error
    if original is not None and is_connection_failure(original):
        message, code = UNAVAILABLE_MESSAGE, "SERVICE_UNAVAILABLE"
    else:
        message = unexpected_message(request_id) if production else error.message
        code = "INTERNAL_SERVER_ERROR"
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions={"code": code, "requestId": request_id},
    )


def is_unexpected(error: GraphQLError) -> bool:
    """An exception from our code, as opposed to a syntax, validation or user error (Heed's
    own `HeedError` included)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | HeedError)
