"""The writers' loop and what readers get from it, through the API on SQLite and Postgres:
whole revisions, translations that lag behind their source, page sizes, search ranking and
highlights, locale fallback turned off, and releases swapped after one edit."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.content.store import load_release, publish
from api.db import open_database, using
from api.settings import ConfigError, Settings
from tests.conftest import ROOT, SQLCounter, auth, graphql, running_app, unique

FLOW = "reception-setup"
STEPS = "steps { id title locale bodyHtml bodyTree roles requires scope }"


def copy_pack(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(ROOT / "content", target)
    return target


async def publish_into(database_url: str, root: Path) -> list[str]:
    """Publish `root`; the warnings printed for the writer."""
    database = await open_database(database_url, migrate=False)
    try:
        with using(database):
            result = await publish(root)
    finally:
        await database.close_connections()
    return [str(w) for w in result.warnings]


def admin_member(locale: str = "en") -> dict[str, str]:
    return auth(unique("acme"), unique("ann"), ("admin",), locale=locale)


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    return body["data"]


async def test_every_revision_of_a_flow_comes_back_with_its_steps(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = copy_pack(tmp_path)
    await publish_into(fresh_database_url, root)
    served = replace(settings, database_url=fresh_database_url)
    query = f"""query($r: Int, $l: String) {{
      contentItem(id: "{FLOW}", revision: $r, locale: $l) {{
        revision locale bodyMarkdown ... on FlowContent {{ {STEPS} }} }} }}"""
    member = admin_member()
    async with running_app(served) as (_, client):
        first = {
            locale: data(await graphql(client, query, member, {"r": None, "l": locale}))
            for locale in ("en", "ru")
        }
    assert [s["id"] for s in first["en"]["contentItem"]["steps"]][:2] == [
        "create-account",
        "add-card",
    ]
    source = root / "flows" / f"{FLOW}.md"
    text = source.read_text()
    text = text.replace("## Add the company card {#add-card}", "## Add a company card {#add-card}")
    text += "\n## Invite your team {#invite-team}\n\nAsk your colleagues to join.\n"
    source.write_text(text)
    await publish_into(fresh_database_url, root)
    async with running_app(served) as (_, client):
        now = data(await graphql(client, query, member, {"r": None, "l": "en"}))["contentItem"]
        old = {
            locale: data(await graphql(client, query, member, {"r": 1, "l": locale}))
            for locale in ("en", "ru")
        }
        zero = await graphql(client, query, member, {"r": 0, "l": "en"})
    assert now["revision"] == 2
    assert [s["id"] for s in now["steps"]][-1] == "invite-team"
    assert now["steps"][1]["title"] == "Add a company card"
    assert old == first, "revision 1, in each locale, exactly as it was served"
    assert zero["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_revision_outlives_its_item(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = copy_pack(tmp_path)
    retired = root / "articles" / "retired.md"
    retired.write_text(
        "---\nid: retired\nkind: article\ntitle: Retired\nsummary: Gone soon.\n"
        "phase: device\n---\nOnce served.\n"
    )
    await publish_into(fresh_database_url, root)
    retired.unlink()
    await publish_into(fresh_database_url, root)
    query = 'query($r: Int) { contentItem(id: "retired", revision: $r) { revision title } }'
    async with running_app(replace(settings, database_url=fresh_database_url)) as (_, client):
        current = data(await graphql(client, query, admin_member(), {"r": None}))
        older = data(await graphql(client, query, admin_member(), {"r": 1}))
    assert current["contentItem"] is None
    assert older["contentItem"]["revision"] == 1


async def test_a_translation_may_lag_behind_its_source(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = copy_pack(tmp_path)
    source = root / "flows" / f"{FLOW}.md"
    source.write_text(
        source.read_text() + "\n## Invite your team {#invite-team}\n\nAsk your colleagues.\n"
    )
    warnings = await publish_into(fresh_database_url, root)
    assert warnings == [
        f"content/flows/{FLOW}.ru.md:54:1: warning: step `invite-team` is not translated yet: "
        f"readers get it from `content/flows/{FLOW}.md` in `en` until you add "
        "`## Title {#invite-team}` here"
    ]
    query = f"""{{
      flow(id: "{FLOW}", locale: "ru") {{
        locale isFallback fallbackSteps steps {{ id title locale }} }}
      german: flow(id: "{FLOW}", locale: "de") {{ locale requestedLocale isFallback }}
      contentItem(id: "{FLOW}", locale: "ru") {{
        locale isFallback ... on FlowContent {{ fallbackSteps {STEPS} }} }}
    }}"""
    async with running_app(replace(settings, database_url=fresh_database_url)) as (_, client):
        answer = data(await graphql(client, query, admin_member("ru")))
    flow, item = answer["flow"], answer["contentItem"]
    assert (flow["locale"], flow["isFallback"], flow["fallbackSteps"]) == (
        "ru",
        False,
        ["invite-team"],
    )
    assert answer["german"] == {"locale": "en", "requestedLocale": "de", "isFallback": True}
    assert [(s["id"], s["locale"]) for s in flow["steps"]] == [
        ("create-account", "ru"),
        ("add-card", "ru"),
        ("connect-directory", "ru"),
        ("add-nda", "ru"),
        ("install-ipad", "ru"),
        ("invite-team", "en"),
    ]
    assert flow["steps"][-1]["title"] == "Invite your team"
    assert flow["steps"][0]["title"] == "Создайте аккаунт компании"
    assert (item["locale"], item["isFallback"], item["fallbackSteps"]) == (
        "ru",
        False,
        ["invite-team"],
    )
    assert item["steps"][-1]["locale"] == "en"


async def test_page_sizes_below_one_are_refused(
    client: httpx.AsyncClient, sql_counter: SQLCounter
) -> None:
    member = admin_member()
    for query in (
        '{ searchHelp(query: "visitor", first: -1) { score } }',
        '{ searchHelp(query: "visitor", first: 0) { score } }',
        "{ content(first: -5) { totalCount } }",
        "{ content(first: 0) { totalCount } }",
        '{ help(context: "settings", first: 0) { id } }',
    ):
        body = await graphql(client, query, member)
        assert body["data"] is None, query
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "`first` must be at least 1" in error["message"]
        assert "larger values give 100" in error["message"]


async def test_large_page_sizes_are_capped(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "content"
    root.mkdir()
    for n in range(130):
        (root / f"tip-{n:03}.md").write_text(
            f"---\nid: tip-{n:03}\nkind: tip\ntitle: Visitor tip {n}\n"
            f"summary: About visitors, number {n}.\nphase: device\n---\nVisitors.\n"
        )
    await publish_into(fresh_database_url, root)
    query = """{ content(first: 1000) { totalCount edges { node { id } } pageInfo { hasNextPage } }
                 searchHelp(query: "visitor", first: 1000) { item { id } } }"""
    async with running_app(replace(settings, database_url=fresh_database_url)) as (_, client):
        answer = data(await graphql(client, query, admin_member()))
    assert answer["content"]["totalCount"] == 130
    assert len(answer["content"]["edges"]) == 100
    assert answer["content"]["pageInfo"]["hasNextPage"]
    assert len(answer["searchHelp"]) == 100


async def ranking(client: httpx.AsyncClient, text: str) -> list[dict[str, Any]]:
    query = (
        "query($q: String!) { searchHelp(query: $q, first: 20) { item { id } score highlight } }"
    )
    return data(await graphql(client, query, admin_member(), {"q": text}))["searchHelp"]


async def test_whole_stems_rank_above_prefixes(client: httpx.AsyncClient) -> None:
    hits = await ranking(client, "connecting directories")
    ids = [hit["item"]["id"] for hit in hits]
    assert ids[:2] == ["connect-your-directory", FLOW], ids
    assert ids.index(FLOW) < ids.index("slack-and-teams")
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)
    slack = next(hit for hit in hits if hit["item"]["id"] == "slack-and-teams")
    assert "<mark>direct</mark>" not in slack["highlight"], "a prefix is not marked"


@pytest.mark.parametrize(
    "text", ["declined", "card", "connecting directories", "visitor badge", "nda"]
)
async def test_every_hit_has_a_highlight(client: httpx.AsyncClient, text: str) -> None:
    hits = await ranking(client, text)
    assert hits
    assert all("<mark>" in (hit["highlight"] or "") for hit in hits), hits
    if text == "declined":
        assert hits[0]["item"]["id"] == "card-declined"
        assert hits[0]["highlight"].startswith("The card was <mark>declined</mark> — ")


async def test_without_fallback_a_region_still_gets_its_language(
    settings: Settings, database_url: str
) -> None:
    strict = replace(settings, locale_fallback=False)
    query = """query($l: String) { contentItem(id: "guest-wifi", locale: $l) {
        locale requestedLocale isFallback } }"""
    async with running_app(strict) as (_, client):
        region = data(await graphql(client, query, admin_member(), {"l": "ru-RU"}))
        other = data(await graphql(client, query, admin_member(), {"l": "de"}))
    assert region["contentItem"] == {"locale": "ru", "requestedLocale": "ru-ru", "isFallback": True}
    assert other["contentItem"] is None


async def test_without_fallback_a_flow_in_progress_stays_listed(
    settings: Settings, database_url: str
) -> None:
    strict = replace(settings, locale_fallback=False)
    org, member = unique("acme"), unique("ann")
    flows = "{ flows { id locale progress { done } } }"
    complete = f"""mutation {{ completeStep(input: {{flowId: "{FLOW}", stepId: "create-account"}})
        {{ userErrors {{ code }} }} }}"""
    async with running_app(strict) as (_, client):
        english = auth(org, member, ("admin",), locale="en")
        assert data(await graphql(client, complete, english))["completeStep"]["userErrors"] == []
        german = auth(org, member, ("admin",), locale="de")
        listed = data(await graphql(client, flows, german))["flows"]
        newcomer = auth(unique("acme"), unique("bob"), ("admin",), locale="de")
        unlisted = data(await graphql(client, flows, newcomer))["flows"]
    assert [(f["id"], f["locale"], f["progress"]["done"]) for f in listed] == [(FLOW, "en", 1)]
    assert unlisted == [], "no German translation and no progress: nothing to show"


async def test_a_swap_after_one_edit_reads_one_payload(
    fresh_database_url: str, tmp_path: Path, sql_counter: SQLCounter
) -> None:
    root = copy_pack(tmp_path)
    await publish_into(fresh_database_url, root)
    article = root / "articles" / "guest-wifi.md"
    database = await open_database(fresh_database_url, migrate=False)
    try:
        with using(database):
            first = await load_release()
            assert first is not None
            article.write_text(article.read_text() + "\nOne more line.\n")
            await publish(root)
            sql_counter.statements.clear()
            second = await load_release(previous=first.catalog)
    finally:
        await database.close_connections()
    assert second is not None
    payload_reads = [s for s in sql_counter.statements if "payload" in s.lower()]
    assert len(payload_reads) == 1, "only the edited article and its translation are read"
    same = first.catalog.item("reception-setup", "en")
    assert second.catalog.item("reception-setup", "en") is same
    assert second.catalog.item("guest-wifi", "en").revision == 2
    edited = second.catalog.search("one more line", locale="en", first=1)
    assert edited[0].item.id == "guest-wifi"


@pytest.mark.parametrize(
    ("raw", "expected"), [("0.05", 0.05), ("2", 2.0), ("", 2.0), ("0", None), ("soon", None)]
)
def test_the_release_poll_takes_decimal_seconds(raw: str, expected: float | None) -> None:
    """`heed serve --watch` polls SQLite every 0.05 s; nonsense stops Heed with one line."""
    env = {"HEED_RELEASE_POLL_SECONDS": raw}
    if expected is None:
        with pytest.raises(ConfigError, match="HEED_RELEASE_POLL_SECONDS must be"):
            Settings.from_env(env)
    else:
        assert Settings.from_env(env).release_poll_seconds == expected
