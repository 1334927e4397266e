"""Customer-success insight over the demo success plan: milestones with their statuses over
moved time, moving a target, activation, time to value, funnels, adoption, health, the
portfolio, and who may read them.

Facts are written straight into the tables at chosen moments (an organization that started
on day 0, check-ins on days 3 and 5 ...), and the runtime's clock is moved, so every figure
below is computed by hand from the fixture.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.content.model import Audience, Item, Step
from api.db import is_postgres
from api.db.models import Event, HelpRequest, Member, Organization, StepState, SurveyAnswer
from api.insight.accounts import Plan, members_done
from api.insight.store import MemberPathRow
from bench.insight import DASHBOARD as BENCH_DASHBOARD
from tests.conftest import TEST_ADMIN_KEY, SQLCounter, auth, graphql, unique
from tests.test_engagement import assert_matches_event_schema, clock

START = dt.datetime(2031, 1, 6, 9, 0, tzinfo=dt.UTC)  # a Monday
ADMIN = {"X-Heed-Admin-Key": TEST_ADMIN_KEY}

DASHBOARD = """query($flow: ID!) { organization {
  milestones { id title status targetAt reachedAt daysToReach met activation firstValue
    kpis { event count } targetMove { targetAt previousTargetAt movedBy reason } }
  health { score components { name value weight detail } }
  funnel(flowId: $flow) { flowId steps { stepId reached dropOff medianHoursFromPrevious
    organizationStep } }
  activation { reached at days }
  timeToValue { reached at days }
  adoption { members membersDone rate featuresExplored }
} }"""
MOVE = """mutation($input: MoveMilestoneTargetInput!) { moveMilestoneTarget(input: $input) {
  milestones { id status targetAt targetMove { targetAt previousTargetAt movedBy reason } }
  userErrors { code message field } } }"""
INSIGHTS = """query($first: Int, $after: String, $order: OrganizationOrder, $since: DateTime,
  $until: DateTime) { insights(since: $since, until: $until) {
  activationRate memberActivationRate medianTimeToValueDays p90TimeToValueDays
  activationByWeek { week organizations activated rate }
  organizations(first: $first, after: $after, orderBy: $order) { totalCount
    edges { cursor node { id health { score } activation { reached days }
      timeToValue { reached days } atRisk { id status } } }
    pageInfo { hasNextPage endCursor } } } }"""


def day(n: float) -> dt.datetime:
    return START + dt.timedelta(days=n)


@dataclass
class Account:
    """An organization written at chosen moments."""

    id: str
    pk: int
    members: dict[str, Member] = field(default_factory=dict)


async def account(
    started: dt.datetime, members: dict[str, tuple[tuple[str, ...], dt.datetime]]
) -> Account:
    org = await Organization.create(
        external_id=unique("acct"), created_at=started, updated_at=started
    )
    found = Account(org.external_id, org.id)
    for member_id, (roles, joined) in members.items():
        found.members[member_id] = await Member.create(
            organization_id=org.id,
            external_id=member_id,
            roles=list(roles),
            claims_hash="x",
            created_at=joined,
            updated_at=joined,
        )
    return found


async def done(
    acct: Account, flow: str, step: str, by: str, at: dt.datetime, *, own: bool = False
) -> None:
    """A step marked done: the organization's (default) or the member's own (`own`)."""
    await StepState.create(
        organization_id=acct.pk,
        member_key=by if own else "",
        flow_id=flow,
        step_id=step,
        state="done",
        by_member_id=acct.members[by].id,
        flow_revision=1,
        at=at,
    )


async def app_event(acct: Account, by: str, name: str, at: dt.datetime) -> None:
    await Event.create(
        organization_id=acct.pk,
        member_id=acct.members[by].id,
        kind="app",
        name=name,
        properties={},
        created_at=at,
    )


def owner_of(acct: Account) -> dict[str, str]:
    return auth(acct.id, "ann", ("admin",))


async def dashboard(
    client: httpx.AsyncClient, acct: Account, flow: str = "reception-setup"
) -> dict[str, Any]:
    body = await graphql(client, DASHBOARD, owner_of(acct), {"flow": flow})
    assert "errors" not in body, body
    return body["data"]["organization"]  # type: ignore[no-any-return]


async def reception(with_checkins: int = 0) -> Account:
    """Ann (admin) started on day 0, Ben (office manager) joined on day 2, Cy on day 9.
    Setup: account created day 1, directory day 2, iPad day 4 (activation: day 4).
    Check-ins: `with_checkins` of them, one a day from day 3."""
    acct = await account(
        START,
        {
            "ann": (("admin",), START),
            "ben": (("office_manager",), day(2)),
            "cy": ((), day(9)),
        },
    )
    await done(acct, "reception-setup", "create-account", "ann", day(1))
    await done(acct, "reception-setup", "connect-directory", "ann", day(2))
    await done(acct, "reception-setup", "install-ipad", "ben", day(4))
    for n in range(with_checkins):
        await app_event(acct, "ben", "visitor.checked_in", day(3 + n))
    return acct


def by_id(rows: list[dict[str, Any]], key: str = "id") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


async def test_milestones_move_through_their_statuses_as_time_passes(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    acct = await reception(with_checkins=0)
    with clock(app, day(3)) as now:
        found = by_id((await dashboard(client, acct))["milestones"])
        # Targets: account-ready day 7, first visitor and team day 14, ten visitors day 30.
        assert [m for m in found] == [
            "account-ready",
            "first-visitor-checked-in",
            "whole-team-invited",
            "ten-visitors-in-a-week",
        ]
        ready = found["account-ready"]
        assert ready["status"] == "ON_TRACK"
        assert ready["met"] == pytest.approx(2 / 3, abs=1e-4)
        assert ready["targetAt"].startswith("2031-01-13T09:00:00")
        assert found["whole-team-invited"]["met"] == pytest.approx(2 / 3, abs=1e-4)

        now[0] = day(6.5)  # a fifth of 7 days is 1.4 days: 0.5 days left, 2/3 met: on track
        found = by_id((await dashboard(client, acct))["milestones"])
        assert found["account-ready"]["status"] == "REACHED"  # the iPad on day 4
        assert found["account-ready"]["daysToReach"] == 4.0
        assert found["account-ready"]["reachedAt"].startswith("2031-01-10T09:00:00")

        now[0] = day(12)  # 2 of 14 days left (< a fifth), nothing checked in (< half): at risk
        found = by_id((await dashboard(client, acct))["milestones"])
        assert found["first-visitor-checked-in"]["status"] == "AT_RISK"
        assert found["whole-team-invited"]["status"] == "REACHED"  # Cy on day 9
        assert found["whole-team-invited"]["daysToReach"] == 9.0

        now[0] = day(14.5)
        found = by_id((await dashboard(client, acct))["milestones"])
        assert found["first-visitor-checked-in"]["status"] == "OVERDUE"
        assert found["ten-visitors-in-a-week"]["status"] == "ON_TRACK"


async def test_ten_visitors_must_come_within_seven_days(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    acct = await reception(with_checkins=0)
    # Check-ins on days 3..7 (five), then days 12..18 (seven): never ten within 7 days ...
    for n in range(5):
        await app_event(acct, "ben", "visitor.checked_in", day(3 + n))
    for n in range(7):
        await app_event(acct, "ben", "visitor.checked_in", day(12 + n))
    with clock(app, day(20)):
        found = by_id((await dashboard(client, acct))["milestones"])
        ten = found["ten-visitors-in-a-week"]
        assert ten["status"] == "ON_TRACK"
        assert ten["met"] == pytest.approx(0.6)  # 6 in the last seven days (days 13..18)
        first = found["first-visitor-checked-in"]
        assert first["status"] == "REACHED"
        assert first["daysToReach"] == 3.0
        assert first["kpis"] == [
            {"event": "visitor.checked_in", "count": 12},
            {"event": "host.notified", "count": 0},
        ]
    # ... until three more on day 19: days 12..19 hold ten check-ins within seven days.
    for _ in range(3):
        await app_event(acct, "ben", "visitor.checked_in", day(19))
    with clock(app, day(20)):
        ten = by_id((await dashboard(client, acct))["milestones"])["ten-visitors-in-a-week"]
        assert ten["status"] == "REACHED"
        assert ten["daysToReach"] == 19.0


async def test_activation_time_to_value_adoption_and_health(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    acct = await reception(with_checkins=2)  # check-ins on days 3 and 4
    await app_event(acct, "ann", "watchlist.entry_added", day(5))
    # Ann finished the first-visitor flow (a member flow: her own completion record).
    await StepState.create(
        organization_id=acct.pk,
        member_key="ann",
        flow_id="first-visitor",
        step_id="",
        state="completed",
        by_member_id=acct.members["ann"].id,
        flow_revision=1,
        at=day(5),
    )
    await HelpRequest.create(
        public_id=unique("hr")[:32],
        token=unique("tok"),
        organization_id=acct.pk,
        flow_id="reception-setup",
        step_id="add-card",
        inviter_id=acct.members["ann"].id,
        status="open",
        created_at=day(5),
    )
    for n, score in enumerate((10, 9, 3)):
        await SurveyAnswer.create(
            organization_id=acct.pk,
            response_id=f"r{n}",
            survey_id="frontdesk-nps",
            question_id="recommend",
            question_type="nps",
            number=score,
            created_at=day(6),
        )
    with clock(app, day(10)):
        found = await dashboard(client, acct)
    assert found["activation"] == {"reached": True, "at": found["activation"]["at"], "days": 4.0}
    assert found["timeToValue"]["days"] == 3.0
    assert found["adoption"] == {
        "members": 3,
        "membersDone": 1,
        "rate": pytest.approx(1 / 3, abs=1e-4),
        "featuresExplored": ["visitor.", "watchlist."],
    }
    health = found["health"]
    parts = by_id(health["components"], "name")
    # Last activity day 6 (the NPS answers are not events: the watchlist event on day 5 is the
    # latest), 5 days idle of 30.
    assert parts["recency"]["value"] == pytest.approx(1 - 5 / 30, abs=1e-4)
    assert parts["adoption"]["value"] == pytest.approx(1 / 3, abs=1e-4)
    # Reached on time: account-ready, first visitor, team (Cy on day 9 <= 14); ten visitors on
    # track: all score 1.
    assert parts["milestones"]["value"] == 1.0
    assert parts["help"]["value"] == pytest.approx(0.8)
    assert parts["nps"]["value"] == pytest.approx((100 / 3 + 100) / 200, abs=1e-4)  # NPS 33.3
    expected = 0.25 * (1 - 5 / 30) + 0.25 / 3 + 0.3 * 1.0 + 0.1 * 0.8 + 0.1 * (100 / 3 + 100) / 200
    assert health["score"] == round(100 * expected)


async def test_funnel_counts_members_and_the_organization(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    acct = await reception()
    for member, start in (("ann", 1.0), ("ben", 3.0), ("cy", 10.0)):
        await done(acct, "first-visitor", "open-dashboard", member, day(start), own=True)
    await done(acct, "first-visitor", "register-test-visitor", "ann", day(1.5), own=True)
    await done(acct, "first-visitor", "register-test-visitor", "ben", day(4), own=True)
    await done(acct, "first-visitor", "get-notified", "ann", day(2), own=True)
    with clock(app, day(12)):
        found = await dashboard(client, acct, "first-visitor")
        setup = (await dashboard(client, acct))["funnel"]
    steps = by_id(found["funnel"]["steps"], "stepId")
    assert steps["open-dashboard"]["reached"] == 3
    assert steps["open-dashboard"]["dropOff"] == 0.0  # 3 of 3 members
    assert steps["register-test-visitor"]["reached"] == 2
    assert steps["register-test-visitor"]["dropOff"] == pytest.approx(1 / 3, abs=1e-4)
    assert steps["register-test-visitor"]["medianHoursFromPrevious"] == pytest.approx(18.0)
    assert steps["get-notified"]["reached"] == 1
    assert steps["get-notified"]["medianHoursFromPrevious"] == pytest.approx(12.0)
    assert steps["print-badge"]["reached"] == 0
    assert steps["print-badge"]["dropOff"] == 1.0
    org_steps = by_id(setup["steps"], "stepId")
    assert org_steps["create-account"]["organizationStep"] is True
    assert org_steps["create-account"]["reached"] == 1
    assert org_steps["add-card"]["reached"] == 0
    assert org_steps["connect-directory"]["medianHoursFromPrevious"] is None  # after add-card
    assert org_steps["install-ipad"]["reached"] == 1


async def test_a_dashboard_reads_its_organization_in_one_statement_per_field(
    client: httpx.AsyncClient, app: Starlette, database_url: str, sql_counter: SQLCounter
) -> None:
    """The bench's dashboard (milestones with KPIs, health, the funnels of both flows): on
    Postgres the insight with its KPI counts is one statement and each funnel one (beside the
    organization's row, read once for the fields' permission), whatever the organization
    holds; SQLite runs the same reads one by one."""
    acct = await reception(with_checkins=3)
    await done(acct, "first-visitor", "open-dashboard", "ann", day(1), own=True)
    with clock(app, day(10)):
        await dashboard(client, acct)  # the member is seen (its claims recorded) once
        sql_counter.statements.clear()
        body = await graphql(client, BENCH_DASHBOARD, owner_of(acct))
    assert "errors" not in body, body
    assert body["data"]["organization"]["setup"]["steps"][0]["reached"] == 1
    if is_postgres(database_url):
        assert len(sql_counter.statements) == 4, sql_counter.statements


async def test_moving_a_target_is_recorded_with_who_and_why(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    acct = await reception()
    variables = {
        "input": {
            "milestoneId": "first-visitor-checked-in",
            "targetAt": day(21).isoformat(),
            "reason": "The office opens a week late",
            "idempotencyKey": "move-1",
        }
    }
    with clock(app, day(15)):
        before = by_id((await dashboard(client, acct))["milestones"])
        assert before["first-visitor-checked-in"]["status"] == "OVERDUE"
        body = await graphql(client, MOVE, owner_of(acct), variables)
        payload = body["data"]["moveMilestoneTarget"]
        assert payload["userErrors"] == []
        moved = by_id(payload["milestones"])["first-visitor-checked-in"]
        assert moved["status"] == "ON_TRACK"
        assert moved["targetMove"]["movedBy"] == "ann"
        assert moved["targetMove"]["reason"] == "The office opens a week late"
        assert moved["targetMove"]["previousTargetAt"].startswith("2031-01-20T09:00:00")
        again = await graphql(client, MOVE, owner_of(acct), variables)  # a retry: replayed
        assert again["data"]["moveMilestoneTarget"]["userErrors"] == []
    events = await Event.filter(organization_id=acct.pk, name="milestone.target_moved")
    assert len(events) == 1
    assert_matches_event_schema(
        "milestone.target_moved", {"organizationId": acct.id, **events[0].properties}
    )

    member = auth(acct.id, "cy")
    refused = await graphql(
        client, MOVE, member, {"input": {**variables["input"], "idempotencyKey": None}}
    )
    assert refused["data"]["moveMilestoneTarget"]["userErrors"][0]["code"] == "FORBIDDEN"
    for wrong, code in (
        ({"milestoneId": "nope"}, "NOT_FOUND"),
        ({"targetAt": day(-1).isoformat()}, "INVALID_INPUT"),
        ({"reason": "  "}, "INVALID_INPUT"),
        ({"reason": "x" * 501}, "INVALID_INPUT"),
    ):
        body = await graphql(
            client,
            MOVE,
            owner_of(acct),
            {"input": {**variables["input"], "idempotencyKey": None, **wrong}},
        )
        assert body["data"]["moveMilestoneTarget"]["userErrors"][0]["code"] == code, wrong


async def test_only_drivers_read_insight_and_only_the_admin_key_reads_the_portfolio(
    client: httpx.AsyncClient,
) -> None:
    acct = await reception()
    body = await graphql(client, "{ organization { id health { score } } }", auth(acct.id, "cy"))
    assert body["data"]["organization"] == {"id": acct.id, "health": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await graphql(client, "{ insights { activationRate } }", owner_of(acct))
    assert body["data"]["insights"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_portfolio_ranks_accounts_by_health_with_cursors(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    # A week of its own (2031-06-02) so other tests' accounts stay out of the range.
    week = dt.datetime(2031, 6, 2, 9, 0, tzinfo=dt.UTC)
    healthy = await account(week, {"ann": (("admin",), week)})
    await done(healthy, "reception-setup", "create-account", "ann", week + dt.timedelta(days=1))
    await done(healthy, "reception-setup", "connect-directory", "ann", week + dt.timedelta(days=1))
    await done(healthy, "reception-setup", "install-ipad", "ann", week + dt.timedelta(days=2))
    await app_event(healthy, "ann", "visitor.checked_in", week + dt.timedelta(days=2))
    idle = await account(week + dt.timedelta(days=1), {"bo": ((), week + dt.timedelta(days=1))})
    quiet = await account(week + dt.timedelta(days=8), {"di": ((), week + dt.timedelta(days=8))})
    variables: dict[str, Any] = {
        "first": 2,
        "since": week.isoformat(),
        "until": (week + dt.timedelta(days=14)).isoformat(),
    }
    with clock(app, week + dt.timedelta(days=13)):
        body = await graphql(client, INSIGHTS, ADMIN, variables)
        assert "errors" not in body, body
        found = body["data"]["insights"]
        assert found["activationRate"] == pytest.approx(1 / 3, abs=1e-4)
        assert found["medianTimeToValueDays"] == 2.0
        assert found["activationByWeek"] == [
            {"week": "2031-06-02", "organizations": 2, "activated": 1, "rate": 0.5},
            {"week": "2031-06-09", "organizations": 1, "activated": 0, "rate": 0.0},
        ]
        page = found["organizations"]
        assert page["totalCount"] == 3
        first = [edge["node"] for edge in page["edges"]]
        scores = [node["health"]["score"] for node in first]
        assert scores == sorted(scores)
        assert first[0]["id"] == idle.id  # overdue setup, no activity for 12 days
        assert {m["id"] for m in first[0]["atRisk"]} >= {"account-ready"}
        rest = await graphql(
            client, INSIGHTS, ADMIN, {**variables, "after": page["pageInfo"]["endCursor"]}
        )
        second = [e["node"]["id"] for e in rest["data"]["insights"]["organizations"]["edges"]]
        assert len(second) == 1
        assert second[0] not in {n["id"] for n in first}
        assert {*(n["id"] for n in first), *second} == {healthy.id, idle.id, quiet.id}


def test_a_members_path_is_the_member_flows_their_roles_get() -> None:
    """With a flow for some roles, each member's path is matched in Python (the SQL count
    serves the plan where every member flow is for everyone)."""

    def flow(flow_id: str, scope: str = "user", roles: tuple[str, ...] = ()) -> Item:
        return Item(
            id=flow_id,
            kind="flow",
            locale="en",
            title=flow_id,
            summary="",
            phase="enable",
            audience=Audience(roles=roles),
            steps=(Step("s", "S", scope=scope),),  # type: ignore[arg-type]
        )

    plan = Plan(
        (),
        {
            "everyone": flow("everyone"),
            "billing": flow("billing", roles=("billing",)),
            "team": flow("team", scope="organization"),  # the account's, nobody's path
        },
        (),
    )
    rows = [
        MemberPathRow(1, "ann", ("billing",), {}, frozenset({"everyone"})),
        MemberPathRow(1, "ben", (), {}, frozenset({"everyone"})),
        MemberPathRow(2, "cy", ("billing",), {}, frozenset({"everyone", "billing"})),
        MemberPathRow(2, "di", (), {}, frozenset()),
    ]
    assert members_done(plan, rows) == {1: (2, 1), 2: (2, 1)}
