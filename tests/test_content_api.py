"""Content through GraphQL: served from memory, published as releases, swapped live."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from api.content.store import PublishRefused, publish
from api.db import open_database, using
from api.db.models import ContentRevision, Release
from api.settings import Settings
from tests.conftest import (
    ROOT,
    TEST_ADMIN_KEY,
    SQLCounter,
    auth,
    graphql,
    running_app,
    serve_env,
    token,
    unique,
)
from tests.test_cli import HEED, free_port

ITEM = "{ id title locale requestedLocale isFallback revision kind phase bodyHtml }"


@pytest.fixture
def member() -> dict[str, str]:
    return auth(unique("acme"), unique("brendan"), ("office_manager",), locale="en")


async def test_content_queries_run_no_sql(
    client: httpx.AsyncClient, member: dict[str, str], sql_counter: SQLCounter
) -> None:
    await graphql(client, "{ viewer { member { id } } }", member)  # first sight: stored
    sql_counter.statements.clear()
    body = await graphql(
        client,
        f"""{{
          release {{ number itemCount }}
          content(kind: TIP, first: 5) {{ totalCount edges {{ node {ITEM} }} }}
          contentItem(id: "reception-setup") {ITEM}
          help(context: "settings.devices", first: 5) {{ id title bodyHtml }}
          searchHelp(query: "visitors", first: 10) {{ item {{ id title }} highlight }}
        }}""",
        member,
    )
    assert "errors" not in body, body
    assert body["data"]["release"]["itemCount"] == 108
    assert sql_counter.statements == []


async def test_prerequisites_show_items_once_their_flow_is_completed(
    client: httpx.AsyncClient, sql_counter: SQLCounter
) -> None:
    """The NPS survey targets members who finished `first-visitor` (the setup survey is for
    everyone)."""
    headers = auth(unique("acme"), unique("ann"), locale="en")
    query = '{ contentItem(id: "frontdesk-nps") { id } content(kind: SURVEY) { totalCount } }'
    before = await graphql(client, query, headers)
    assert before["data"] == {"contentItem": None, "content": {"totalCount": 1}}
    for event in ("dashboard.viewed", "visitor.registered", "host.notified", "visitor.signed_out"):
        tracked = await graphql(
            client,
            "mutation($e: String!) { track(input: {event: $e}) { userErrors { code } } }",
            headers,
            {"e": event},
        )
        assert tracked["data"]["track"]["userErrors"] == []
    sql_counter.statements.clear()
    after = await graphql(client, query, headers)
    assert after["data"] == {"contentItem": {"id": "frontdesk-nps"}, "content": {"totalCount": 2}}
    assert len(sql_counter.statements) == 1, "completions load once, only when needed"


async def test_locale_fallback_is_reported(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    query = 'query($l: String) { contentItem(id: "reception-setup", locale: $l) ' + ITEM + " }"
    russian = (await graphql(client, query, member, {"l": "ru"}))["data"]["contentItem"]
    assert (russian["locale"], russian["isFallback"]) == ("ru", False)
    assert russian["title"] != "Set up your reception"
    german = (await graphql(client, query, member, {"l": "de-at"}))["data"]["contentItem"]
    assert (german["requestedLocale"], german["locale"], german["isFallback"]) == (
        "de-at",
        "en",
        True,
    )


async def test_audience_roles_filter_content(client: httpx.AsyncClient) -> None:
    org = unique("acme")
    query = "{ content(first: 100) { edges { node { id } } } }"
    billing = await graphql(client, query, auth(org, unique("dana"), ("billing",)))
    nobody = await graphql(client, query, auth(org, unique("ivan"), ()))
    billing_ids = {e["node"]["id"] for e in billing["data"]["content"]["edges"]}
    nobody_ids = {e["node"]["id"] for e in nobody["data"]["content"]["edges"]}
    assert nobody_ids < billing_ids, "role-targeted items reach only their roles"


async def test_pagination_walks_every_item_once(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    query = """query($after: String) { content(first: 7, after: $after) {
        totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await graphql(client, query, member, {"after": after}))["data"]["content"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == page["totalCount"] == len(set(seen))
    assert seen == sorted(seen)


async def test_bad_cursor_is_a_clear_error(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    body = await graphql(client, '{ content(after: "nope") { totalCount } }', member)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("query", "locale", "expected"),
    [
        ("visitors", "en", "checking-in-visitors"),
        ("visiting", "en", "checking-in-visitors"),
        ("посетителям", "ru", "checking-in-visitors"),
        ("посетитель", "ru", "checking-in-visitors"),
    ],
)
async def test_search_finds_word_forms(
    client: httpx.AsyncClient, member: dict[str, str], query: str, locale: str, expected: str
) -> None:
    body = await graphql(
        client,
        "query($q: String!, $l: String) { searchHelp(query: $q, locale: $l, first: 10) "
        "{ item { id locale } score highlight } }",
        member,
        {"q": query, "l": locale},
    )
    hits = body["data"]["searchHelp"]
    assert expected in [hit["item"]["id"] for hit in hits]
    assert all(hit["item"]["locale"] == locale for hit in hits)
    assert "<mark>" in hits[0]["highlight"]


async def test_help_puts_the_viewers_role_first(client: httpx.AsyncClient) -> None:
    body = await graphql(
        client,
        '{ help(context: "settings.billing", first: 5) { id } }',
        auth(unique("acme"), unique("dana"), ("billing",)),
    )
    assert body["data"]["help"], "billing screen has help for billing"


def copy_pack(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(ROOT / "content", target)
    return target


async def test_publishing_creates_releases_and_revisions(
    fresh_database_url: str, tmp_path: Path
) -> None:
    root = copy_pack(tmp_path)
    database = await open_database(fresh_database_url, migrate=False)
    try:
        with using(database):
            first = await publish(root)
            again = await publish(root)
            assert (first.number, first.created, first.new_revisions) == (1, True, 108)
            assert (again.number, again.created) == (1, False)
            assert await Release.all().count() == 1

            tip = root / "articles" / "guest-wifi.md"
            tip.write_text(tip.read_text().replace("Wi-Fi", "wireless network", 1))
            second = await publish(root)
            assert (second.number, second.created) == (2, True)
            assert second.new_revisions == 2, "the edited source and its translation"
            revisions = await ContentRevision.filter(item_id="guest-wifi").values_list(
                "locale", "revision"
            )
            assert sorted(revisions) == [("en", 1), ("en", 2), ("ru", 1), ("ru", 2)]
            assert await ContentRevision.filter(revision=2).count() == 2

            broken = root / "tips" / "broken.md"
            broken.write_text("---\nid: broken\nkind: nonsense\n---\nbody\n")
            with pytest.raises(PublishRefused) as refused:
                await publish(root)
            assert any("broken.md:3:" in str(p) for p in refused.value.problems)
            assert await Release.all().count() == 2, "refused content publishes nothing"
    finally:
        await database.close_connections()


async def test_older_revisions_stay_retrievable(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = copy_pack(tmp_path)
    database = await open_database(fresh_database_url, migrate=False)
    try:
        with using(database):
            await publish(root)
            tip = root / "articles" / "guest-wifi.md"
            tip.write_text(tip.read_text() + "\nA line added in revision two.\n")
            await publish(root)
    finally:
        await database.close_connections()
    headers = auth(unique("acme"), unique("ann"), ("it_admin",), locale="en")
    query = (
        'query($r: Int) { contentItem(id: "guest-wifi", revision: $r) { revision bodyMarkdown } }'
    )
    async with running_app(replace(settings, database_url=fresh_database_url)) as (_, client):
        current = (await graphql(client, query, headers, {"r": None}))["data"]["contentItem"]
        older = (await graphql(client, query, headers, {"r": 1}))["data"]["contentItem"]
        missing = (await graphql(client, query, headers, {"r": 9}))["data"]["contentItem"]
    assert current["revision"] == 2
    assert "revision two" in current["bodyMarkdown"]
    assert older["revision"] == 1
    assert "revision two" not in older["bodyMarkdown"]
    assert missing is None


XSS = """---
id: xss-probe
kind: article
title: Probe
summary: Probe
phase: device
---
<script>alert(1)</script>
<img src=x onerror=alert(1)>
[click](javascript:alert(1)) [data](data:text/html,<script>alert(1)</script>)
<svg onload=alert(1)><a href="heed:x" onclick="alert(1)">x</a>
![img](javascript:alert(1))
"""


async def test_published_html_is_never_executable(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "content"
    root.mkdir()
    (root / "xss.md").write_text(XSS)
    database = await open_database(fresh_database_url, migrate=False)
    try:
        with using(database):
            await publish(root)
    finally:
        await database.close_connections()
    async with running_app(replace(settings, database_url=fresh_database_url)) as (_, client):
        body = await graphql(
            client,
            '{ contentItem(id: "xss-probe") { bodyHtml bodyTree } }',
            auth(unique("acme"), unique("ann")),
        )
    assert executable_parts(body["data"]["contentItem"]["bodyHtml"]) == []
    assert unsafe_urls(body["data"]["contentItem"]["bodyTree"]) == []


def unsafe_urls(node: object) -> list[str]:
    """URLs in the tree's links and images that a client could be made to open or run."""
    found: list[str] = []
    if isinstance(node, dict):
        for key in ("href", "src"):
            url = str(node.get(key) or "").strip().lower()
            if url.startswith(("javascript:", "data:", "vbscript:")):
                found.append(url)
        for child in node.get("children", []):
            found += unsafe_urls(child)
    return found


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "svg", "iframe", "object", "embed", "style", "math"):
            self.found.append(tag)
        for name, value in attrs:
            url = (value or "").strip().lower()
            if name.startswith("on") or name == "style":
                self.found.append(f"{tag}[{name}]")
            if name in ("href", "src") and url.startswith(("javascript:", "data:", "vbscript:")):
                self.found.append(f"{tag}[{name}={url}]")


def executable_parts(html: str) -> list[str]:
    """Tags and attributes a browser would run, as parsed (escaped text is harmless)."""
    scanner = _Scanner()
    scanner.feed(html)
    return scanner.found


@pytest.fixture
def two_workers(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[list[str], dict]]:
    """Two `heed serve` processes on one database, as production runs them."""
    env = serve_env(fresh_database_url, tmp_path / "data", HEED_ENV="production")
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(  # noqa: S603 (our own CLI)
            [*HEED, "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            wait_until(lambda url=url: _healthy(url))
        yield urls, env
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def wait_until(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def served_release(url: str, headers: dict[str, str]) -> int | None:
    response = httpx.post(
        f"{url}/graphql", json={"query": "{ release { number } }"}, headers=headers
    )
    data = response.json().get("data")
    return data["release"]["number"] if data else None


def test_publish_swaps_every_running_worker(
    two_workers: tuple[list[str], dict], tmp_path: Path
) -> None:
    urls, env = two_workers
    headers = {"Authorization": f"Bearer {token(unique('acme'), unique('ann'))}"}
    assert [served_release(url, headers) for url in urls] == [None, None]
    for url in urls:
        assert httpx.get(f"{url}/readyz").status_code == 503, "no content yet: not ready"

    root = copy_pack(tmp_path)
    for expected in (1, 2):
        if expected == 2:
            tip = root / "articles" / "guest-wifi.md"
            tip.write_text(tip.read_text() + "\nEdited.\n")
        result = subprocess.run(  # noqa: S603 (our own CLI)
            [*HEED, "content", "publish", str(root)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        wait_until(lambda n=expected: all(served_release(u, headers) == n for u in urls))
    assert all(httpx.get(f"{url}/readyz").json()["release"] == 2 for url in urls)


DRAFT = """---
id: upcoming-feature
kind: article
title: Upcoming feature
summary: Not announced yet.
phase: explore
draft: true
---
Coming soon.
"""


async def test_drafts_are_unpublished_but_admins_can_preview_them(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = copy_pack(tmp_path)
    (root / "articles" / "upcoming-feature.md").write_text(DRAFT)
    database = await open_database(fresh_database_url, migrate=False)
    try:
        with using(database):
            await publish(root)
    finally:
        await database.close_connections()
    query = '{ contentItem(id: "upcoming-feature") { id title } }'
    preview = {"x-heed-admin-key": TEST_ADMIN_KEY, "x-heed-preview": "drafts"}
    preview_settings = replace(settings, database_url=fresh_database_url, content_dir=root)
    async with running_app(preview_settings) as (_, client):
        member = auth(unique("acme"), unique("ann"))
        assert (await graphql(client, query, member))["data"]["contentItem"] is None
        shown = await graphql(client, query, preview)
        assert shown["data"]["contentItem"] == {
            "id": "upcoming-feature",
            "title": "Upcoming feature",
        }
        refused = await client.post(
            "/graphql", json={"query": query}, headers={**member, "x-heed-preview": "drafts"}
        )
        assert refused.status_code == 403

        (root / "articles" / "upcoming-feature.md").write_text(
            DRAFT.replace("kind: article", "kind: blog")
        )
        invalid = await graphql(client, query, preview)
        error = invalid["errors"][0]
        assert error["extensions"]["code"] == "CONTENT_INVALID"
        assert any("upcoming-feature.md:3:" in p for p in error["extensions"]["problems"])


def test_serve_watch_republishes_on_edit(fresh_database_url: str, tmp_path: Path) -> None:
    """A writer edits a file; the running server serves the edit on the next request."""
    root = copy_pack(tmp_path)
    port = free_port()
    env = serve_env(fresh_database_url, tmp_path / "data", HEED_CONTENT_DIR=str(root))
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(  # noqa: S603 (our own CLI)
        [*HEED, "serve", "--watch", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token(unique('acme'), unique('ann'), locale='en')}"}
    query = '{ contentItem(id: "checking-in-visitors") { title revision } }'

    def item() -> dict | None:
        response = httpx.post(f"{url}/graphql", json={"query": query}, headers=headers)
        return response.json()["data"]["contentItem"]

    try:
        wait_until(lambda: _healthy(url) and served_release(url, headers) == 1)
        article = root / "articles" / "checking-in-visitors.md"
        original = item()
        assert original is not None
        article.write_text(article.read_text().replace(original["title"], "Edited title", 1))
        wait_until(lambda: item() == {"title": "Edited title", "revision": 2})
        article.write_text(article.read_text().replace("kind: article", "kind: articel", 1))
        wait_until(lambda: "nothing was published" in (tmp_path / "serve.log").read_text())
        assert item() == {"title": "Edited title", "revision": 2}, "the last release stays"
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    files = len(list((ROOT / "content").rglob("*.md"))) - 1  # the writers' guide is not content
    assert f"watching content/ for changes: {files} content file(s)" in output
    assert "content/articles/checking-in-visitors.md:3:7: unknown kind `articel`" in output


def test_serve_watch_starts_on_broken_content_and_publishes_the_fix(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """A writer starts the server mid-edit: the last release is served until the fix."""
    root = copy_pack(tmp_path)
    article = root / "articles" / "checking-in-visitors.md"
    article.write_text(article.read_text().replace("kind: article", "kind: articel", 1))
    port = free_port()
    env = serve_env(fresh_database_url, tmp_path / "data", HEED_CONTENT_DIR=str(root))
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(  # noqa: S603 (our own CLI)
        [*HEED, "serve", "--watch", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token(unique('acme'), unique('ann'), locale='en')}"}
    try:
        wait_until(lambda: "watching content/" in (tmp_path / "serve.log").read_text())
        wait_until(lambda: _healthy(url))
        assert served_release(url, headers) is None, "nothing was ever published"
        article.write_text(article.read_text().replace("kind: articel", "kind: article", 1))
        wait_until(lambda: served_release(url, headers) == 1)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert output.count("unknown kind `articel`") == 1, "problems printed once"
    assert "serving the last release meanwhile" in output
