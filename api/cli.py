"""The `heed` command: serve, migrate, mint development tokens, export the schema and data.

Every failure a user can cause (bad configuration, unreachable database) ends with one line
on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import errno
import os
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from api.auth import AuthError, mint_token
from api.command_line import CommandError, load_settings, moment, write_csv
from api.content import check_command, write_json_schema
from api.content.store import PublishConflict, PublishRefused, PublishResult, publish
from api.db import DatabaseUnavailable, is_postgres, open_database, using
from api.db.listen import Listener
from api.events import endpoints, store
from api.events.catalogue import catalogue
from api.events.endpoints import EndpointView
from api.events.worker import DeliveryWorker
from api.insight.export import add_commands as add_insight_commands
from api.observability import configure_logging
from api.settings import ConfigError, Settings

T = TypeVar("T")
DEV_TOKEN_ENV = "HEED_DEVELOPMENT_TOKEN"  # noqa: S105 (a variable name)
WATCH_POLL_SECONDS = 0.05


async def _migrate(settings: Settings) -> None:
    database = await open_database(settings.database_url, migrate=True)
    await database.close_connections()


def migrate_command(_: argparse.Namespace) -> None:
    settings = load_settings()
    asyncio.run(_migrate(settings))
    print(f"database is up to date ({_redacted(settings.database_url)})")


def token_command(args: argparse.Namespace) -> None:
    settings = load_settings()
    attributes = dict(_key_value(item) for item in args.attr)
    try:
        token = mint_token(
            settings,
            organization_id=args.org,
            member_id=args.member,
            roles=tuple(role for role in args.roles.split(",") if role),
            organization_name=args.org_name,
            name=args.name,
            email=args.email,
            locale=args.locale,
            attributes=attributes or None,
            ttl_seconds=args.ttl,
        )
    except AuthError as exc:
        raise CommandError(exc.reason) from None
    print(token)


async def _publish(settings: Settings, root: Path) -> PublishResult:
    database = await open_database(settings.database_url, migrate=True)
    try:
        with using(database):
            return await publish(
                root, default_locale=settings.default_locale, shown_from=Path.cwd()
            )
    finally:
        await database.close_connections()


def publish_and_report(settings: Settings, root: Path) -> PublishResult:
    if not root.is_dir():
        raise CommandError(f"{root}: no such content folder (HEED_CONTENT_DIR)")
    try:
        result = asyncio.run(_publish(settings, root))
    except PublishRefused as refused:
        _print_refused(refused)
        raise CommandError(f"{refused}: nothing was published") from None
    except PublishConflict as exc:
        raise CommandError(str(exc)) from None
    _print_published(result)
    return result


def _print_refused(refused: PublishRefused) -> None:
    for problem in refused.problems:
        print(problem, file=sys.stderr, flush=True)


def _print_published(result: PublishResult) -> None:
    for warning in result.warnings:
        print(warning, flush=True)
    if result.created:
        print(
            f"published release {result.number}: {result.items} items, "
            f"{result.new_revisions} new revision(s)",
            flush=True,
        )
    else:
        print(f"release {result.number} already has this content: nothing to publish", flush=True)


def content_check_command(args: argparse.Namespace) -> None:
    root = Path(args.dir) if args.dir else load_settings().content_dir
    code = check_command(root, include_drafts=args.drafts, watch=args.watch)
    if code:
        sys.exit(code)


def content_publish_command(args: argparse.Namespace) -> None:
    settings = load_settings()
    publish_and_report(settings, Path(args.dir) if args.dir else settings.content_dir)


def content_schema_command(args: argparse.Namespace) -> None:
    write_json_schema(Path(args.output))
    print(f"wrote {args.output}")


def watch_content(settings: Settings, refused_at_start: bool = False) -> None:
    """Republish the content folder whenever a content file changes (runs in a thread).
    `refused_at_start`: `serve` could not publish and printed why."""
    from api.content.watch import describe

    print(describe(settings.content_dir), flush=True)
    asyncio.run(_republish_on_change(settings, refused_at_start))


async def _republish_on_change(settings: Settings, refused_at_start: bool) -> None:
    """One event loop and one database connection for the watcher's life, and rendered
    items kept between publishes: after a save, only the changed file is read and rendered.
    A refused publish leaves the last good release live."""
    from api.content.model import Item
    from api.content.watch import changes

    root = settings.content_dir
    database = await open_database(settings.database_url, migrate=False)
    cache: dict[str, Item] = {}
    events = changes(root)
    first = True  # once the watch is in place: what changed since `serve` published
    try:
        while await asyncio.to_thread(next, events, None) is not None:
            try:
                with using(database):
                    result = await publish(
                        root,
                        default_locale=settings.default_locale,
                        cache=cache,
                        shown_from=Path.cwd(),
                    )
            except PublishRefused as refused:
                if not (first and refused_at_start):  # `serve` printed them already
                    _print_refused(refused)
                    print(
                        f"heed: {refused}: nothing was published; the last release stays live",
                        file=sys.stderr,
                        flush=True,
                    )
            except (PublishConflict, DatabaseUnavailable) as exc:
                print(f"heed: {exc}", file=sys.stderr, flush=True)
            else:
                if result.created or not first:
                    _print_published(result)
            first = False
    finally:
        await database.close_connections()


def listen(host: str, port: int) -> socket.socket:
    """Take the port before saying anything, so a port in use is one clear line, not a
    banner followed by a server failing to start."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} on {host} is already in use: stop what listens there, or pick "
                "another port (heed serve --port N, or make serve PORT=N)"
            ) from None
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def serve_command(args: argparse.Namespace) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from api.server import uvicorn_options

    settings = load_settings()
    configure_logging(settings.is_production)
    asyncio.run(_migrate(settings))
    refused = False
    if not settings.is_production:
        try:
            publish_and_report(settings, settings.content_dir)
        except CommandError as exc:
            if not (args.watch and settings.content_dir.is_dir()):
                raise
            # the writer fixes it and saves: the watcher publishes then
            print(f"heed: {exc}; serving the last release meanwhile", file=sys.stderr, flush=True)
            refused = True
    if args.watch:
        # SQLite has no NOTIFY: workers look for the watcher's releases this often
        os.environ.setdefault("HEED_RELEASE_POLL_SECONDS", str(WATCH_POLL_SECONDS))
        threading.Thread(target=watch_content, args=(settings, refused), daemon=True).start()
    sock = listen(args.host, args.port)
    url = f"http://{args.host}:{args.port}/graphql"
    if not settings.is_production:
        token = mint_token(
            settings,
            organization_id="demo",
            member_id="dev",
            roles=("admin",),
            organization_name="Demo Inc.",
            name="Dev Admin",
            email="dev@demo.test",
        )
        os.environ[DEV_TOKEN_ENV] = token
        print(f"Heed is serving GraphQL (and GraphiQL) on {url}")
        print("Development token (member 'dev', organization 'demo', role admin), for a shell:")
        print(f"export TOKEN={token}", flush=True)
    else:
        print(f"Heed is serving GraphQL on {url}", flush=True)
    # Each worker enforces its share of the rate limits (api.ratelimit).
    os.environ.setdefault("HEED_WORKERS", str(args.workers))
    config = uvicorn.Config(
        "api.cli:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,  # configure_logging's handlers, in every worker
        access_log=False,  # Heed writes its own line per request
        # Client addresses come from X-Forwarded-For only behind a trusted proxy, and the app
        # reads that header itself (HEED_TRUSTED_PROXIES): uvicorn's own rewriting stays off.
        proxy_headers=False,
        **uvicorn_options(settings.limits),
    )
    if args.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


def app_from_environment() -> object:
    """Uvicorn's factory: each worker process builds its app from the same environment."""
    from api.app import create_app

    settings = load_settings()
    configure_logging(settings.is_production)
    return create_app(settings, development_token=os.environ.get(DEV_TOKEN_ENV))


async def _with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    database = await open_database(settings.database_url, migrate=True)
    try:
        with using(database):
            return await work()
    finally:
        await database.close_connections()


def webhooks_command(args: argparse.Namespace) -> None:
    """`heed webhooks ...`: the same use cases as the GraphQL mutations, for operators."""
    settings = load_settings()
    action = args.webhooks_command

    async def work() -> None:
        if action == "list":
            for endpoint in await endpoints.list_endpoints(None):
                _print_endpoint(endpoint)
        elif action == "types":
            for event_type in catalogue().values():
                print(f"{event_type.name}\t{event_type.description}")
        elif action == "create":
            endpoint, secret = await endpoints.create(
                settings, None, args.url, _names(args.events), args.org, args.description
            )
            _print_endpoint(endpoint)
            print(f"secret: {secret}  (shown once: store it now)")
        elif action == "update":
            enabled = True if args.enable else (False if args.disable else None)
            endpoint = await endpoints.update(
                settings,
                None,
                args.id,
                url=args.url,
                events=_names(args.events) if args.events else None,
                description=args.description,
                enabled=enabled,
            )
            _print_endpoint(endpoint)
        elif action == "rotate-secret":
            endpoint, secret = await endpoints.rotate_secret(settings, None, args.id, args.overlap)
            _print_endpoint(endpoint)
            print(f"secret: {secret}  (shown once: store it now)")
        elif action == "delete":
            deleted = await endpoints.delete(None, args.id)
            print(f"deleted {deleted.id}")
        elif action == "replay":
            since = _datetime(args.since) if args.since else None
            queued = await endpoints.replay(
                None, delivery_id=args.delivery, endpoint_id=args.endpoint, since=since
            )
            print(f"queued {queued} message(s)")
        elif action == "deliveries":
            await _print_deliveries(args.id, args.first)

    try:
        asyncio.run(_with_database(settings, work))
    except endpoints.EndpointError as exc:
        raise CommandError(exc.message) from None


def _names(events: str) -> list[str]:
    return [name.strip() for name in events.split(",") if name.strip()]


def _datetime(value: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since expects an ISO date and time, not {value!r}") from None


def _print_endpoint(endpoint: EndpointView) -> None:
    state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason})"
    organization = endpoint.organization_id or "every organization"
    print(f"{endpoint.id}\t{endpoint.url}\t{','.join(endpoint.events)}\t{organization}\t{state}")


async def _print_deliveries(endpoint_id: str, first: int) -> None:
    found = [e for e in await endpoints.list_endpoints(None) if e.id == endpoint_id]
    if not found:
        raise CommandError(f"no such webhook endpoint: {endpoint_id}")
    for row in await store.deliveries(found[0].pk, first, None):
        outcome = "delivered" if row.succeeded else (row.error or "failed")
        print(
            f"{row.created_at.isoformat(timespec='seconds')}\t{row.id}\t{row.event_type}"
            f"\t{row.event_id}\tattempt {row.attempt}\t{row.status_code or '-'}"
            f"\t{row.latency_ms if row.latency_ms is not None else '-'} ms\t{outcome}"
        )


def worker_command(_: argparse.Namespace) -> None:
    """`heed worker`: deliver webhooks in a process of its own (then serve with
    HEED_WEBHOOK_DELIVERY=false, or keep both: workers share the queue on Postgres)."""
    settings = load_settings()
    print(f"Heed is delivering webhooks ({_redacted(settings.database_url)})", flush=True)
    asyncio.run(_deliver_forever(settings))


async def _deliver_forever(settings: Settings) -> None:
    database = await open_database(settings.database_url, migrate=True)
    listener = Listener(settings.database_url) if is_postgres(settings.database_url) else None
    worker = DeliveryWorker(database, settings, listener)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        if listener is not None:
            await listener.start()
        await worker.start()
        await stop.wait()  # until SIGTERM (or Ctrl-C)
    finally:
        await worker.stop()
        if listener is not None:
            await listener.stop()
        await database.close_connections()


def export_schema_command(args: argparse.Namespace) -> None:
    from schema import schema_sdl

    sdl = schema_sdl()
    path = Path(args.output)
    if args.check:
        if not path.exists() or path.read_text() != sdl:
            raise CommandError(f"{path} is out of date: run 'heed export-schema'")
        print(f"{path} matches the code")
        return
    path.write_text(sdl)
    print(f"wrote {path}")


def schema_changes_command(args: argparse.Namespace) -> None:
    from api.schema_changes import check

    outcome = check(Path.cwd(), args.schema, args.changelog, args.base)
    if outcome.base is None:
        print(f"{args.schema}: no earlier version to compare with (no git history or no base)")
        return
    base = outcome.base
    for name, text in outcome.breaking:
        state = "missing from" if (name, text) in outcome.unacknowledged else "acknowledged in"
        print(f"breaking: {text} ({name}: {state} {args.changelog})")
    if outcome.unacknowledged:
        names = ", ".join(sorted({name for name, _ in outcome.unacknowledged}))
        raise CommandError(
            f"{args.schema} breaks clients compared with {base.ref[:12]} ({base.why}): "
            f"acknowledge each change with a line in {args.changelog} such as "
            f"'- Breaking: `{outcome.unacknowledged[0][0]}` …' ({names}), or keep the schema "
            "compatible"
        )
    print(f"{args.schema}: no unacknowledged breaking change since {base.ref[:12]} ({base.why})")


async def _survey_rows(settings: Settings, args: argparse.Namespace) -> list[Sequence[object]]:
    from api.engagement.surveys import export_rows
    from api.progress.store import find_organization

    database = await open_database(settings.database_url, migrate=False)
    try:
        with using(database):
            organization_pk = None
            if args.organization:
                found = await find_organization(args.organization)
                if found is None:
                    raise CommandError(f"no organization {args.organization!r}")
                organization_pk = found[0]
            return await export_rows(args.survey, organization_pk, args.since, args.until)
    finally:
        await database.close_connections()


def export_surveys_command(args: argparse.Namespace) -> None:
    """Every answer to a survey as CSV: one row per answer (per option chosen)."""
    from api.engagement.surveys import EXPORT_COLUMNS

    rows = asyncio.run(_survey_rows(load_settings(), args))
    write_csv(args.output, EXPORT_COLUMNS, rows, "answer")


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise CommandError(f"--attr expects key=value, not {item!r}")
    return key, value


def _redacted(url: str) -> str:
    """Database URLs may carry a password: never print it."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in credentials else url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heed",
        description="Heed: a headless GraphQL API for B2B onboarding.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="migrate, publish ./content (development), and serve GraphQL on /graphql",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument(
        "--watch",
        action="store_true",
        help="republish the content folder (HEED_CONTENT_DIR) whenever a file in it changes",
    )
    serve.set_defaults(handler=serve_command)

    migrate = commands.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(handler=migrate_command)

    token = commands.add_parser(
        "token",
        help="print a member token signed with the configured secret",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    token.add_argument("--org", required=True, help="organization id (the token's 'org')")
    token.add_argument("--member", required=True, help="member id (the token's 'sub')")
    token.add_argument("--roles", default="", help="comma-separated roles, e.g. admin,billing")
    token.add_argument("--org-name", help="organization display name")
    token.add_argument("--name", help="member display name")
    token.add_argument("--email")
    token.add_argument("--locale", help="e.g. en, ru")
    token.add_argument(
        "--attr", action="append", default=[], metavar="KEY=VALUE", help="attribute (repeatable)"
    )
    token.add_argument("--ttl", type=int, default=30 * 24 * 3600, help="lifetime in seconds")
    token.set_defaults(handler=token_command)

    content = commands.add_parser("content", help="check and publish the markdown content")
    content_commands = content.add_subparsers(dest="content_command", required=True)
    check = content_commands.add_parser(
        "check", help="validate; print each problem as path:line:col: message"
    )
    check.add_argument("dir", nargs="?", help="content folder (default HEED_CONTENT_DIR)")
    check.add_argument("--drafts", action="store_true", help="check drafts as if published")
    check.add_argument(
        "--watch", action="store_true", help="check again whenever a content file changes"
    )
    check.set_defaults(handler=content_check_command)
    publish_parser = content_commands.add_parser(
        "publish", help="build and store a new release; running workers swap to it"
    )
    publish_parser.add_argument("dir", nargs="?", help="content folder (default HEED_CONTENT_DIR)")
    publish_parser.set_defaults(handler=content_publish_command)
    schema_parser = content_commands.add_parser(
        "schema", help="write the JSON Schema of the front matter, for writers' editors"
    )
    schema_parser.add_argument("--output", default="content/schema/front-matter.schema.json")
    schema_parser.set_defaults(handler=content_schema_command)

    webhooks = commands.add_parser("webhooks", help="manage outgoing webhook endpoints")
    hooks = webhooks.add_subparsers(dest="webhooks_command", required=True)
    hooks.add_parser("list", help="every endpoint: id, url, events, organization, state")
    hooks.add_parser("types", help="the event catalogue")
    create = hooks.add_parser("create", help="add an endpoint; prints its secret once")
    create.add_argument("url")
    create.add_argument(
        "--events", required=True, help='comma-separated event types, or "*" for all'
    )
    create.add_argument("--org", help="only this organization's events (its id)")
    create.add_argument("--description")
    update = hooks.add_parser("update", help="change, disable or enable an endpoint")
    update.add_argument("id")
    update.add_argument("--url")
    update.add_argument("--events", help="comma-separated event types")
    update.add_argument("--description")
    toggle = update.add_mutually_exclusive_group()
    toggle.add_argument("--enable", action="store_true")
    toggle.add_argument("--disable", action="store_true")
    rotate = hooks.add_parser(
        "rotate-secret", help="a new secret; the old one still signs during the overlap"
    )
    rotate.add_argument("id")
    rotate.add_argument("--overlap", type=int, help="seconds (default HEED_WEBHOOK_SECRET_...)")
    delete = hooks.add_parser("delete", help="remove an endpoint with its queue and log")
    delete.add_argument("id")
    replay = hooks.add_parser("replay", help="send a delivery again, or all events since")
    replay.add_argument("--delivery", help="a delivery id (from 'deliveries')")
    replay.add_argument("--endpoint", help="an endpoint id, with --since")
    replay.add_argument("--since", help="ISO date and time, e.g. 2026-11-30T08:00:00Z")
    log = hooks.add_parser("deliveries", help="an endpoint's delivery log, newest first")
    log.add_argument("id")
    log.add_argument("--first", type=int, default=20)
    for parser_ in (webhooks, *hooks.choices.values()):
        parser_.set_defaults(handler=webhooks_command)

    worker = commands.add_parser("worker", help="deliver webhooks (no GraphQL)")
    worker.set_defaults(handler=worker_command)

    data_export = commands.add_parser("export", help="export stored data as CSV")
    data_commands = data_export.add_subparsers(dest="export_command", required=True)
    surveys = data_commands.add_parser(
        "surveys", help="every answer to one survey, one row per answer, as CSV"
    )
    surveys.add_argument("survey", help="the survey's id, e.g. frontdesk-nps")
    surveys.add_argument("--organization", help="only this organization (its external id)")
    surveys.add_argument("--since", type=moment, help="answers from this ISO date/time (UTC)")
    surveys.add_argument("--until", type=moment, help="answers before this ISO date/time")
    surveys.add_argument("--output", "-o", help="write to this file (default: stdout)")
    surveys.set_defaults(handler=export_surveys_command)
    add_insight_commands(commands, data_commands)

    export = commands.add_parser("export-schema", help="write the GraphQL SDL to schema.graphql")
    export.add_argument("--output", default="schema.graphql")
    export.add_argument("--check", action="store_true", help="fail if the file is out of date")
    export.set_defaults(handler=export_schema_command)

    changes = commands.add_parser(
        "schema-changes",
        help="fail on breaking changes to the schema not acknowledged in the changelog",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    changes.add_argument("--schema", default="schema.graphql")
    changes.add_argument("--changelog", default="CHANGELOG.md")
    changes.add_argument(
        "--base", help="git ref to compare with (default: the merge-base with main)"
    )
    changes.set_defaults(handler=schema_changes_command)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], None] = args.handler
    try:
        handler(args)
    except (ConfigError, CommandError, DatabaseUnavailable) as exc:
        print(f"heed: {exc}", file=sys.stderr)
        sys.exit(2 if isinstance(exc, ConfigError) else 1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
