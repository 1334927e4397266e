"""Building releases: translations, drafts, revisions, the render cache, storage, schema."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.content import Item, build, check, json_schema, pipeline, pool, store
from api.content.model import EMPTY_TREE
from api.content.parse import parse_file
from api.content.spec import SOURCE, STEP, schema_text
from api.db import open_database, using
from bench.synthetic import measure_build, write_articles

REPO = Path(__file__).resolve().parent.parent

SOURCE_FLOW = """\
---
id: setup
kind: flow
title: Set up
summary: Get going.
phase: enable
tags: [setup]
audience: {roles: [admin], attributes: {plan: pro, beta: true}}
contexts: [settings.billing]
scope: organization
---
Intro with [a link](heed:guide).

## Add the card {#add-card}

```step
roles: [billing]
optional: true
skippable: false
completes_on: card.added
cta: {label: Open billing, url: /settings/billing}
tour: {selector: "#card", route: /settings/billing}
```

Add it.

## Invite {#invite}

```step
requires: [add-card]
scope: user
```

Invite people.
"""

RU_FLOW = """\
---
id: setup
title: Настройка
summary: Начнём.
---
Вступление.

## Добавьте карту {#add-card}

Добавьте её.

## Пригласите {#invite}

Пригласите людей.
"""

GUIDE = (
    "---\nid: guide\nkind: article\ntitle: Guide\nsummary: All of it.\nphase: device\n---\nText.\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    (content / "flows").mkdir(parents=True)
    (content / "flows" / "setup.md").write_text(SOURCE_FLOW, encoding="utf-8")
    (content / "flows" / "setup.ru.md").write_text(RU_FLOW, encoding="utf-8")
    (content / "guide.md").write_text(GUIDE, encoding="utf-8")
    return content


def test_build_items_and_translation_inherits_settings(root: Path) -> None:
    result = build(root)
    assert result.ok
    assert set(result.items) == {("setup", "en"), ("setup", "ru"), ("guide", "en")}
    en, ru = result.items[("setup", "en")], result.items[("setup", "ru")]
    assert en.audience.attributes == {"plan": ("pro",), "beta": ("true",)}
    assert en.links == ("guide",)
    assert en.source_path == "flows/setup.md"
    card = en.steps[0]
    assert (card.scope, card.roles, card.optional, card.skippable) == (
        "organization",
        ("billing",),
        True,
        False,
    )
    assert card.tour == {"selector": "#card", "placement": "auto", "route": "/settings/billing"}
    assert en.steps[1].scope == "user"
    assert en.steps[1].requires == ("add-card",)
    assert ru.title == "Настройка"
    assert ru.locale == "ru"
    assert ru.phase == "enable"
    assert ru.steps[0].title == "Добавьте карту"
    assert ru.steps[0].body_html == "<p>Добавьте её.</p>\n"
    for theirs, ours in zip(ru.steps, en.steps, strict=True):
        assert (theirs.id, theirs.roles, theirs.requires, theirs.cta, theirs.scope) == (
            ours.id, ours.roles, ours.requires, ours.cta, ours.scope,
        )  # fmt: skip
    assert ru.source_hash != en.source_hash


def test_drafts_are_left_out_unless_asked(root: Path) -> None:
    (root / "guide.md").write_text(GUIDE.replace("phase: device", "phase: device\ndraft: true"))
    (root / "flows" / "setup.md").write_text(SOURCE_FLOW.replace("heed:guide", "https://x.example"))
    assert set(build(root).items) == {("setup", "en"), ("setup", "ru")}
    assert ("guide", "en") in build(root, include_drafts=True).items


def test_revisions_move_only_when_the_source_changes(root: Path) -> None:
    first = build(root)
    assert {i.revision for i in first.items.values()} == {1}
    previous = {k: (i.source_hash, i.revision) for k, i in first.items.items()}
    same = build(root, previous=previous)
    assert same.content_hash == first.content_hash
    assert {i.revision for i in same.items.values()} == {1}

    source = root / "flows" / "setup.md"
    source.write_text(SOURCE_FLOW.replace("Add it.", "Add it now."), encoding="utf-8")
    (root / "new.md").write_text(GUIDE.replace("id: guide", "id: new-one"), encoding="utf-8")
    second = build(root, previous=previous)
    revisions = {k: i.revision for k, i in second.items.items()}
    # the source changed, so did its translation (its hash includes the source's)
    assert revisions == {
        ("setup", "en"): 2,
        ("setup", "ru"): 2,
        ("guide", "en"): 1,
        ("new-one", "en"): 1,
    }
    assert second.content_hash != first.content_hash


def test_cache_skips_rendering_unchanged_files(root: Path, counted: list[str]) -> None:
    parsed = counted
    cache: dict[str, Item] = {}
    first = build(root, cache=cache, workers=1)
    assert len(parsed) == 3
    assert len(cache) == 3
    parsed.clear()
    again = build(root, cache=cache, workers=1)
    assert parsed == []
    assert again.items == first.items

    (root / "guide.md").write_text(GUIDE.replace("Text.", "New text."), encoding="utf-8")
    edited = build(root, cache=cache, workers=1)
    assert parsed == ["content/guide.md"]
    assert edited.items[("guide", "en")].body_html == "<p>New text.</p>\n"
    assert len(cache) == 3  # the old render of guide.md was dropped


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files parsed in this process, in order."""
    parsed: list[str] = []

    def counting(job: Any) -> Any:
        parsed.append(job.path)
        return parse_file(job)

    monkeypatch.setattr(pipeline, "parse_file", counting)
    return parsed


def test_build_after_check_reuses_its_parses(root: Path, counted: list[str]) -> None:
    cold = build(root, workers=1)
    counted.clear()
    assert check(root, workers=1) == []
    assert len(counted) == 3
    counted.clear()
    after_check = build(root, workers=1)
    assert counted == []
    assert after_check == cold
    assert after_check.content_hash == cold.content_hash
    counted.clear()
    build(root, workers=1)
    assert len(counted) == 3, "a check's parses serve one build, not every later one"


def test_build_after_check_parses_only_what_changed_since(root: Path, counted: list[str]) -> None:
    assert check(root, workers=1) == []
    (root / "guide.md").write_text(GUIDE.replace("Text.", "Edited."), encoding="utf-8")
    counted.clear()
    result = build(root, workers=1)
    assert counted == ["content/guide.md"]
    assert result.items[("guide", "en")].body_html == "<p>Edited.</p>\n"
    assert result == build(root, workers=1)


def test_check_reports_the_same_problems_when_its_parses_are_reused(root: Path) -> None:
    (root / "guide.md").write_text(GUIDE.replace("kind: article", "kind: artcle"), "utf-8")
    first = check(root, workers=1)
    assert first
    assert check(root, workers=1) == first
    assert build(root, workers=1).problems == first


def _pack(tmp_path: Path, count: int) -> Path:
    """The demo pack plus `count` generated articles: translations, flows, links, callouts."""
    root = tmp_path / "pack"
    shutil.copytree(REPO / "content", root)
    for n in range(count):
        body = f"## Part {n}\n\nSee [the guide](heed:guest-wifi).\n\n::: tip\nTip {n}.\n:::\n"
        (root / f"gen-{n}.md").write_text(
            GUIDE.replace("id: guide", f"id: gen-{n}").replace("Text.\n", body), "utf-8"
        )
    return root


def test_worker_processes_give_what_this_process_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _pack(tmp_path, 30)
    here = build(root, workers=1)
    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)
    monkeypatch.setattr(pool, "BATCH", 7)
    assert build(root, workers=2) == here
    assert check(root, workers=2) == []
    assert build(root, workers=1) == here


def test_files_of_a_worker_that_fails_are_parsed_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = _pack(tmp_path, 5)
    here = build(root, workers=1)
    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)
    with monkeypatch.context() as patch:
        patch.setattr(pool.sys, "executable", str(tmp_path / "no-python-here"))
        assert build(root, workers=2) == here
    assert len(caplog.records) == 2
    caplog.clear()
    monkeypatch.setenv("PYTHONHOME", str(tmp_path))  # starts, then dies before reading a job
    assert build(root, workers=2) == here
    assert len(caplog.records) == 2
    assert all("parsing its files here" in r.getMessage() for r in caplog.records)


def test_items_keep_their_tree_as_compact_json(root: Path) -> None:
    item = build(root).items[("setup", "en")]
    tree = item.body_tree
    assert tree["type"] == "doc"
    assert item.body_tree_json == json.dumps(tree, separators=(",", ":")).encode()
    assert item.body_tree is not item.body_tree, "each reader gets its own copy"
    moved = dataclasses.replace(item, revision=7)
    assert (moved.body_tree, moved.revision) == (tree, 7)
    assert dataclasses.replace(item, body_tree={"type": "doc", "children": []}).body_tree_json == (
        EMPTY_TREE
    )
    assert Item("x", "tip", "en", "X", "X.", "enable", body_tree=tree).body_tree == tree
    assert Item("x", "tip", "en", "X", "X.", "enable").body_tree_json == EMPTY_TREE


async def test_a_release_loads_a_batch_of_rows_at_a_time(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pack"
    shutil.copytree(REPO / "content", root)
    monkeypatch.setattr(store, "LOAD_BATCH", 7)
    database = await open_database(fresh_database_url, migrate=False)
    try:
        with using(database):
            published = await store.publish(root)
            release = await store.load_release()
    finally:
        await database.close_connections()
    assert release is not None
    assert release.number == published.number
    built = build(root).items
    assert len(release.catalog) == len(built)
    for item in release.catalog:  # as dicts: Postgres (jsonb) reorders the keys of a tree
        assert item.to_dict() == built[item.key].to_dict()


def test_cached_files_involved_in_problems_get_exact_positions(root: Path) -> None:
    cache: dict[str, Item] = {}
    assert build(root, cache=cache).ok
    (root / "guide.md").unlink()
    problems = [str(p) for p in build(root, cache=cache).problems]
    assert problems == ["content/flows/setup.md:12:21: link to unknown item `guide`"]


def test_moving_a_file_keeps_its_revision(root: Path) -> None:
    cache: dict[str, Item] = {}
    first = build(root, cache=cache)
    previous = {k: (i.source_hash, i.revision) for k, i in first.items.items()}
    (root / "guide.md").rename(root / "flows" / "guide.md")
    moved = build(root, cache=cache, previous=previous).items[("guide", "en")]
    assert moved.source_path == "flows/guide.md"
    assert moved.revision == 1


def test_items_round_trip_through_json(root: Path) -> None:
    for item in build(root).items.values():
        restored = Item.from_dict(json.loads(json.dumps(item.to_dict())))
        assert restored == item


def test_schema_file_is_current() -> None:
    committed = (REPO / "content" / "schema" / "front-matter.schema.json").read_text(
        encoding="utf-8"
    )
    assert committed == schema_text(), "run: heed content schema"


def test_readme_documents_every_key() -> None:
    readme = (REPO / "content" / "README.md").read_text(encoding="utf-8")
    for name in (*SOURCE.names, *STEP.names):
        assert f"`{name}`" in readme, name
    assert "front-matter.schema.json" in readme


def _front_matter(text: str) -> Any:
    return yaml.safe_load(text.split("---\n")[1])


def test_json_schema_agrees_with_the_validator(root: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema())
    jsonschema.Draft202012Validator.check_schema(json_schema())
    for path in [root / "flows" / "setup.md", root / "flows" / "setup.ru.md", root / "guide.md"]:
        assert list(validator.iter_errors(_front_matter(path.read_text()))) == []
    bad = _front_matter(SOURCE_FLOW)
    bad["questions"] = [{"id": "q", "type": "nps", "prompt": "?"}]  # only for surveys
    assert list(validator.iter_errors(bad))
    assert list(validator.iter_errors({**_front_matter(GUIDE), "titel": "x"}))
    step = {"$ref": "#/$defs/step", "$defs": json_schema()["$defs"]}
    assert list(jsonschema.Draft202012Validator(step).iter_errors({"roles": ["Admin"]}))


def test_demo_pack_front_matter_matches_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema())
    for path in sorted((REPO / "content").rglob("*.md")):
        if path.name == "README.md":
            continue
        meta = json.loads(json.dumps(_front_matter(path.read_text(encoding="utf-8")), default=str))
        assert list(validator.iter_errors(meta)) == [], path


def test_the_benchmark_pack_builds_with_one_new_revision_per_edit(tmp_path: Path) -> None:
    paths = write_articles(tmp_path / "content", 40)
    figures = measure_build(tmp_path / "content", paths)
    assert figures["items"] == 40
