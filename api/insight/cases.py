"""Insight use cases: what the resolvers and the commands call, each taking an explicit actor
(or none: the admin key across organizations) and the clock's now."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from api.actor import Actor
from api.content import Catalog
from api.errors import forbidden, invalid, not_found
from api.insight import rules, store
from api.insight.accounts import AccountInsight, Plan, account_insights, success_plan
from api.paging import Page, paginate
from api.progress.live import ProgressHub
from api.progress.reads import Reads
from api.progress.steps import check_text
from api.progress.store import ADMIN_KEY_OWNER
from api.progress.team import require_driver
from api.progress.unit import Change, Idempotency, commit

MAX_REASON = 500
MAX_RANGE = dt.timedelta(days=366)  # weeks of activation: a year at most
MEMO_SIZE = 4  # portfolios a worker keeps (ranges asked for)


async def organization_insight(
    actor: Actor, catalog: Catalog, reads: Reads, locale: str, now: dt.datetime
) -> AccountInsight:
    """The actor's organization, once per request however many fields read it."""

    async def load() -> AccountInsight:
        plan = success_plan(catalog, locale)
        found = await account_insights(plan, now, actor.organization_pk)
        return found[0]

    return await reads.once("insight", load)


@dataclass(frozen=True)
class FunnelStep:
    step_id: str
    title: str
    scope: str
    reached: int
    drop_off: float
    median_hours_from_previous: float | None


async def funnel(
    actor: Actor,
    catalog: Catalog,
    locale: str,
    flow_id: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
    now: dt.datetime,
) -> list[FunnelStep] | None:
    """The organization's funnel of a flow; None for a flow the release does not have."""
    found = await funnels(catalog, locale, flow_id, since, until, now, actor.organization_pk)
    return None if found is None else found.get(actor.organization_pk, [])


async def funnels(
    catalog: Catalog,
    locale: str,
    flow_id: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
    now: dt.datetime,
    organization_pk: int | None = None,
) -> dict[int, list[FunnelStep]] | None:
    """Per organization (one, or all): members (or the organization, for its steps) who
    reached each step of a flow in [since, until), the share lost from the step before
    (from all members, for the first), and the median hours from the previous step."""
    check_text(flowId=flow_id)
    _check_range(since, until)
    found = catalog.get(flow_id, locale)
    if found is None or found.item.kind != "flow":
        return None
    flow = found.item
    end = min(_utc(until), now) if until else now
    steps = [(s.id, s.scope == "organization") for s in flow.steps]
    reached, members = await store.read_all(
        [
            store.funnels(organization_pk, flow.id, steps, _opt(since), end),
            store.member_counts(organization_pk, end),
        ],
        organization_pk,
    )
    out: dict[int, list[FunnelStep]] = {}
    for pk, counted_steps in reached.items():
        rows: list[FunnelStep] = []
        for step, counted in zip(flow.steps, counted_steps, strict=True):
            org_step = step.scope == "organization"
            before = rows[-1].reached if rows else (1 if org_step else members.get(pk, 0))
            rows.append(
                FunnelStep(
                    step.id,
                    step.title,
                    step.scope,
                    counted.reached,
                    round(1 - counted.reached / before, 4) if before else 0.0,
                    rules.median(counted.hours_from_previous),
                )
            )
        out[pk] = rows
    return out


def _check_range(since: dt.datetime | None, until: dt.datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise invalid("`until` must be after `since`", "until")


# --- moving a target --------------------------------------------------------------------


async def move_milestone_target(
    actor: Actor,
    catalog: Catalog,
    hub: ProgressHub,
    reads: Reads,
    milestone_id: str,
    target_at: dt.datetime,
    reason: str,
    locale: str,
    now: dt.datetime,
    idempotency_key: str | None = None,
) -> AccountInsight:
    """The owner or an admin moves one milestone's target date for their organization, with
    a reason; recorded with who and when, and announced as `milestone.target_moved`."""
    check_text(milestoneId=milestone_id, idempotencyKey=idempotency_key)
    check_text(MAX_REASON, reason=reason)
    await require_driver(actor, reads, "moves milestone targets")
    reason = reason.strip()
    if not reason:
        raise invalid("say why the target moves", "input", "reason")
    target_at = _utc(target_at)
    plan = success_plan(catalog, locale)
    milestone = next((m for m in plan.milestones if m.id == milestone_id), None)
    if milestone is None:
        raise not_found(f"no milestone `{milestone_id}`", "input", "milestoneId")
    before = (await account_insights(plan, now, actor.organization_pk))[0]
    started = before.organization.started
    if target_at <= started:
        raise invalid(
            f"the target must be after the organization started ({started.isoformat()})",
            "input",
            "targetAt",
        )
    current = next(v for v in before.milestones if v.item.id == milestone_id)

    async def decide(change: Change) -> dict[str, Any]:
        move = store.TargetMove(
            milestone_id,
            target_at,
            current.target_at,
            actor.member_id or ADMIN_KEY_OWNER,
            reason,
            change.now,
        )
        change.write(store.insert_target_move(actor.organization_pk, move))
        change.emit(
            "milestone.target_moved",
            {
                "milestoneId": milestone_id,
                "targetAt": _iso(target_at),
                "previousTargetAt": _iso(current.target_at),
                "reason": reason,
            },
        )
        return {"milestoneId": milestone_id}

    idempotency = (
        Idempotency(
            idempotency_key,
            "moveMilestoneTarget",
            {"milestoneId": milestone_id, "targetAt": _iso(target_at), "reason": reason},
        )
        if idempotency_key
        else None
    )
    await commit(actor, hub, decide, idempotency=idempotency, now=now)
    return (await account_insights(plan, now, actor.organization_pk))[0]


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- across organizations (the admin key) -----------------------------------------------


class OrganizationOrder(StrEnum):
    """How the portfolio is sorted (ties by organization id)."""

    HEALTH_ASC = "HEALTH_ASC"
    HEALTH_DESC = "HEALTH_DESC"
    ID = "ID"
    STARTED_DESC = "STARTED_DESC"


@dataclass(frozen=True)
class WeekOfStart:
    week: dt.date  # the Monday the week starts on
    organizations: int
    activated: int

    @property
    def rate(self) -> float:
        return rules.rate(self.activated, self.organizations)


@dataclass(frozen=True)
class Portfolio:
    """Every organization started in the range, with their insight, as of `now`."""

    plan: Plan
    accounts: list[AccountInsight]
    now: dt.datetime

    @property
    def activation_rate(self) -> float:
        return rules.rate(sum(a.activation.reached for a in self.accounts), len(self.accounts))

    @property
    def member_activation_rate(self) -> float:
        """Members who finished their role's path, over all members."""
        members = sum(a.adoption.members for a in self.accounts)
        return rules.rate(sum(a.adoption.members_done for a in self.accounts), members)

    def time_to_value_days(self) -> list[float]:
        return [a.time_to_value.days for a in self.accounts if a.time_to_value.days is not None]

    @property
    def median_time_to_value_days(self) -> float | None:
        return rules.median(self.time_to_value_days())

    @property
    def p90_time_to_value_days(self) -> float | None:
        return rules.percentile_90(self.time_to_value_days())

    def weeks(self) -> list[WeekOfStart]:
        """Activation by the week the organizations started (Monday, UTC), oldest first."""
        by_week: dict[dt.date, list[int]] = {}
        for account in self.accounts:
            day = account.organization.started.astimezone(dt.UTC).date()
            week = day - dt.timedelta(days=day.weekday())
            counts = by_week.setdefault(week, [0, 0])
            counts[0] += 1
            counts[1] += int(account.activation.reached)
        return [WeekOfStart(week, n, done) for week, (n, done) in sorted(by_week.items())]


class PortfolioMemo:
    """A worker's latest portfolios, each kept `seconds` (by the clock) so that the pages of
    one listing come from one computation and a dashboard refresh costs nothing; concurrent
    requests for the same one wait for a single computation."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._kept: dict[tuple[Any, ...], Portfolio] = {}
        self._lock = asyncio.Lock()

    async def get(
        self, key: tuple[Any, ...], now: dt.datetime, compute: Callable[[], Awaitable[Portfolio]]
    ) -> Portfolio:
        async with self._lock:
            kept = self._kept.get(key)
            if kept is None or not 0 <= (now - kept.now).total_seconds() < self.seconds:
                kept = self._kept[key] = await compute()
                while len(self._kept) > MEMO_SIZE:  # a portfolio holds every organization
                    del self._kept[min(self._kept, key=lambda k: self._kept[k].now)]
            return kept


async def portfolio(
    is_admin_key: bool,
    catalog: Catalog,
    release: int,
    memo: PortfolioMemo,
    now: dt.datetime,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> Portfolio:
    """Every organization's insight (the admin key only); `since`/`until` choose the
    organizations by when they started, at most a year apart. Computed at most once per
    `memo.seconds` for a release and range."""
    if not is_admin_key:
        raise forbidden("insights across organizations need the admin key")
    _check_range(since, until)
    if since is not None and (until or now) - since > MAX_RANGE:
        raise invalid("`since` and `until` may be at most 366 days apart", "since")
    plan = success_plan(catalog, catalog.default_locale)

    async def compute() -> Portfolio:
        accounts = await account_insights(plan, now, None, _opt(since), _opt(until))
        return Portfolio(plan, accounts, now)

    return await memo.get((release, _opt(since), _opt(until)), now, compute)


def _opt(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else _utc(value)


def _order_key(order: OrganizationOrder, account: AccountInsight) -> str:
    org = account.organization
    if order is OrganizationOrder.ID:
        return org.id
    if order is OrganizationOrder.STARTED_DESC:
        return f"{10**12 - int(org.started.timestamp()):013d}:{org.id}"
    score = (
        account.health_score
        if order is OrganizationOrder.HEALTH_ASC
        else 100 - account.health_score
    )
    return f"{score:03d}:{org.id}"


def portfolio_page(
    found: Portfolio, order: OrganizationOrder, first: int | None, after: str | None
) -> Page[AccountInsight]:
    """A page of the portfolio in the chosen order; the cursor names the sort key, so a page
    continues right after it even when scores moved in between."""

    def key(account: AccountInsight) -> str:
        return _order_key(order, account)

    ordered = sorted(found.accounts, key=key)
    return paginate(ordered, key, first, after, f"insights-{order.value.lower()}")


class KpiCounts:
    """The KPI counts of a set of organizations (a portfolio page's), read in one statement
    the first time any of them is asked for; or a dashboard's, read with its insight."""

    def __init__(
        self,
        organization_pks: Sequence[int],
        plan: Plan,
        now: dt.datetime,
        counts: dict[tuple[int, str], int] | None = None,
    ) -> None:
        self._pks = list(organization_pks)
        self._names = plan.kpis
        self._now = now
        self._counts = counts
        self._lock = asyncio.Lock()

    async def of(self, organization_pk: int, names: Sequence[str]) -> list[tuple[str, int]]:
        async with self._lock:
            if self._counts is None:
                self._counts = await store.event_counts(self._pks, self._names, self._now).run()
        return [(name, self._counts.get((organization_pk, name), 0)) for name in names]
