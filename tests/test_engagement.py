"""Engagement through the API: survey answers and results, badges, and what shows when.

The clock the engagement use cases act at is the runtime's; tests move it in process (no
request can), so a week or a repeat period passes in an instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from api.db.models import BadgeAward, Event, SurveyAnswer
from tests.conftest import ROOT, TEST_ADMIN_KEY, SQLCounter, auth, graphql, unique
from tests.test_team_onboarding import next_events

SUBMIT = """mutation($input: SubmitSurveyInput!) { submitSurvey(input: $input) {
  response { id surveyId revision answeredAt answers { questionId value } }
  userErrors { code message field }
} }"""
NEXT_UP = "query($surface: String!) { nextUp(surface: $surface) { id kind } }"
MARK = """mutation($id: ID!) { %s(itemId: $id) {
  state { itemId surface seenAt shownAt dismissedAt answeredAt } userErrors { code field }
} }"""
TRACK = """mutation($event: String!) { track(input: {event: $event}) {
  completedSteps { id } userErrors { code } } }"""
RESULTS = """query($id: ID!, $since: DateTime, $until: DateTime) {
  surveyResults(surveyId: $id, since: $since, until: $until) {
    surveyId responses
    nps { score promoters passives detractors answers }
    csat { average answers distribution { score count } }
    questions { questionId type answers nps { score } csat { average }
                choices { option count } latestTexts { text } }
} }"""
BADGES = "{ viewer { badges { id title description icon image earnedAt } } }"
FIRST_VISITOR_EVENTS = (
    "dashboard.viewed",
    "visitor.registered",
    "host.notified",
    "badge.printed",
    "visitor.signed_out",
)
MONDAY = dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC)


@contextlib.contextmanager
def clock(app: Starlette, start: dt.datetime) -> Iterator[list[dt.datetime]]:
    """The runtime's clock set to `start`; move it by assigning `now[0]`."""
    runtime = app.state.runtime
    now = [start]
    real = runtime.clock
    runtime.clock = lambda: now[0]
    try:
        yield now
    finally:
        runtime.clock = real


async def submit(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    survey: str,
    answers: dict[str, Any],
    key: str | None = None,
) -> dict[str, Any]:
    variables = {
        "input": {
            "surveyId": survey,
            "answers": [{"questionId": q, "value": v} for q, v in answers.items()],
            "idempotencyKey": key,
        }
    }
    body = await graphql(client, SUBMIT, headers, variables)
    assert "errors" not in body, body
    return body["data"]["submitSurvey"]


async def next_up(client: httpx.AsyncClient, headers: dict[str, str], surface: str) -> list[str]:
    body = await graphql(client, NEXT_UP, headers, {"surface": surface})
    assert "errors" not in body, body
    return [item["id"] for item in body["data"]["nextUp"]]


async def mark(
    client: httpx.AsyncClient, headers: dict[str, str], verb: str, item: str
) -> dict[str, Any]:
    body = await graphql(client, MARK % verb, headers, {"id": item})
    assert "errors" not in body, body
    payload = body["data"][verb]
    assert payload["userErrors"] == [], payload
    return payload["state"]


def assert_matches_event_schema(event_type: str, data: dict[str, Any]) -> None:
    """The event's data, as a webhook body would carry it, against the catalogue's schema."""
    jsonschema = pytest.importorskip("jsonschema")
    path = ROOT / "api" / "events" / "schemas" / f"{event_type}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    body = {"type": event_type, "timestamp": "2026-11-30T09:00:00+00:00", "data": data}
    jsonschema.Draft202012Validator(schema).validate(body)


async def finish_first_visitor(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for event in FIRST_VISITOR_EVENTS:
        body = await graphql(client, TRACK, headers, {"event": event})
        assert body["data"]["track"]["userErrors"] == [], body


# --- survey answers ---------------------------------------------------------------------


async def test_every_wrong_answer_comes_back_with_its_question_id(
    client: httpx.AsyncClient,
) -> None:
    org = unique("survey")
    headers = auth(org, "ann")
    payload = await submit(
        client,
        headers,
        "setup-satisfaction",
        {
            "setup-ease": 6,
            "hardest-part": ["iPad", "Printer"],
            "first-location": ["Office lobby"],
            "missing": "x" * 2001,
            "no-such-question": 1,
        },
    )
    assert payload["response"] is None
    errors = {tuple(e["field"]): e for e in payload["userErrors"]}
    assert set(errors) == {
        ("answers", "no-such-question"),
        ("answers", "setup-ease"),
        ("answers", "hardest-part"),
        ("answers", "first-location"),
        ("answers", "missing"),
    }
    assert {e["code"] for e in errors.values()} == {"INVALID_INPUT"}
    assert "1 to 5" in errors[("answers", "setup-ease")]["message"]
    assert "'Printer' is not an option" in errors[("answers", "hardest-part")]["message"]
    assert "one option" in errors[("answers", "first-location")]["message"]
    assert "2000" in errors[("answers", "missing")]["message"]

    missing = await submit(client, headers, "setup-satisfaction", {"missing": "nothing"})
    assert {tuple(e["field"]) for e in missing["userErrors"]} == {
        ("answers", "setup-ease"),
        ("answers", "hardest-part"),
    }
    for value in (True, 3.5, "4", [4], 11, -1):
        wrong = await submit(
            client, headers, "setup-satisfaction", {"setup-ease": value, "hardest-part": ["NDA"]}
        )
        assert [e["field"] for e in wrong["userErrors"]] == [["answers", "setup-ease"]], value
    assert await SurveyAnswer.filter(organization__external_id=org).count() == 0


async def test_an_answer_is_kept_once_and_refused_again_within_the_repeat_period(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    org = unique("repeat")
    headers = auth(org, "ann", locale="ru")
    answers = {
        "setup-ease": 4,
        "hardest-part": ["Справочник сотрудников", "iPad"],
        "first-location": "Лобби офиса",
    }
    with clock(app, MONDAY):
        first = await submit(client, headers, "setup-satisfaction", answers, key="k1")
        assert first["userErrors"] == [], first
        again = await submit(client, headers, "setup-satisfaction", answers, key="k1")
        assert again["response"] == first["response"]  # replayed, not stored twice
        other = await submit(
            client, headers, "setup-satisfaction", {**answers, "setup-ease": 5}, key="k1"
        )
        assert other["userErrors"][0]["code"] == "IDEMPOTENCY_CONFLICT"
        refused = await submit(client, headers, "setup-satisfaction", answers)
    assert refused["userErrors"][0]["code"] == "ALREADY_ANSWERED"
    stored = await SurveyAnswer.filter(organization__external_id=org).order_by("id")
    assert [(a.question_id, a.number, a.choice) for a in stored] == [
        ("setup-ease", 4, None),
        ("hardest-part", None, "Employee directory"),  # kept in the source locale
        ("hardest-part", None, "iPad"),
        ("first-location", None, "Office lobby"),
    ]
    events = await Event.filter(organization__external_id=org, name="survey.answered")
    assert len(events) == 1
    data = events[0].properties
    assert (data["version"], data["actorId"], data["organizationId"]) == (1, "ann", org)
    assert data["surveyId"] == "setup-satisfaction"
    assert_matches_event_schema("survey.answered", data)


async def test_an_nps_survey_is_not_shown_again_until_its_repeat_period(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    headers = auth(unique("nps"), "ann")
    with clock(app, MONDAY) as now:
        await finish_first_visitor(client, headers)
        assert await next_up(client, headers, "modal") == ["frontdesk-nps"]
        answered = await submit(client, headers, "frontdesk-nps", {"recommend": 9})
        assert answered["userErrors"] == [], answered
        for days in (1, 30, 89):
            now[0] = MONDAY + dt.timedelta(days=days)
            assert "frontdesk-nps" not in await next_up(client, headers, "modal"), days
        refused = await submit(client, headers, "frontdesk-nps", {"recommend": 10})
        assert refused["userErrors"][0]["code"] == "ALREADY_ANSWERED"
        assert "again after 2031-06-01T09:00" in refused["userErrors"][0]["message"]
        now[0] = MONDAY + dt.timedelta(days=90, hours=1)
        assert await next_up(client, headers, "modal") == ["frontdesk-nps"]
        second = await submit(client, headers, "frontdesk-nps", {"recommend": 10})
        assert second["userErrors"] == [], second


# --- survey results ---------------------------------------------------------------------

NPS_SCORES = (10, 10, 9, 9, 9, 8, 7, 6, 3, 0)  # 5 promoters, 2 passives, 3 detractors: +20
CSAT_SCORES = (5, 5, 4, 4, 4, 3, 2, 1)  # average 3.5
RESULTS_DAY = dt.datetime(2033, 5, 1, 8, 0, tzinfo=dt.UTC)


async def test_nps_and_csat_results_match_hand_counted_answers(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    org, other = unique("results"), unique("results-other")
    owner = auth(org, "owner", ("admin",))
    members = [auth(org, f"m{i}") for i in range(len(NPS_SCORES))]
    outsider = auth(other, "zed")
    with clock(app, RESULTS_DAY) as now:
        for i, (headers, score) in enumerate(zip(members, NPS_SCORES, strict=True)):
            now[0] = RESULTS_DAY + dt.timedelta(minutes=i)
            await finish_first_visitor(client, headers)
            reason = {"reason": f"reason {i}"} if i % 3 == 0 else {}
            done = await submit(client, headers, "frontdesk-nps", {"recommend": score, **reason})
            assert done["userErrors"] == [], done
        picks = (["NDA"], ["NDA", "iPad"], ["Company card"], ["NDA"], ["iPad"], ["NDA"], [], [])
        for headers, score, pick in zip(members, CSAT_SCORES, picks, strict=False):
            answer: dict[str, Any] = {"setup-ease": score, "hardest-part": pick or ["iPad"]}
            assert (await submit(client, headers, "setup-satisfaction", answer))["userErrors"] == []
        await finish_first_visitor(client, outsider)
        assert (await submit(client, outsider, "frontdesk-nps", {"recommend": 0}))[
            "userErrors"
        ] == []

    window = {"since": "2033-05-01T00:00:00Z", "until": "2033-05-02T00:00:00Z"}
    body = await graphql(client, RESULTS, owner, {"id": "frontdesk-nps", **window})
    assert "errors" not in body, body
    nps = body["data"]["surveyResults"]
    assert nps["responses"] == 10
    assert nps["nps"] == {
        "score": 20.0,
        "promoters": 5,
        "passives": 2,
        "detractors": 3,
        "answers": 10,
    }
    reason = next(q for q in nps["questions"] if q["questionId"] == "reason")
    assert [t["text"] for t in reason["latestTexts"]] == [
        "reason 9",
        "reason 6",
        "reason 3",
        "reason 0",
    ]

    body = await graphql(client, RESULTS, owner, {"id": "setup-satisfaction", **window})
    csat = body["data"]["surveyResults"]
    assert csat["responses"] == len(CSAT_SCORES)
    assert csat["csat"]["average"] == 3.5
    assert csat["csat"]["distribution"] == [
        {"score": 1, "count": 1},
        {"score": 2, "count": 1},
        {"score": 3, "count": 1},
        {"score": 4, "count": 3},
        {"score": 5, "count": 2},
    ]
    hardest = next(q for q in csat["questions"] if q["questionId"] == "hardest-part")
    assert {c["option"]: c["count"] for c in hardest["choices"]} == {
        "Company card": 1,
        "Employee directory": 0,
        "NDA": 4,
        "iPad": 4,
    }

    # The admin key: across organizations (the outsider's 0 joins), or one organization.
    admin = {"X-Heed-Admin-Key": TEST_ADMIN_KEY}
    everyone = await graphql(client, RESULTS, admin, {"id": "frontdesk-nps", **window})
    assert everyone["data"]["surveyResults"]["nps"]["detractors"] == 4
    assert everyone["data"]["surveyResults"]["responses"] == 11
    per_organization = await graphql(
        client,
        """query($id: ID!, $since: DateTime, $until: DateTime) {
          surveyResults(surveyId: $id, since: $since, until: $until) {
            organizations { organizationId responses nps { score } csatAverage } } }""",
        admin,
        {"id": "frontdesk-nps", **window},
    )
    assert per_organization["data"]["surveyResults"]["organizations"] == sorted(
        [
            {"organizationId": org, "responses": 10, "nps": {"score": 20.0}, "csatAverage": None},
            {
                "organizationId": other,
                "responses": 1,
                "nps": {"score": -100.0},
                "csatAverage": None,
            },
        ],
        key=lambda row: row["organizationId"],
    )
    one = await graphql(
        client, RESULTS, {**admin, "X-Heed-Organization": other}, {"id": "frontdesk-nps", **window}
    )
    assert one["data"]["surveyResults"]["nps"] == {
        "score": -100.0,
        "promoters": 0,
        "passives": 0,
        "detractors": 1,
        "answers": 1,
    }
    # A time range that leaves the answers out, and members who are not owner or admin.
    later = await graphql(
        client, RESULTS, owner, {"id": "frontdesk-nps", "since": "2033-05-02T00:00:00Z"}
    )
    assert later["data"]["surveyResults"]["responses"] == 0
    assert later["data"]["surveyResults"]["nps"] is None
    refused = await graphql(client, RESULTS, members[0], {"id": "frontdesk-nps"})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    named = await graphql(
        client, 'mutation { setOnboardingOwner(memberId: "m0") { userErrors { code } } }', owner
    )
    assert named["data"]["setOnboardingOwner"]["userErrors"] == []
    as_owner = await graphql(client, RESULTS, members[0], {"id": "frontdesk-nps", **window})
    assert as_owner["data"]["surveyResults"]["nps"]["score"] == 20.0  # the onboarding owner


# --- badges -----------------------------------------------------------------------------


async def test_a_badge_is_earned_once_under_fifty_concurrent_triggers(
    client: httpx.AsyncClient,
) -> None:
    """`busy-front-desk` needs 25 check-ins: 24 earn nothing, then 50 at once earn it once."""
    org = unique("badges")
    headers = auth(org, "ann")
    for _ in range(24):
        await graphql(client, TRACK, headers, {"event": "visitor.checked_in"})
    assert await BadgeAward.filter(organization__external_id=org).count() == 0
    results = await asyncio.gather(
        *[graphql(client, TRACK, headers, {"event": "visitor.checked_in"}) for _ in range(50)]
    )
    assert all(r["data"]["track"]["userErrors"] == [] for r in results)
    assert await BadgeAward.filter(organization__external_id=org).count() == 1
    earned = await Event.filter(organization__external_id=org, name="badge.earned")
    assert [e.properties["badgeId"] for e in earned] == ["busy-front-desk"]
    assert_matches_event_schema("badge.earned", earned[0].properties)
    body = await graphql(client, BADGES, headers)
    (badge,) = body["data"]["viewer"]["badges"]
    assert badge["id"] == "busy-front-desk"
    assert badge["image"] == "/static/badges/busy-front-desk.svg"
    assert badge["earnedAt"] is not None


async def test_fifty_concurrent_completions_of_a_flow_earn_its_badge_once(
    client: httpx.AsyncClient,
) -> None:
    org = unique("flowbadge")
    headers = auth(org, "ann", locale="ru")
    for event in FIRST_VISITOR_EVENTS[:-1]:
        await graphql(client, TRACK, headers, {"event": event})
    step = """mutation { completeStep(input: {flowId: "first-visitor",
      stepId: "sign-out-visitor"}) { userErrors { code } } }"""
    await asyncio.gather(*[graphql(client, step, headers) for _ in range(50)])
    awards = await BadgeAward.filter(organization__external_id=org).values_list(
        "badge_id", flat=True
    )
    assert list(awards) == ["first-visitor-welcomed"]
    assert await Event.filter(organization__external_id=org, name="badge.earned").count() == 1
    body = await graphql(client, BADGES, headers)
    assert [b["title"] for b in body["data"]["viewer"]["badges"]] == ["Первый гость встречен"]


async def test_the_colleague_who_unblocks_a_help_request_earns_a_badge(
    client: httpx.AsyncClient,
) -> None:
    org = unique("unblock")
    ann, bob = auth(org, "ann"), auth(org, "bob", ("it_admin",))
    await graphql(client, "{ viewer { member { id } } }", bob)
    asked = await graphql(
        client,
        """mutation { requestHelp(input: {flowId: "reception-setup", stepId: "connect-directory",
          memberId: "bob"}) { userErrors { code } } }""",
        ann,
    )
    assert asked["data"]["requestHelp"]["userErrors"] == [], asked
    done = await graphql(
        client,
        """mutation { completeStep(input: {flowId: "reception-setup", stepId: "connect-directory"})
          { userErrors { code } } }""",
        bob,
    )
    assert done["data"]["completeStep"]["userErrors"] == [], done
    ids = lambda body: [b["id"] for b in body["data"]["viewer"]["badges"]]  # noqa: E731
    assert ids(await graphql(client, BADGES, bob)) == ["team-unblocker"]
    assert ids(await graphql(client, BADGES, ann)) == []


# --- what shows when --------------------------------------------------------------------


async def test_a_modal_shows_one_item_at_a_time_with_a_cool_off_over_a_week(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """Modal: limit one, a day's cool-off. The tour (priority 80), then the NPS survey once
    the tour is done (50), then the tip (30)."""
    headers = auth(unique("week"), "ann")
    day = lambda n, hour: MONDAY.replace(hour=hour) + dt.timedelta(days=n)  # noqa: E731
    with clock(app, day(0, 9)) as now:
        assert await next_up(client, headers, "modal") == ["first-visitor"]
        seen = await mark(client, headers, "markSeen", "first-visitor")
        assert (seen["surface"], seen["seenAt"][:10]) == ("modal", "2031-03-03")
        now[0] = day(0, 15)
        assert await next_up(client, headers, "modal") == []  # cooling off
        now[0] = day(1, 10)
        assert await next_up(client, headers, "modal") == ["first-visitor"]  # not done yet
        await finish_first_visitor(client, headers)
        assert await next_up(client, headers, "modal") == ["frontdesk-nps"]
        await mark(client, headers, "markSeen", "frontdesk-nps")
        now[0] = day(1, 20)
        assert await next_up(client, headers, "modal") == []
        now[0] = day(2, 11)
        assert await next_up(client, headers, "modal") == ["frontdesk-nps"]
        await mark(client, headers, "markSeen", "frontdesk-nps")
        dismissed = await mark(client, headers, "dismiss", "frontdesk-nps")
        again = await mark(client, headers, "dismiss", "frontdesk-nps")
        assert again == dismissed  # idempotent
        now[0] = day(2, 12)
        assert await next_up(client, headers, "modal") == []
        now[0] = day(3, 12)
        assert await next_up(client, headers, "modal") == ["one-visit-end-to-end"]
        await mark(client, headers, "markSeen", "one-visit-end-to-end")
        now[0] = day(4, 13)
        assert await next_up(client, headers, "modal") == ["one-visit-end-to-end"]
        await mark(client, headers, "markSeen", "one-visit-end-to-end")
        await mark(client, headers, "dismiss", "one-visit-end-to-end")
        for n in (5, 6):
            now[0] = day(n, 14)
            assert await next_up(client, headers, "modal") == []
        now[0] = day(93, 9)  # the NPS survey's 90 days have passed since its dismissal
        assert await next_up(client, headers, "modal") == ["frontdesk-nps"]


async def test_an_announcement_remembers_being_seen_and_marks_need_a_member(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    org = unique("banner")
    headers = auth(org, "ann")
    with clock(app, dt.datetime(2026, 12, 1, tzinfo=dt.UTC)):
        assert await next_up(client, headers, "banner") == ["pre-registration-links"]
        first = await mark(client, headers, "markSeen", "pre-registration-links")
        assert await next_up(client, headers, "banner") == []
    with clock(app, dt.datetime(2026, 12, 2, tzinfo=dt.UTC)):
        second = await mark(client, headers, "markSeen", "pre-registration-links")
        assert await next_up(client, headers, "banner") == []
    assert second["seenAt"] == first["seenAt"]
    assert second["shownAt"] > first["shownAt"]
    unknown = await graphql(client, MARK % "dismiss", headers, {"id": "no-such-item"})
    assert unknown["data"]["dismiss"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["itemId"]}]
    bad = await graphql(client, NEXT_UP, headers, {"surface": "popup"})
    assert bad["errors"][0]["extensions"]["code"] == "UNKNOWN_SURFACE"
    admin = {"X-Heed-Admin-Key": TEST_ADMIN_KEY, "X-Heed-Organization": org}
    refused = await graphql(client, MARK % "markSeen", admin, {"id": "pre-registration-links"})
    assert refused["data"]["markSeen"]["userErrors"] == [{"code": "FORBIDDEN", "field": []}]


async def test_heed_export_surveys_writes_every_answer_as_csv(
    client: httpx.AsyncClient, app: Starlette, database_url: str, tmp_path: Path
) -> None:
    org = unique("export")
    with clock(app, dt.datetime(2034, 1, 5, 12, 0, tzinfo=dt.UTC)):
        for member, score, pick in (("ann", 5, ["NDA", "iPad"]), ("bob", 2, ["Company card"])):
            answer = {"setup-ease": score, "hardest-part": pick, "missing": f"from {member}"}
            done = await submit(client, auth(org, member), "setup-satisfaction", answer)
            assert done["userErrors"] == [], done
    output = tmp_path / "answers.csv"
    env = {key: value for key, value in os.environ.items() if not key.startswith("HEED_")}
    env = {**env, "DATABASE_URL": database_url, "HEED_DATA_DIR": str(tmp_path)}
    window = ("--organization", org, "--since", "2034-01-05", "--output", str(output))
    result = await export_surveys(env, "setup-satisfaction", *window)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [
        (r["member_id"], r["question_id"], r["number"], r["choice"], r["text"]) for r in rows
    ] == [
        ("ann", "setup-ease", "5", "", ""),
        ("ann", "hardest-part", "", "NDA", ""),
        ("ann", "hardest-part", "", "iPad", ""),
        ("ann", "missing", "", "", "from ann"),
        ("bob", "setup-ease", "2", "", ""),
        ("bob", "hardest-part", "", "Company card", ""),
        ("bob", "missing", "", "", "from bob"),
    ]
    assert {r["organization_id"] for r in rows} == {org}
    assert rows[0]["answered_at"].startswith("2034-01-05T12:00:00")
    unknown = await export_surveys(env, "setup-satisfaction", "--organization", "nobody-here")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "heed: no organization 'nobody-here'"


async def export_surveys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`heed export surveys …` as a user runs it, in a process of its own."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api.cli", "export", "surveys", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env=env,
    )


async def test_earning_a_badge_is_a_live_progress_notice(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    org = unique("live")
    ann = auth(org, "ann")
    for event in FIRST_VISITOR_EVENTS[:-1]:
        await graphql(client, TRACK, ann, {"event": event})
    transport = ASGIWebSocketTransport(app=app)
    query = "subscription { progressChanged { flowId stepId action badgeId memberId } }"
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://heed.test") as ws_client,
        aconnect_ws(
            "/graphql", ws_client, subprotocols=["graphql-transport-ws"], headers=ann
        ) as socket,
    ):
        await socket.send_json({"type": "connection_init", "payload": {}})
        assert (await socket.receive_json(timeout=5))["type"] == "connection_ack"
        await socket.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        await asyncio.sleep(0.1)  # let the subscription register before the change
        await graphql(client, TRACK, ann, {"event": FIRST_VISITOR_EVENTS[-1]})
        events = await next_events(socket, 2)
    assert events == [
        {
            "flowId": "first-visitor",
            "stepId": "sign-out-visitor",
            "action": "COMPLETED",
            "badgeId": None,
            "memberId": "ann",
        },
        {
            "flowId": "first-visitor",
            "stepId": None,
            "action": "BADGE_EARNED",
            "badgeId": "first-visitor-welcomed",
            "memberId": "ann",
        },
    ]


async def test_engagement_reads_cost_a_constant_number_of_statements(
    client: httpx.AsyncClient, app: Starlette, sql_counter: SQLCounter
) -> None:
    """`nextUp` reads the viewer's marks and state (two statements, however many items and
    marks); badges are read only when asked for (one more); a mark costs the write unit's
    lock, common read, its own read and one write."""
    headers = auth(unique("count"), "ann")
    with clock(app, MONDAY):
        for item in ("try-a-test-visitor", "onboarding-owner", "free-trial", "first-visitor"):
            await mark(client, headers, "markSeen", item)
        await graphql(client, "{ viewer { member { id } } }", headers)
        sql_counter.statements.clear()
        assert await next_up(client, headers, "sidebar") == [
            "try-a-test-visitor",
            "onboarding-owner",
        ]
        assert len(sql_counter.statements) <= 3, sql_counter.statements
        sql_counter.statements.clear()
        body = await graphql(client, "{ viewer { member { id } badges { id } } }", headers)
        assert body["data"]["viewer"]["badges"] == []
        assert len(sql_counter.statements) <= 2, sql_counter.statements
        sql_counter.statements.clear()
        await mark(client, headers, "dismiss", "free-trial")
        assert len(sql_counter.statements) <= 4, sql_counter.statements


async def test_next_up_is_never_answered_from_the_cache(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """Nothing is written between the two queries: only the clock tells the cool-off ended."""
    headers = auth(unique("cache"), "ann")
    query = '{ viewer { member { id } } nextUp(surface: "modal") { id } }'
    with clock(app, MONDAY) as now:
        await mark(client, headers, "markSeen", "first-visitor")
        now[0] = MONDAY + dt.timedelta(hours=1)
        cooling = await graphql(client, query, headers)
        assert cooling["data"]["nextUp"] == []
        now[0] = MONDAY + dt.timedelta(hours=25)
        again = await graphql(client, query, headers)
        assert again["data"]["nextUp"] == [{"id": "first-visitor"}]
