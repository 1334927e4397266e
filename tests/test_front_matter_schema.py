"""The JSON Schema writers' editors use rejects what the checker rejects within one file.

Each invalid fixture is one file (a translation also gets its valid source beside it). The
checker must reject it; then its front matter must fail `$defs/source` (or `translation`),
or one of its `step` blocks `$defs/step`. What JSON Schema cannot see (the markdown body,
YAML syntax and duplicate keys, bytes that are not UTF-8) or cannot express (rules between
values) is listed in BEYOND_SCHEMA with the reason, and checked to stay beyond it: a
schema that learns to catch one of them fails the test until the fixture moves over.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from api.content import check

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "content" / "schema" / "front-matter.schema.json").read_text())
DEFINITIONS = {key: value for key, value in SCHEMA.items() if key != "anyOf"}  # one at a time

ARTICLE = """---
id: hello
kind: article
title: Hello
summary: Say hello.
phase: enable
---
Body.
"""

FLOW = """---
id: setup
kind: flow
title: Set up
summary: Get going.
phase: enable
---
Intro.

## First {#first}

```step
roles: [admin]
```

Do the first thing.

## Second {#second}

```step
requires: [first]
```

Then this.
"""

SURVEY = """---
id: nps
kind: survey
title: How are we doing?
summary: Two questions.
phase: explore
questions:
  - id: recommend
    type: nps
    prompt: Would you recommend us?
  - id: channel
    type: choice
    prompt: Where did you hear of us?
    options: [A colleague, Search]
---
"""

RU_ARTICLE = """---
id: hello
title: Привет
summary: Поздоровайтесь.
---
Текст.
"""


def article(old: str, new: str) -> str:
    assert old in ARTICLE
    return ARTICLE.replace(old, new, 1)


def flow(old: str, new: str) -> str:
    assert old in FLOW
    return FLOW.replace(old, new, 1)


def survey(old: str, new: str) -> str:
    assert old in SURVEY
    return SURVEY.replace(old, new, 1)


# name → the file's text (`a.md`); translations are `a.ru.md` beside ARTICLE as `a.md`
REJECTED_BY_SCHEMA: dict[str, str] = {
    "missing summary": article("summary: Say hello.\n", ""),
    "missing kind": article("kind: article\n", ""),
    "unknown key": article("phase: enable", "phase: enable\ntitel: Hi"),
    "unknown kind": article("kind: article", "kind: artcle"),
    "unknown phase": article("phase: enable", "phase: onboard"),
    "draft not a flag": article("phase: enable", "phase: enable\ndraft: maybe"),
    "tags not a list": article("phase: enable", "phase: enable\ntags: onboarding"),
    "tag not text": article("phase: enable", "phase: enable\ntags: [ok, 3]"),
    "bad tag": article("phase: enable", "phase: enable\ntags: [Billing Stuff]"),
    "duplicate tags": article("phase: enable", "phase: enable\ntags: [a, a]"),
    "title a number": article("title: Hello", "title: 2024"),
    "empty title": article("title: Hello", "title:"),
    "bad id": article("id: hello", "id: Hello_World"),
    "id too long": article("id: hello", "id: " + "a" * 129),
    "bad audience role": article("phase: enable", "phase: enable\naudience: {roles: [IT]}"),
    "unknown audience key": article("phase: enable", "phase: enable\naudience: {team: [a]}"),
    "bad audience locale": article("phase: enable", "phase: enable\naudience: {locales: [xx_yy]}"),
    "bad audience after": article("phase: enable", "phase: enable\naudience: {after: [Not An Id]}"),
    "bad attribute value": article(
        "phase: enable", "phase: enable\naudience: {attributes: {plan: {a: b}}}"
    ),
    "bad context": article("phase: enable", "phase: enable\ncontexts: [settings billing]"),
    "scope on an article": article("phase: enable", "phase: enable\nscope: user"),
    "dates on an article": article("phase: enable", "phase: enable\nstarts: 2025-03-01"),
    "questions on an article": article(
        "phase: enable", "phase: enable\nquestions: [{id: q, type: text, prompt: Why}]"
    ),
    "bad flow scope": flow("phase: enable", "phase: enable\nscope: team"),
    "survey without questions": survey(SURVEY[SURVEY.index("questions:") : -4], ""),
    "unknown question type": survey("type: nps", "type: stars"),
    "question without prompt": survey("    prompt: Would you recommend us?\n", ""),
    "choice with one option": survey("options: [A colleague, Search]", "options: [Search]"),
    "bad question id": survey("id: recommend", "id: Recommend Us"),
    "bad announcement date": article("kind: article", "kind: announcement").replace(
        "phase: enable", "phase: enable\nstarts: next week"
    ),
    "unknown step setting": flow("roles: [admin]", "rolez: [admin]"),
    "bad step role": flow("roles: [admin]", "roles: [Office-Manager]"),
    "bad step scope": flow("roles: [admin]", "scope: everyone"),
    "step optional not a flag": flow("roles: [admin]", "optional: perhaps"),
    "bad cta url": flow("roles: [admin]", "cta: {label: Go, url: 'javascript:alert(1)'}"),
    "cta without label": flow("roles: [admin]", "cta: {url: /settings}"),
    "tour without selector": flow("roles: [admin]", "tour: {placement: left}"),
    "bad tour placement": flow("roles: [admin]", "tour: {selector: '#a', placement: middle}"),
    "bad completes_on": flow("roles: [admin]", "completes_on: Card Added!"),
    "requires not a list of ids": flow("requires: [first]", "requires: First Step"),
    "translation with a source-only key": RU_ARTICLE.replace("title:", "phase: enable\ntitle:"),
    "translation without title": RU_ARTICLE.replace("title: Привет\n", ""),
    "translation with a bad id": RU_ARTICLE.replace("id: hello", "id: Hello!"),
}

# name → (the file's text, why JSON Schema cannot reject it)
BEYOND_SCHEMA: dict[str, tuple[str, str]] = {
    "bad YAML": (article("title: Hello", "title: Hello: world"), "not YAML: nothing to validate"),
    "duplicate YAML key": (
        article("phase: enable", "phase: enable\ntitle: Again"),
        "YAML keeps the last value: the schema sees one `title`",
    ),
    "not UTF-8": (ARTICLE.replace("Body.", "B\udcffody."), "bytes an editor cannot read"),
    "no front matter": (ARTICLE.split("---\n", 2)[2], "no front matter to validate"),
    "unclosed front matter": (ARTICLE.replace("---\nBody", "Body"), "no front matter to validate"),
    "duplicate question ids": (
        survey("id: channel", "id: recommend"),
        "uniqueness of one property across list entries",
    ),
    "ends before starts": (
        article("kind: article", "kind: announcement").replace(
            "phase: enable", "phase: enable\nstarts: 2025-03-02\nends: 2025-03-01"
        ),
        "a comparison between two values",
    ),
    "flow without steps": (FLOW.split("## First")[0], "the markdown body"),
    "step heading without id": (flow("## Second {#second}", "## Second"), "the markdown body"),
    "bad step id": (flow("{#second}", "{#Second_Step}"), "the markdown body"),
    "duplicate step id": (
        flow("{#second}", "{#first}").replace("requires: [first]", "optional: true"),
        "the markdown body",
    ),
    "requires an unknown step": (flow("requires: [first]", "requires: [frist]"), "step ids"),
    "steps in a cycle": (
        flow("roles: [admin]", "requires: [second]"),
        "the graph between steps",
    ),
    "step requiring itself": (flow("requires: [first]", "requires: [second]"), "step ids"),
    "misplaced step block": (
        flow("Do the first thing.", "Do the first thing.\n\n```step\noptional: true\n```"),
        "where a block sits in the body",
    ),
    "step block outside a flow": (
        article("Body.", "```step\noptional: true\n```"),
        "the markdown body",
    ),
    "unknown callout": (article("Body.", "::: danger\nCareful.\n:::"), "the markdown body"),
    "translation with a step block": (
        RU_ARTICLE.replace("Текст.", "```step\noptional: true\n```"),
        "the markdown body",
    ),
}


def write_fixture(root: Path, name: str, text: str) -> Path:
    content = root / "content"
    content.mkdir(parents=True)
    translation = name.startswith("translation")
    if translation:
        (content / "a.md").write_text(ARTICLE, encoding="utf-8")
    path = content / ("a.ru.md" if translation else "a.md")
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


def _json_like(value: Any) -> Any:
    """YAML's dates as the strings a JSON-Schema-aware editor's YAML 1.2 parser sees."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_like(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_like(v) for v in value]
    return value


def schema_errors(path: Path) -> list[str] | None:
    """What the schema finds wrong with the file; None when there is nothing it can read."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None
    parts = text.split("---\n", 2)
    if not text.startswith("---\n") or len(parts) < 3:
        return None
    try:
        meta = _json_like(yaml.safe_load(parts[1]) or {})
        blocks = [
            _json_like(yaml.safe_load(block) or {})
            for block in re.findall(r"^```step\n(.*?)^```", parts[2], re.M | re.S)
        ]
    except yaml.YAMLError:
        return None
    which = "translation" if re.search(r"\.[a-z]{2}(-[a-z0-9]+)?\.md$", path.name) else "source"
    found: list[str] = []
    for value, definition in [(meta, which), *((block, "step") for block in blocks)]:
        validator = jsonschema.Draft202012Validator(
            {**DEFINITIONS, "$ref": f"#/$defs/{definition}"}
        )
        found += [f"{definition}: {error.message}" for error in validator.iter_errors(value)]
    return found


def checker_errors(root: Path) -> list[str]:
    return [str(p) for p in check(root / "content") if p.is_error]


def test_the_fixtures_are_valid_before_they_are_broken(tmp_path: Path) -> None:
    for n, text in enumerate((ARTICLE, FLOW, SURVEY)):
        path = write_fixture(tmp_path / str(n), f"valid {n}", text)
        assert checker_errors(tmp_path / str(n)) == []
        assert schema_errors(path) == []
    path = write_fixture(tmp_path / "ru", "translation", RU_ARTICLE)
    assert checker_errors(tmp_path / "ru") == []
    assert schema_errors(path) == []


@pytest.mark.parametrize("name", sorted(REJECTED_BY_SCHEMA))
def test_the_schema_rejects_what_the_checker_rejects(tmp_path: Path, name: str) -> None:
    path = write_fixture(tmp_path, name, REJECTED_BY_SCHEMA[name])
    assert checker_errors(tmp_path), f"{name}: the checker accepts it"
    assert schema_errors(path), f"{name}: the checker rejects it, the schema does not"


@pytest.mark.parametrize("name", sorted(BEYOND_SCHEMA))
def test_what_only_the_checker_sees_stays_listed(tmp_path: Path, name: str) -> None:
    text, reason = BEYOND_SCHEMA[name]
    path = write_fixture(tmp_path, name, text)
    assert checker_errors(tmp_path), f"{name}: the checker accepts it"
    assert not schema_errors(path), f"{name}: the schema now rejects it ({reason}): move it"
