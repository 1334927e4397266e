"""The schema's precise types: kind-specific content types, enums, dates, structured step
fields, and the organization's lists as Relay connections."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.errors import HeedError
from api.paging import MAX_PAGE, paginate
from tests.conftest import TEST_ADMIN_KEY, SQLCounter, graphql
from tests.test_team_onboarding import REQUEST_HELP, Team, next_events, step, subscription

ADMIN = {"X-Heed-Admin-Key": TEST_ADMIN_KEY}
ITEM = """{ __typename id kind
  ... on Survey { questions { id type prompt options } }
  ... on Announcement { starts ends } }"""


async def test_each_kind_of_item_has_its_own_type(client: httpx.AsyncClient) -> None:
    body = await graphql(
        client,
        f"""{{ survey: contentItem(id: "frontdesk-nps") {ITEM}
              news: contentItem(id: "pre-registration-links") {ITEM}
              flow: contentItem(id: "reception-setup") {ITEM} }}""",
        ADMIN,
    )
    assert "errors" not in body, body
    survey, news, flow = body["data"]["survey"], body["data"]["news"], body["data"]["flow"]
    assert survey["__typename"] == "Survey"
    assert [(q["id"], q["type"]) for q in survey["questions"]] == [
        ("recommend", "NPS"),
        ("reason", "TEXT"),
    ]
    assert news == {
        "__typename": "Announcement",
        "id": "pre-registration-links",
        "kind": "ANNOUNCEMENT",
        "starts": "2026-11-02T00:00:00+00:00",
        "ends": "2027-01-31T23:59:59.999999+00:00",
    }
    assert flow == {"__typename": "FlowContent", "id": "reception-setup", "kind": "FLOW"}
    tip = await graphql(
        client, "{ content(kind: TIP, first: 1) { edges { node { __typename } } } }", ADMIN
    )
    assert tip["data"]["content"]["edges"] == [{"node": {"__typename": "ContentDocument"}}]


async def test_kind_specific_fields_need_a_fragment(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": '{ contentItem(id: "frontdesk-nps") { questions { id } } }'},
        headers=ADMIN,
    )
    assert response.status_code == 400
    assert "questions" in response.json()["errors"][0]["message"]
    listed = await graphql(
        client,
        "{ content(kind: SURVEY) { edges { node { __typename ... on Survey"
        " { questions { type } } } } } }",
        ADMIN,
    )
    edges = listed["data"]["content"]["edges"]
    assert edges
    assert {edge["node"]["__typename"] for edge in edges} == {"Survey"}


async def test_steps_carry_their_button_and_tour_as_objects(client: httpx.AsyncClient) -> None:
    ann = Team("cta").add("ann", "admin")
    body = await graphql(
        client,
        "{ flows { steps { id cta { label url } tour { selector placement route } } } }",
        ann,
    )
    steps = {s["id"]: s for flow in body["data"]["flows"] for s in flow["steps"]}
    assert steps["add-card"]["cta"] == {"label": "Open billing", "url": "/settings/billing"}
    assert steps["add-card"]["tour"] == {
        "selector": "#card-form",
        "placement": "RIGHT",
        "route": "/settings/billing",
    }
    assert steps["print-badge"]["tour"] is None  # a step without a tour


def test_a_page_holds_at_most_the_maximum() -> None:
    items = [f"{n:04}" for n in range(250)]
    page = paginate(items, str, 1000, None, "test")
    assert len(page.items) == MAX_PAGE
    assert page.has_next_page
    assert page.total_count == 250
    rest = paginate(items, str, None, page.entries[-1][0], "test")
    assert rest.items[0] == "0100"
    assert rest.has_previous_page
    assert paginate(items, str, 1, None, "test").items == ["0000"]
    for first in (0, -1):
        with pytest.raises(HeedError, match="`first` must be at least 1"):
            paginate(items, str, first, None, "test")


def test_a_cursor_continues_after_its_item_even_when_it_is_gone() -> None:
    cursor = paginate(["a", "b", "c"], str, 2, None, "test").entries[-1][0]
    assert paginate(["a", "c", "d"], str, 2, cursor, "test").items == ["c", "d"]


MEMBERS = """query($first: Int, $after: String) { organization { members(first: $first,
  after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
  edges { cursor node { member { id } isOwner progress(first: 1) { totalCount
    edges { node { flowId state } } } } } } } }"""


async def members_page(
    client: httpx.AsyncClient, headers: dict[str, str], first: int | None, after: str | None
) -> dict[str, Any]:
    body = await graphql(client, MEMBERS, headers, {"first": first, "after": after})
    assert "errors" not in body, body
    return body["data"]["organization"]["members"]  # type: ignore[no-any-return]


async def test_members_come_in_pages_in_a_bounded_number_of_statements(
    client: httpx.AsyncClient, sql_counter: SQLCounter
) -> None:
    team = Team("pages")
    ann = team.add("ann", "admin")
    names = ["ann", *(f"m{n:02}" for n in range(24))]
    for name in names:
        await graphql(
            client, "{ viewer { member { id } } }", team.add(name) if name != "ann" else ann
        )
    await members_page(client, ann, 10, None)
    sql_counter.statements.clear()
    first = await members_page(client, ann, 10, None)
    assert len(sql_counter.statements) <= 5, sql_counter.statements
    assert first["totalCount"] == 25
    assert first["pageInfo"]["hasNextPage"]
    assert not first["pageInfo"]["hasPreviousPage"]
    seen = [e["node"]["member"]["id"] for e in first["edges"]]
    after = first["pageInfo"]["endCursor"]
    while after is not None:
        page = await members_page(client, ann, 10, after)
        seen += [e["node"]["member"]["id"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    assert seen == sorted(names)
    progress = first["edges"][0]["node"]["progress"]
    assert progress["totalCount"] > 1
    assert len(progress["edges"]) == 1
    assert progress["edges"][0]["node"]["state"] == "NOT_STARTED"

    sql_counter.statements.clear()
    everyone = await members_page(client, ann, 100, None)
    assert len(everyone["edges"]) == 25
    assert len(sql_counter.statements) <= 5, sql_counter.statements


async def test_a_bad_cursor_is_a_clear_error(client: httpx.AsyncClient) -> None:
    ann = Team("cursor").add("ann", "admin")
    page = await members_page(client, ann, 1, None)
    foreign = page["edges"][0]["cursor"]
    for cursor in ("not a cursor", base64.urlsafe_b64encode(b"item:x").decode()):
        body = await graphql(client, MEMBERS, ann, {"first": 1, "after": cursor})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    other_list = await graphql(
        client,
        "query($a: String) { organization { helpRequests(after: $a) { totalCount } } }",
        ann,
        {"a": foreign},
    )
    assert other_list["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    negative = await graphql(client, MEMBERS, ann, {"first": -1})
    assert negative["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_open_help_requests_come_in_pages_oldest_first(client: httpx.AsyncClient) -> None:
    team = Team("helppages")
    ann = team.add("ann", "admin")
    await graphql(client, "{ viewer { member { id } } }", ann)
    emails = [f"guest{n}@example.test" for n in range(3)]
    for email in emails:
        asked = await graphql(
            client,
            REQUEST_HELP,
            ann,
            {"input": {"flowId": "reception-setup", "stepId": "add-nda", "email": email}},
        )
        assert asked["data"]["requestHelp"]["userErrors"] == [], asked
    query = """query($after: String) { organization { helpRequests(first: 2, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { email status } } } } }"""
    first = (await graphql(client, query, ann))["data"]["organization"]["helpRequests"]
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"]
    after = first["pageInfo"]["endCursor"]
    second = (await graphql(client, query, ann, {"after": after}))["data"]["organization"][
        "helpRequests"
    ]
    assert not second["pageInfo"]["hasNextPage"]
    nodes = [e["node"] for e in first["edges"] + second["edges"]]
    assert nodes == [{"email": email, "status": "OPEN"} for email in emails]


async def test_live_events_name_their_action_and_leave_out_what_they_lack(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """A reset is the admin key's, on a whole flow: no step, no member who did it."""
    team = Team("liveenums")
    ann = team.add("ann", "admin")
    await graphql(client, "{ viewer { member { id } } }", ann)
    async with subscription(app, ann["Authorization"].split()[1]) as socket:
        await step(client, ann, "completeStep", "first-visitor", "open-dashboard")
        reset = await graphql(
            client,
            'mutation { resetProgress(input: {memberId: "ann", flowId: "first-visitor"})'
            " { userErrors { code } } }",
            {**ADMIN, "X-Heed-Organization": team.org},
        )
        assert reset["data"]["resetProgress"]["userErrors"] == [], reset
        events = await next_events(socket, 2)
    assert [(e["action"], e["stepId"], e["memberId"]) for e in events] == [
        ("COMPLETED", "open-dashboard", "ann"),
        ("RESET", None, None),
    ]
