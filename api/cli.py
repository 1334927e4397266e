"""The `heed` command: serve, migrate, mint development tokens, export the schema and data.

Every failure a user can cause (bad configuration, unreachable database) ends with one line
on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from api.auth import AuthError, mint_token, with_development_secret
from api.content import check_command, write_json_schema
from api.content.store import PublishConflict, PublishRefused, PublishResult, publish
from api.db import DatabaseUnavailable, open_database, using
from api.settings import ConfigError, Settings

DEV_TOKEN_ENV = "HEED_DEVELOPMENT_TOKEN"  # noqa: S105 (a variable name)


class CommandError(Exception):
    """Ends the command with this message and exit code 1."""


def load_settings() -> Settings:
    return with_development_secret(Settings.from_env())


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
            return await publish(root, default_locale=settings.default_locale)
    finally:
        await database.close_connections()


def publish_and_report(settings: Settings, root: Path) -> PublishResult:
    if not root.is_dir():
        raise CommandError(f"{root}: no such content folder (HEED_CONTENT_DIR)")
    try:
        result = asyncio.run(_publish(settings, root))
    except PublishRefused as refused:
        for problem in refused.problems:
            print(problem, file=sys.stderr)
        raise CommandError(f"{refused}: nothing was published") from None
    except PublishConflict as exc:
        raise CommandError(str(exc)) from None
    if result.created:
        print(
            f"published release {result.number}: {result.items} items, "
            f"{result.new_revisions} new revision(s)",
            flush=True,
        )
    else:
        print(f"release {result.number} already has this content: nothing to publish", flush=True)
    return result


def content_check_command(args: argparse.Namespace) -> None:
    root = Path(args.dir) if args.dir else load_settings().content_dir
    code = check_command(root, include_drafts=args.drafts)
    if code:
        sys.exit(code)


def content_publish_command(args: argparse.Namespace) -> None:
    settings = load_settings()
    publish_and_report(settings, Path(args.dir) if args.dir else settings.content_dir)


def content_schema_command(args: argparse.Namespace) -> None:
    write_json_schema(Path(args.output))
    print(f"wrote {args.output}")


def watch_content(settings: Settings, interval: float = 1.0) -> None:
    """Republish whenever a file under the content folder changes (runs in a thread)."""
    root = settings.content_dir

    def snapshot() -> dict[str, float]:
        return {str(path): path.stat().st_mtime for path in root.rglob("*") if path.is_file()}

    seen = snapshot()
    while True:
        time.sleep(interval)
        current = snapshot()
        if current == seen:
            continue
        seen = current
        try:
            publish_and_report(settings, root)
        except CommandError as exc:
            print(f"heed: {exc}", file=sys.stderr, flush=True)


def serve_command(args: argparse.Namespace) -> None:
    import uvicorn

    settings = load_settings()
    asyncio.run(_migrate(settings))
    if not settings.is_production:
        publish_and_report(settings, settings.content_dir)
    if args.watch:
        threading.Thread(target=watch_content, args=(settings,), daemon=True).start()
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
        print("Development token (member 'dev', organization 'demo', role admin):")
        print(token, flush=True)
    else:
        print(f"Heed is serving GraphQL on {url}", flush=True)
    uvicorn.run(
        "api.cli:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        proxy_headers=True,
    )


def app_from_environment() -> object:
    """Uvicorn's factory: each worker process builds its app from the same environment."""
    from api.app import create_app

    return create_app(load_settings(), development_token=os.environ.get(DEV_TOKEN_ENV))


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
    import csv

    from api.engagement.surveys import EXPORT_COLUMNS

    rows = asyncio.run(_survey_rows(load_settings(), args))
    with contextlib.ExitStack() as stack:
        out = (
            stack.enter_context(Path(args.output).open("w", newline="", encoding="utf-8"))
            if args.output
            else sys.stdout
        )
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow(
                [value.isoformat() if isinstance(value, dt.datetime) else value for value in row]
            )
    if args.output:
        print(f"wrote {len(rows)} answer(s) to {args.output}", file=sys.stderr)


def _moment(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


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
        prog="heed", description="Heed: a headless GraphQL API for B2B onboarding."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="migrate, publish ./content (development), and serve GraphQL on /graphql",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--watch", action="store_true", help="republish the content folder when files change"
    )
    serve.set_defaults(handler=serve_command)

    migrate = commands.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(handler=migrate_command)

    token = commands.add_parser(
        "token", help="print a member token signed with the configured secret"
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

    data_export = commands.add_parser("export", help="export stored data as CSV")
    data_commands = data_export.add_subparsers(dest="export_command", required=True)
    surveys = data_commands.add_parser(
        "surveys", help="every answer to one survey, one row per answer, as CSV"
    )
    surveys.add_argument("survey", help="the survey's id, e.g. frontdesk-nps")
    surveys.add_argument("--organization", help="only this organization (its external id)")
    surveys.add_argument("--since", type=_moment, help="answers from this ISO date/time (UTC)")
    surveys.add_argument("--until", type=_moment, help="answers before this ISO date/time")
    surveys.add_argument("--output", "-o", help="write to this file (default: stdout)")
    surveys.set_defaults(handler=export_surveys_command)

    export = commands.add_parser("export-schema", help="write the GraphQL SDL to schema.graphql")
    export.add_argument("--output", default="schema.graphql")
    export.add_argument("--check", action="store_true", help="fail if the file is out of date")
    export.set_defaults(handler=export_schema_command)
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
