"""`heed export milestones | health | activation | funnel` and `heed nudge`: the insight
tables as CSV, one row per organization (per milestone, per funnel step), and one run of the
insight job for cron. Registered on the `heed` parser by `add_commands`, so the command
module stays small."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from api.command_line import CommandError, load_settings, moment, write_csv
from api.content import Catalog
from api.content.store import load_release
from api.db import open_database, using
from api.insight import cases
from api.insight.accounts import AccountInsight, account_insights, success_plan
from api.insight.nudges import run_nudges
from api.insight.store import organizations
from api.progress.store import find_organization
from api.settings import Settings

Rows = list[Sequence[Any]]


async def _organization_pk(external_id: str | None) -> int | None:

    if external_id is None:
        return None
    found = await find_organization(external_id)
    if found is None:
        raise CommandError(f"no organization {external_id!r}")
    return found[0]


async def _with_release(settings: Settings, work: Callable[[Catalog], Awaitable[Rows]]) -> Rows:
    """Open the database, load the latest release, and run `work` on its catalog."""

    database = await open_database(settings.database_url, migrate=False)
    try:
        with using(database):
            release = await load_release(
                default_locale=settings.default_locale, fallback=settings.locale_fallback
            )
            if release is None:
                raise CommandError("no content has been published yet: run 'heed content publish'")
            return await work(release.catalog)
    finally:
        await database.close_connections()


async def _accounts(catalog: Catalog, args: argparse.Namespace) -> list[AccountInsight]:
    plan = success_plan(catalog, catalog.default_locale)
    now = args.at or dt.datetime.now(dt.UTC)
    return await account_insights(
        plan, now, await _organization_pk(args.organization), args.since, args.until
    )


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


MILESTONE_COLUMNS = (
    "organization_id",
    "milestone_id",
    "status",
    "target_at",
    "reached_at",
    "days_to_reach",
    "met",
    "target_moved_by",
    "target_move_reason",
)


async def milestone_rows(catalog: Catalog, args: argparse.Namespace) -> Rows:
    return [
        (
            account.organization.id,
            view.item.id,
            view.status.value,
            _iso(view.target_at),
            _iso(view.reached_at),
            view.days_to_reach,
            view.met,
            view.moved.moved_by if view.moved else None,
            view.moved.reason if view.moved else None,
        )
        for account in await _accounts(catalog, args)
        for view in account.milestones
    ]


HEALTH_COLUMNS = ("organization_id", "score", "recency", "adoption", "milestones", "help", "nps")


async def health_rows(catalog: Catalog, args: argparse.Namespace) -> Rows:
    rows: Rows = []
    for account in await _accounts(catalog, args):
        parts = {c.name: c.value if c.weight else None for c in account.components}
        rows.append(
            (account.organization.id, account.health_score, *(parts[n] for n in HEALTH_COLUMNS[2:]))
        )
    return rows


ACTIVATION_COLUMNS = (
    "organization_id",
    "started_at",
    "activated",
    "activated_at",
    "activation_days",
    "first_value_at",
    "time_to_value_days",
    "members",
    "members_done",
    "features_explored",
)


async def activation_rows(catalog: Catalog, args: argparse.Namespace) -> Rows:
    return [
        (
            a.organization.id,
            _iso(a.organization.started),
            a.activation.reached,
            _iso(a.activation.at),
            a.activation.days,
            _iso(a.time_to_value.at),
            a.time_to_value.days,
            a.adoption.members,
            a.adoption.members_done,
            " ".join(a.adoption.features_explored),
        )
        for a in await _accounts(catalog, args)
    ]


FUNNEL_COLUMNS = (
    "organization_id",
    "step_id",
    "organization_step",
    "reached",
    "drop_off",
    "median_hours_from_previous",
)


async def funnel_rows(catalog: Catalog, args: argparse.Namespace) -> Rows:

    organization_pk = await _organization_pk(args.organization)
    now = args.at or dt.datetime.now(dt.UTC)
    found = await cases.funnels(
        catalog, catalog.default_locale, args.flow, args.since, args.until, now, organization_pk
    )
    if found is None:
        raise CommandError(f"no flow {args.flow!r} in the published release")
    ids = {o.pk: o.id for o in await organizations(organization_pk).run()}
    return [
        (
            ids[pk],
            s.step_id,
            s.scope == "organization",
            s.reached,
            s.drop_off,
            s.median_hours_from_previous,
        )
        for pk, steps in sorted(found.items(), key=lambda item: ids.get(item[0], ""))
        if pk in ids
        for s in steps
    ]


TABLES: dict[
    str, tuple[str, tuple[str, ...], Callable[[Catalog, argparse.Namespace], Awaitable[Rows]]]
] = {
    "milestones": (
        "every organization's milestones: status, target, reached",
        MILESTONE_COLUMNS,
        milestone_rows,
    ),
    "health": ("every organization's health score and its components", HEALTH_COLUMNS, health_rows),
    "activation": (
        "activation, time to value and adoption per organization",
        ACTIVATION_COLUMNS,
        activation_rows,
    ),
    "funnel": ("a flow's funnel per organization, one row per step", FUNNEL_COLUMNS, funnel_rows),
}


def export_command(args: argparse.Namespace) -> None:
    """One insight table as CSV (figures as of now)."""

    _, columns, rows_of = TABLES[args.export_command]
    rows = asyncio.run(_with_release(load_settings(), lambda catalog: rows_of(catalog, args)))
    write_csv(args.output, columns, rows, "row")


def nudge_command(_: argparse.Namespace) -> None:
    """One run of the insight job (for cron); a second run in the same period adds nothing."""

    settings = load_settings()

    async def work(catalog: Catalog) -> Rows:
        report = await run_nudges(catalog, settings.nudges, dt.datetime.now(dt.UTC))
        return [(report.ran, report.organizations, report.signals, report.recorded)]

    ((ran, organizations, signals, recorded),) = asyncio.run(_with_release(settings, work))
    if not ran:
        print("another worker is running the insight job; nothing done")
        return
    print(f"{organizations} organization(s): {signals} signal(s) this period, {recorded} new")


def add_commands(commands: Any, data_commands: Any) -> None:
    """`heed nudge`, and the insight tables under `heed export`."""
    nudge = commands.add_parser(
        "nudge", help="run the insight job once: milestone events and nudges (for cron)"
    )
    nudge.set_defaults(handler=nudge_command)
    for name, (about, _, _) in TABLES.items():
        table = data_commands.add_parser(name, help=f"{about}, as CSV")
        if name == "funnel":
            table.add_argument("flow", help="the flow's id, e.g. reception-setup")
        table.add_argument("--organization", help="only this organization (its external id)")
        what = "steps done" if name == "funnel" else "organizations started"
        table.add_argument("--since", type=moment, help=f"{what} from this ISO date/time (UTC)")
        table.add_argument("--until", type=moment, help=f"{what} before this ISO date/time")
        table.add_argument("--at", type=moment, help="figures as of this ISO date/time (now)")
        table.add_argument("--output", "-o", help="write to this file (default: stdout)")
        table.set_defaults(handler=export_command)
