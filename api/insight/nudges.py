"""The insight job: records what happened to accounts as catalogue events, once each.

Each run (every `HEED_NUDGE_INTERVAL_SECONDS` inside `heed serve`, or `heed nudge` from cron)
computes every account's insight as of the clock's now and records:
- `milestone.reached` and `milestone.overdue`, once per organization and milestone;
- `nudge.member_stalled`: a member who started a member flow, has a step of it they can do
  now, and has not marked any step of it for `stalled_days` days;
- `nudge.help_unanswered`: a help request still open `help_hours` after it was sent;
- `nudge.account_at_risk`: a milestone AT_RISK or OVERDUE, or a health score at least
  `health_drop` points below the one the job saw in the previous period;
each nudge once per thing per period of `period_days` days. The unique key of `insight_mark`
makes a second run in the same period record nothing, and the event rows go to the webhook
outbox like any other.

On Postgres the run holds a transaction-level advisory lock, so of many workers one runs it
and the others skip; on SQLite (one process) it runs without one, in short transactions that
never hold the connection while other work awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from api.content import Catalog, Item, audience_matches
from api.db import background, using
from api.insight import rules, store
from api.insight.accounts import AccountInsight, account_insights, success_plan
from api.insight.rules import MilestoneStatus
from api.insight.store import Signal
from api.progress.engine import Mark, evaluate_flow
from api.progress.engine import Member as EngineMember
from api.progress.store import flow_definition
from api.settings import NudgeSettings

logger = logging.getLogger("heed.nudges")

LOCK_KEY = 0x4845_4544_4E55  # "HEEDNU": the advisory lock of the insight job
SLICE = 2000  # organizations (by key) a run reads at a time


@dataclass(frozen=True)
class RunReport:
    """What one run saw and recorded."""

    ran: bool  # False: another worker holds the lock
    organizations: int = 0
    signals: int = 0  # things that deserve an event this period
    recorded: int = 0  # of them, new (not recorded by an earlier run)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def milestone_signals(accounts: Sequence[AccountInsight]) -> list[Signal]:
    """A reached or overdue milestone, once per organization and milestone (no period)."""
    out = []
    for account in accounts:
        pk = account.organization.pk
        for view in account.milestones:
            if view.status is MilestoneStatus.REACHED:
                assert view.reached_at is not None
                data = {
                    "milestoneId": view.item.id,
                    "reachedAt": _iso(view.reached_at),
                    "targetAt": _iso(view.target_at),
                    "days": view.days_to_reach,
                    "onTime": view.on_time,
                }
                out.append(Signal(pk, "milestone.reached", view.item.id, "", None, data))
            elif view.status is MilestoneStatus.OVERDUE:
                data = {
                    "milestoneId": view.item.id,
                    "targetAt": _iso(view.target_at),
                    "met": view.met,
                }
                out.append(Signal(pk, "milestone.overdue", view.item.id, "", None, data))
    return out


def risk_signals(
    accounts: Sequence[AccountInsight],
    previous: dict[int, int],
    settings: NudgeSettings,
    period: str,
) -> list[Signal]:
    """An account with a milestone at risk or overdue, or a falling health score."""
    out = []
    for account in accounts:
        risky = account.at_risk
        reasons = [
            f"milestone {view.item.id} is {view.status.lower().replace('_', ' ')}" for view in risky
        ]
        before = previous.get(account.organization.pk)
        if before is not None and before - account.health_score >= settings.health_drop:
            reasons.append(f"health fell from {before} to {account.health_score}")
        if not reasons:
            continue
        data = {
            "healthScore": account.health_score,
            "previousScore": before,
            "milestones": [{"id": v.item.id, "status": v.status.value} for v in risky],
            "reasons": reasons,
            "period": period,
        }
        out.append(Signal(account.organization.pk, "nudge.account_at_risk", "", period, None, data))
    return out


async def help_signals(now: dt.datetime, settings: NudgeSettings, period: str) -> list[Signal]:
    cutoff = now - dt.timedelta(hours=settings.help_hours)
    out = []
    for row in await store.unanswered_help(cutoff):
        data = {
            "requestId": row.request_id,
            "flowId": row.flow_id,
            "stepId": row.step_id,
            "inviterId": row.inviter_id,
            "inviteeId": row.invitee_id,
            "email": row.email,
            "openHours": round((now - row.created_at).total_seconds() / 3600, 1),
            "period": period,
        }
        subject = row.request_id
        out.append(
            Signal(row.organization_pk, "nudge.help_unanswered", subject, period, None, data)
        )
    return out


def stalled_signals(
    rows: Sequence[store.MemberFlowMarks],
    flows: dict[str, Item],
    now: dt.datetime,
    settings: NudgeSettings,
    period: str,
) -> list[Signal]:
    """Members idle on a member flow they started, with a step they can do now (the step
    engine decides, with their roles and the flow's rules)."""
    cutoff = now - dt.timedelta(days=settings.stalled_days)
    out = []
    for row in rows:
        flow = flows.get(row.flow_id)
        if flow is None or row.last_at > cutoff:
            continue
        definition = flow_definition(flow)
        if definition.organization_wide:
            continue
        if not audience_matches(flow.audience, row.roles, row.attributes, None, row.completed):
            continue
        viewer = EngineMember(row.member_id, frozenset(row.roles))
        marks = [
            Mark(step, row.member_id, state, str(by), at, revision)  # type: ignore[arg-type]
            for step, state, by, at, revision in row.marks
        ]
        step_id = evaluate_flow(definition, marks, viewer).next_step_id
        if step_id is None:
            continue
        data = {
            "memberId": row.member_id,
            "flowId": row.flow_id,
            "stepId": step_id,
            "idleDays": round((now - row.last_at) / rules.DAY, 1),
            "period": period,
        }
        subject = f"{row.member_id}:{row.flow_id}:{step_id}"
        out.append(
            Signal(
                row.organization_pk, "nudge.member_stalled", subject, period, row.member_pk, data
            )
        )
    return out


async def run_nudges(catalog: Catalog, settings: NudgeSettings, now: dt.datetime) -> RunReport:
    """One run of the job as of `now` (see the module's docstring)."""
    if store.is_postgres():
        async with in_transaction():
            if not await store.try_job_lock(LOCK_KEY):
                return RunReport(ran=False)
            return await _run(catalog, settings, now)
    return await _run(catalog, settings, now)


async def _run(catalog: Catalog, settings: NudgeSettings, now: dt.datetime) -> RunReport:
    """Organizations a slice of keys at a time, so a worker running the job holds one slice's
    figures, not every organization's."""
    plan = success_plan(catalog, catalog.default_locale)
    period = rules.period_of(now, settings.period_days)
    previous_period = now - dt.timedelta(days=settings.period_days)
    previous = await store.health_snapshots(rules.period_of(previous_period, settings.period_days))
    help_nudges = await help_signals(now, settings, period)
    report = RunReport(True, 0, len(help_nudges), await store.record_signals(help_nudges, now))
    last = await store.last_organization_pk()
    for start in range(1, last + 1, SLICE):
        part = range(start, min(start + SLICE, last + 1))
        accounts = await account_insights(plan, now, part)
        marks = await store.member_flow_marks(part)
        signals = [
            *milestone_signals(accounts),
            *risk_signals(accounts, previous, settings, period),
            *stalled_signals(marks, plan.flows, now, settings, period),
        ]
        recorded = await store.record_signals(signals, now)
        await store.save_health_snapshots(
            period, {a.organization.pk: a.health_score for a in accounts}, now
        )
        report = RunReport(
            True,
            report.organizations + len(accounts),
            report.signals + len(signals),
            report.recorded + recorded,
        )
    return report


class NudgeJob:
    """Runs the insight job every `interval_seconds` inside `heed serve`, beside the webhook
    worker; a failed run is logged and retried at the next interval."""

    def __init__(
        self,
        database: TortoiseContext,
        settings: NudgeSettings,
        catalog: Callable[[], Catalog | None],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._database = database
        self._settings = settings
        self._catalog = catalog
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.last: RunReport | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="heed-nudges")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run_forever(self) -> None:
        with using(self._database), background():
            while True:
                await asyncio.sleep(self._settings.interval_seconds)
                catalog = self._catalog()
                if catalog is None:
                    continue
                try:
                    self.last = await run_nudges(catalog, self._settings, self._clock())
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("insight job failed; retrying at the next interval")
