"""What operators see: Prometheus metrics at `/metrics` and one log line per request.

Each app owns its `Metrics` (its own registry, so several apps can share a process, as the
tests do). Other parts add their figures by registering on `metrics.registry`, e.g.
`Counter("heed_webhook_deliveries", "...", ["outcome"], registry=runtime.metrics.registry)`.
Figures read from live objects (database pool, release, open subscriptions) are collected at
scrape time, so they cost nothing per request.

Logs: JSON lines in production (one per request: request id, operation, organization,
duration, status), readable lines in development. Uvicorn's own access log is off: the
request line below replaces it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import sys
import time
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from graphql import GraphQLError, OperationDefinitionNode, parse
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.db import is_postgres, using

if TYPE_CHECKING:
    from api.runtime import Runtime

request_logger = logging.getLogger("heed.request")
disable_created_metrics()  # `*_created` series say when a worker started: noise per label

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Operation names come from clients: only plain names become labels, and only so many.
OPERATION_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
MAX_OPERATION_LABELS = 200
ANONYMOUS = "anonymous"
OTHER = "other"
# Fields a request log line may carry (the request's scope["state"] holds them).
LOG_FIELDS = ("request_id", "operation", "organization", "outcome")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "heed_graphql_requests",
            "GraphQL requests over HTTP, by operation name and outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "heed_graphql_request_duration_seconds",
            "Time to answer a GraphQL request over HTTP, by operation name",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answer_cache = Counter(
            "heed_answer_cache_lookups",
            "Answer-cache lookups for state-reading queries (hit: answered from memory)",
            ["result"],
            registry=self.registry,
        )
        self._hits, self._misses = self.answer_cache.labels("hit"), self.answer_cache.labels("miss")
        self.subscriptions: weakref.WeakSet[Any] = weakref.WeakSet()
        self._operations: set[str] = set()
        # The labelled series of each (operation, outcome), found once: `labels()` takes a
        # lock and checks its arguments on every call.
        self._series: dict[tuple[str | None, str], tuple[Any, Any]] = {}

    def operation_label(self, name: str | None) -> str:
        if not name:
            return ANONYMOUS
        if name in self._operations:
            return name
        if not OPERATION_NAME.match(name) or len(self._operations) >= MAX_OPERATION_LABELS:
            return OTHER
        self._operations.add(name)
        return name

    def observe(self, operation: str | None, outcome: str, seconds: float) -> None:
        series = self._series.get((operation, outcome))
        if series is None:
            label = self.operation_label(operation)
            series = (self.requests.labels(label, outcome), self.latency.labels(label))
            if len(self._series) < 4 * MAX_OPERATION_LABELS:
                self._series[(operation, outcome)] = series
        series[0].inc()
        series[1].observe(seconds)

    def answer_cache_lookup(self, hit: bool) -> None:
        (self._hits if hit else self._misses).inc()

    def watch(self, runtime: Runtime) -> None:
        """Collect the runtime's live figures at each scrape."""
        self.registry.register(RuntimeCollector(runtime, self.subscriptions))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RuntimeCollector(Collector):
    def __init__(self, runtime: Runtime, handlers: weakref.WeakSet[Any]) -> None:
        self.runtime = runtime
        self.handlers = handlers

    def collect(self) -> Iterator[Metric]:
        release = self.runtime.release
        number = GaugeMetricFamily("heed_release", "Number of the content release served")
        if release is not None:
            number.add_metric([], release.number)
            yield number
            info = InfoMetricFamily("heed_release", "The content release served")
            info.add_metric([], {"number": str(release.number), "hash": release.content_hash})
            yield info
        open_subscriptions = GaugeMetricFamily(
            "heed_open_subscriptions", "GraphQL subscriptions running on this worker"
        )
        open_subscriptions.add_metric([], sum(handler_operations(h) for h in self.handlers))
        yield open_subscriptions
        yield from self._pool()

    def _pool(self) -> Iterator[Metric]:
        if not is_postgres(self.runtime.settings.database_url):
            return
        with using(self.runtime.database):
            pool = getattr(self.runtime.database.connections.get("default"), "_pool", None)
        if pool is None:
            return
        size = GaugeMetricFamily("heed_db_pool_connections", "Open database connections")
        size.add_metric([], pool.get_size())
        busy = GaugeMetricFamily("heed_db_pool_in_use", "Database connections in use")
        busy.add_metric([], pool.get_size() - pool.get_idle_size())
        limit = GaugeMetricFamily("heed_db_pool_max", "Most database connections per worker")
        limit.add_metric([], pool.get_max_size())
        yield from (size, busy, limit)


def handler_operations(handler: Any) -> int:
    """Running operations of a WebSocket protocol handler (either protocol)."""
    running = handler.operations if hasattr(handler, "operations") else handler.tasks
    return len(running)


async def metrics_endpoint(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return Response(runtime.metrics.render(), media_type=PROMETHEUS_TEXT)


@functools.lru_cache(maxsize=512)
def document_operation_name(query: str) -> str | None:
    """The name of a document's only operation, for requests that send no operationName."""
    try:
        document = parse(query, no_location=True, max_tokens=5000)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) == 1 and operations[0].name:
        return operations[0].name.value
    return None


def note(request: Request, **fields: str | None) -> None:
    """Attach fields to the request's log line and metrics (operation, organization, ...)."""
    request.scope.setdefault("state", {}).update(fields)  # what `request.state` wraps


def outcome_of(status: int, body_start: bytes) -> str:
    if status == 304:
        return "not_modified"
    if status in (401, 403):
        return "unauthenticated"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "rejected"
    # Heed writes `errors` before `data`: a body with errors starts with it.
    return "errors" if body_start.startswith(b'{"errors"') else "ok"


class RequestObserver:
    """ASGI middleware: times each HTTP request, counts GraphQL ones, writes the log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 500, "body": b"", "request_id": None, "page": False}

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for key, value in message.get("headers", ()):
                    if key == b"x-request-id":
                        seen["request_id"] = value.decode("latin-1")
                    elif key == b"content-type" and value.startswith(b"text/html"):
                        seen["page"] = True  # GraphiQL, not a GraphQL request
            elif message["type"] == "http.response.body" and not seen["body"]:
                seen["body"] = message.get("body", b"")[:16]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - started
            state = scope.get("state", {})
            status: int = seen["status"]
            outcome = outcome_of(status, seen["body"])
            runtime: Runtime | None = getattr(scope["app"].state, "runtime", None)
            graphql = scope["path"] == "/graphql" and not seen["page"]
            if runtime is not None and graphql:
                runtime.metrics.observe(state.get("operation"), outcome, seconds)
            request_logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": seen["request_id"],
                    "operation": state.get("operation"),
                    "organization": state.get("organization"),
                    "outcome": outcome if graphql else None,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request fields when the record has them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in (*LOG_FIELDS, "status", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


class ReadableFormatter(logging.Formatter):
    """`12:00:01 INFO heed.request POST /graphql 200 Onboarding org=acme 3.1 ms req=…`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = [
            getattr(record, "operation", None),
            _labelled("org", getattr(record, "organization", None)),
            _labelled("", getattr(record, "duration_ms", None), " ms"),
            _labelled("req", getattr(record, "request_id", None)),
        ]
        return " ".join([text, *(extra for extra in extras if extra)])


def _labelled(label: str, value: object, unit: str = "") -> str | None:
    if value is None:
        return None
    return f"{label}={value}{unit}" if label else f"{value}{unit}"


def configure_logging(production: bool, stream: Any = None) -> None:
    """Heed's and uvicorn's loggers write to stderr: JSON in production, text otherwise."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if production else ReadableFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # No formatter of ours prints the caller, thread or process: not looking them up makes
    # each record (one a request) cheaper.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # No access log line: the request line above replaces it. Uvicorn decides per connection
    # whether to prepare one (client address, quoted path) by asking whether its logger has
    # handlers, so it must have none, not even through the root logger's.
    access = logging.getLogger("uvicorn.access")
    access.disabled = True
    access.propagate = False
    for noisy in ("tortoise", "aiosqlite", "asyncpg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
