"""The insight job over moved time: milestone events once, nudges once per thing per period,
nothing new from a second run, every payload valid against the catalogue.

The job looks at every organization of the shared test database; each test reads only the
events of its own accounts.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.db.models import Event, HealthSnapshot, HelpRequest
from api.insight import nudges
from api.insight.nudges import run_nudges
from api.insight.rules import period_of
from api.settings import NudgeSettings, Settings
from tests.conftest import ROOT, auth, graphql, running_app, unique
from tests.test_engagement import assert_matches_event_schema
from tests.test_insight import account, app_event, day, done, reception
from tests.test_webhooks import eventually

RULES = NudgeSettings(period_days=7, stalled_days=3, help_hours=48, health_drop=10)


async def events_of(pk: int, prefix: str) -> list[Event]:
    found = await Event.filter(organization_id=pk).order_by("id")
    return [e for e in found if e.name.startswith(prefix)]


async def run_at(app: Starlette, now: dt.datetime) -> int:
    report = await run_nudges(app.state.runtime.release.catalog, RULES, now)
    assert report.ran
    return report.recorded


def valid(event: Event, organization_id: str) -> None:
    assert_matches_event_schema(event.name, {"organizationId": organization_id, **event.properties})


async def test_a_stalled_member_is_nudged_once_per_period(app: Starlette) -> None:
    acct = await reception()
    await done(acct, "first-visitor", "open-dashboard", "ben", day(1), own=True)
    await done(acct, "first-visitor", "open-dashboard", "cy", day(9.5), own=True)

    await run_at(app, day(3.5))  # Ben idle 2.5 days: not yet
    assert await events_of(acct.pk, "nudge.member_stalled") == []

    await run_at(app, day(11))  # Ben idle 10 days; Cy only 1.5
    await run_at(app, day(12))  # the same period (7 days from the epoch): nothing new
    stalled = await events_of(acct.pk, "nudge.member_stalled")
    assert len(stalled) == 1
    assert stalled[0].member_id == acct.members["ben"].id
    assert stalled[0].properties["stepId"] == "register-test-visitor"
    assert stalled[0].properties["period"] == period_of(day(11), 7)
    valid(stalled[0], acct.id)

    next_period = dt.datetime.fromisoformat(period_of(day(11), 7)) + dt.timedelta(days=7)
    await run_at(app, next_period.replace(tzinfo=dt.UTC) + dt.timedelta(hours=1))
    stalled = await events_of(acct.pk, "nudge.member_stalled")
    assert [e.member_id for e in stalled] == [acct.members["ben"].id] * 2 + [acct.members["cy"].id]


async def test_milestones_help_and_risk_are_recorded_once(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nudges, "SLICE", 5)  # the job reads organizations 5 keys at a time
    acct = await reception(with_checkins=1)  # activation day 4, first value day 3
    await HelpRequest.create(
        public_id=unique("hr"),
        token=unique("tok"),
        organization_id=acct.pk,
        flow_id="reception-setup",
        step_id="add-card",
        inviter_id=acct.members["ann"].id,
        invitee_id=acct.members["ben"].id,
        status="open",
        created_at=day(1),
    )
    first = await run_at(app, day(15.5))
    assert first > 0
    assert await run_at(app, day(15.6)) == 0  # a second run in the period records nothing

    reached = await events_of(acct.pk, "milestone.reached")
    assert sorted(e.properties["milestoneId"] for e in reached) == [
        "account-ready",
        "first-visitor-checked-in",
        "whole-team-invited",
    ]
    ready = next(e for e in reached if e.properties["milestoneId"] == "account-ready")
    assert ready.properties["days"] == 4.0
    assert ready.properties["onTime"] is True
    help_nudges = await events_of(acct.pk, "nudge.help_unanswered")
    assert len(help_nudges) == 1
    assert help_nudges[0].properties["inviteeId"] == "ben"
    assert help_nudges[0].properties["openHours"] == 14.5 * 24
    for event in (*reached, *help_nudges):
        valid(event, acct.id)
    assert await events_of(acct.pk, "nudge.account_at_risk") == []  # nothing due is late
    assert await events_of(acct.pk, "milestone.overdue") == []


async def test_an_account_at_risk_says_why(app: Starlette) -> None:
    late = await account(day(0), {"ann": (("admin",), day(0))})
    await app_event(late, "ann", "dashboard.viewed", day(1))
    await run_at(app, day(8))  # account-ready was due on day 7
    overdue = await events_of(late.pk, "milestone.overdue")
    assert [e.properties["milestoneId"] for e in overdue] == ["account-ready"]
    risk = await events_of(late.pk, "nudge.account_at_risk")
    assert len(risk) == 1
    assert "milestone account-ready is overdue" in risk[0].properties["reasons"]
    valid(overdue[0], late.id)
    valid(risk[0], late.id)


async def test_a_falling_health_score_is_a_risk(app: Starlette) -> None:
    # Healthy on day 2 (everything on track, active that day); the job keeps the score of each
    # period (of 7 days from the epoch: day 2 is in the period before day 9.5's).
    acct = await account(day(0), {"ann": (("admin",), day(0))})
    await done(acct, "reception-setup", "create-account", "ann", day(1))
    await done(acct, "reception-setup", "connect-directory", "ann", day(1))
    await done(acct, "reception-setup", "install-ipad", "ann", day(1))
    await app_event(acct, "ann", "visitor.checked_in", day(2))
    rules = replace(RULES, health_drop=5)
    await run_nudges(app.state.runtime.release.catalog, rules, day(2))
    before = await HealthSnapshot.get(organization_id=acct.pk, period=period_of(day(2), 7))
    assert before.score == 72  # recency 1, adoption 0, milestones 1, help 1: 0.65 / 0.9
    # In the next period, idle for 7.5 days: recency fell to 0.75, the score to 65.
    await run_nudges(app.state.runtime.release.catalog, rules, day(9.5))
    risk = await events_of(acct.pk, "nudge.account_at_risk")
    assert len(risk) == 1
    data = risk[0].properties
    assert data["previousScore"] == 72
    assert data["healthScore"] == 65
    assert data["milestones"] == []
    assert f"health fell from {before.score} to {data['healthScore']}" in data["reasons"]


async def heed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`heed …` as a user (or cron) runs it, in a process of its own."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env=env,
    )


def command_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HEED_")}
    return {**env, "DATABASE_URL": database_url, "HEED_DATA_DIR": str(tmp_path)}


async def test_heed_nudge_runs_once_from_cron(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    """`heed nudge` against the test database: a second run in the period adds nothing."""
    env = command_env(database_url, tmp_path)
    first, second = [await heed(env, "nudge") for _ in range(2)]
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert second.stdout.rstrip().endswith(", 0 new"), second.stdout


async def test_heed_export_writes_the_insight_tables(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    acct = await reception(with_checkins=2)
    env = command_env(database_url, tmp_path)
    mine = ("--organization", acct.id, "--at", day(10).isoformat())
    milestones = await heed(env, "export", "milestones", *mine)
    assert milestones.returncode == 0, milestones.stderr
    rows = list(csv.DictReader(io.StringIO(milestones.stdout)))
    ready = next(r for r in rows if r["milestone_id"] == "account-ready")
    assert (ready["organization_id"], ready["status"], ready["days_to_reach"]) == (
        acct.id,
        "REACHED",
        "4.0",
    )
    output = tmp_path / "funnel.csv"
    funnel = await heed(env, "export", "funnel", "reception-setup", *mine, "-o", str(output))
    assert funnel.returncode == 0, funnel.stderr
    steps = {r["step_id"]: r for r in csv.DictReader(output.open(encoding="utf-8"))}
    assert steps["install-ipad"]["reached"] == "1"
    assert steps["add-card"]["reached"] == "0"
    for table in ("health", "activation"):
        result = await heed(env, "export", table, *mine)
        assert result.returncode == 0, result.stderr
        (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
        assert row["organization_id"] == acct.id
    unknown = await heed(env, "export", "funnel", "no-such-flow")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "heed: no flow 'no-such-flow' in the published release"


async def test_heed_serve_runs_the_job_beside_requests(settings: Settings) -> None:
    """The job inside the app, every 50 ms, while a dashboard is read again and again: every
    request answers, and the job keeps running (on SQLite, on the requests' connection)."""
    fast = replace(settings, nudges=NudgeSettings(interval_seconds=0.05))
    async with running_app(fast) as (app, client):
        owner = auth(unique("serve"), "ann", ("admin",))
        for _ in range(20):
            body = await graphql(client, "{ organization { health { score } } }", owner)
            assert "errors" not in body, body
            await asyncio.sleep(0.01)

        async def ran() -> bool:
            return app.state.runtime.nudges.last is not None

        await eventually(ran)
        assert app.state.runtime.nudges.last.ran
