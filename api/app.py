"""The ASGI application: routes, lifespan, and the database context each request runs in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Lifespan, Receive, Scope, Send

from api.answers import AnswerCache
from api.content.follow import ReleaseFollower
from api.content.preview import DraftPreview
from api.db import is_postgres, is_reachable, open_database, using
from api.db.listen import Listener
from api.events.worker import DeliveryWorker
from api.faults import guarded
from api.graphiql import ASSETS_PATH, graphiql_assets
from api.graphql_http import GraphQLRequest, graphql_endpoint
from api.insight.cases import PortfolioMemo
from api.insight.nudges import NudgeJob
from api.members import MemberRegistry
from api.observability import RequestObserver, metrics_endpoint
from api.persisted import DocumentRegistry, load_manifest
from api.progress.live import ProgressHub
from api.ratelimit import RateLimiter
from api.runtime import Runtime
from api.settings import Settings
from api.websocket import SubscriptionEndpoint
from schema import CLOCK_FIELDS, build_schema, state_root_fields


class DatabaseContextMiddleware:
    """Enter this app's Tortoise context for each request.

    Tortoise keeps its connections in a context variable; entering it here (rather than
    Tortoise's process-global fallback) lets several apps with different databases share a
    process, as the test suite does with SQLite and Postgres.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime: Runtime | None = getattr(scope["app"].state, "runtime", None)
        if runtime is None or scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        with using(runtime.database):
            await self.app(scope, receive, send)


class Subscriptions:
    """ASGI hand-off to the runtime's WebSocket endpoint (an instance, so Starlette passes
    the raw ASGI call instead of a WebSocket object)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["app"].state.runtime.subscriptions(scope, receive, send)


class HeedApp(Starlette):
    """Starlette, with GraphQL over HTTP taken straight to its endpoint.

    The endpoint answers every outcome itself (`guarded`), so Starlette's error and exception
    middleware, its router and its request wrapper do nothing for it, yet they cost about a
    tenth of a small request's CPU (each also wraps `send`). Such a request still runs inside
    the observer and the database context; other paths, methods and WebSockets take
    Starlette's way.
    """

    def __init__(self, routes: list[BaseRoute], lifespan: Lifespan[Starlette]) -> None:
        super().__init__(routes=routes, lifespan=lifespan)
        self.add_middleware(DatabaseContextMiddleware)
        self.add_middleware(RequestObserver)
        self._graphql = RequestObserver(DatabaseContextMiddleware(_graphql_over_http))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/graphql"
            and scope["method"] in GRAPHQL_METHODS
        ):
            scope["app"] = self
            await self._graphql(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


GRAPHQL_METHODS = frozenset({"GET", "HEAD", "POST"})  # what the /graphql route accepts
_graphql_endpoint = guarded(graphql_endpoint)


async def _graphql_over_http(scope: Scope, receive: Receive, send: Send) -> None:
    response = await _graphql_endpoint(GraphQLRequest(scope, receive, send))
    await response(scope, receive, send)


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    checks = {
        "database": await is_reachable(runtime.database),
        "content": runtime.release is not None,
    }
    ready = all(checks.values())
    release = runtime.release.number if runtime.release else None
    return JSONResponse(
        {"ready": ready, "checks": checks, "release": release}, status_code=200 if ready else 503
    )


def create_app(settings: Settings, *, development_token: str | None = None) -> HeedApp:
    """The app expects a migrated database: `heed serve` and the tests migrate first."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = await open_database(
            settings.database_url, migrate=False, pool_size=settings.database_pool_size
        )
        listener = Listener(settings.database_url) if is_postgres(settings.database_url) else None
        schema = build_schema(
            settings.limits,
            introspection=not settings.is_production,
            production=settings.is_production,
        )
        progress_hub = ProgressHub(listener)
        runtime = Runtime(
            settings=settings,
            schema=schema,
            database=database,
            members=MemberRegistry(progress_hub),
            preview=DraftPreview(
                settings.content_dir,
                default_locale=settings.default_locale,
                fallback=settings.locale_fallback,
            ),
            progress_hub=progress_hub,
            answers=AnswerCache(
                state_root_fields(schema),
                settings.limits.max_tokens,
                settings.answer_cache_mb * 1024 * 1024,
                CLOCK_FIELDS,
            ),
            limiter=RateLimiter(settings.rate_limits),
            development_token=development_token,
            documents=DocumentRegistry(
                load_manifest(settings.trusted_documents) if settings.trusted_documents else None
            ),
        )
        runtime.metrics.watch(runtime)
        follower = ReleaseFollower(
            database,
            listener,
            runtime.serve,
            default_locale=settings.default_locale,
            fallback=settings.locale_fallback,
            poll_seconds=settings.release_poll_seconds,
        )
        runtime.subscriptions = SubscriptionEndpoint(runtime)
        runtime.follower = follower
        if settings.webhooks.delivery:
            runtime.webhooks = DeliveryWorker(database, settings, listener)
        runtime.portfolios = PortfolioMemo(settings.insight_cache_seconds)
        if settings.nudges.in_serve:
            runtime.nudges = NudgeJob(
                database,
                settings.nudges,
                lambda: runtime.release.catalog if runtime.release else None,
                lambda: runtime.clock(),
            )
        app.state.runtime = runtime
        try:
            if listener is not None:
                await listener.start()
            await follower.start()
            if runtime.webhooks is not None:
                await runtime.webhooks.start()
            if runtime.nudges is not None:
                await runtime.nudges.start()
            yield
        finally:
            if runtime.nudges is not None:
                await runtime.nudges.stop()
            if runtime.webhooks is not None:
                await runtime.webhooks.stop()
            await follower.stop()
            if listener is not None:
                await listener.stop()
            await database.close_connections()

    routes: list[BaseRoute] = [
        Route("/graphql", _graphql_endpoint, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", Subscriptions()),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
    ]
    if not settings.is_production:
        routes.append(Mount(ASSETS_PATH, graphiql_assets()))
    return HeedApp(routes, lifespan)
