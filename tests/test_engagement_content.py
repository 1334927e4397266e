"""Engagement keys in content: badges, placement and priority, repeat periods, question
settings; each problem with its position, and the values reaching the built items."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.content import build
from api.settings import ConfigError, Settings, Surface
from tests.test_content_validate import FLOW, problems, write

BADGE = """\
---
id: starter
kind: badge
title: Starter
summary: You started.
phase: enable
icon: star
criterion:
  flow: setup
---
Well done.
"""


def test_a_badge_and_placed_items_build_with_their_settings(tmp_path: Path) -> None:
    write(
        tmp_path,
        "flows/setup.md",
        FLOW.replace("phase: enable\n", "phase: enable\nplacement: modal\npriority: 7\n", 1),
    )
    write(tmp_path, "badges/starter.md", BADGE)
    write(
        tmp_path,
        "badges/starter.ru.md",
        "---\nid: starter\ntitle: Начало\nsummary: Вы начали.\n---\nМолодец.\n",  # noqa: RUF001
    )
    write(
        tmp_path,
        "surveys/pulse.md",
        """\
        ---
        id: pulse
        kind: survey
        title: Pulse
        summary: How is it going?
        phase: explore
        placement: banner
        repeat_after_days: 30
        questions:
          - id: tools
            type: choice
            multiple: true
            required: false
            prompt: Which tools?
            options: [A, B]
        ---
        Tell us.
        """,
    )
    assert problems(tmp_path) == []
    items = build(tmp_path / "content").items
    flow = items[("setup", "en")]
    assert (flow.placement, flow.priority) == ("modal", 7)
    badge, translated = items[("starter", "en")], items[("starter", "ru")]
    assert badge.criterion is not None
    assert badge.criterion.flow == "setup"
    assert (translated.title, translated.icon, translated.criterion) == (
        "Начало",
        "star",
        badge.criterion,
    )
    survey = items[("pulse", "en")]
    assert survey.repeat_after_days == 30
    question = survey.questions[0]
    assert (question.multiple, question.required) == (True, False)
    assert type(survey).from_dict(survey.to_dict()) == survey


def test_badge_problems_have_positions(tmp_path: Path) -> None:
    write(tmp_path, "flows/setup.md", FLOW)
    write(
        tmp_path,
        "badges/a.md",
        BADGE.replace("icon: star\n", "").replace(
            "  flow: setup\n", "  flow: setup\n  event: x.done\n  times: 0\n"
        ),
    )
    write(
        tmp_path,
        "badges/b.md",
        BADGE.replace("id: starter", "id: other").replace("flow: setup", "flow: setpu"),
    )
    write(
        tmp_path,
        "badges/c.md",
        BADGE.replace("id: starter", "id: third").replace("  flow: setup\n", "  steps: [first]\n"),
    )
    write(
        tmp_path,
        "badges/d.md",
        BADGE.replace("id: starter", "id: fourth").replace(
            "  flow: setup\n", "  flow: setup\n  steps: [first, secnod]\n"
        ),
    )
    assert problems(tmp_path) == [
        "content/badges/a.md:3:7: a badge needs an `icon` name or an `image` URL",
        "content/badges/a.md:8:3: `criterion` needs exactly one of `flow` (optionally with"
        " `steps`), `event` (optionally with `times`) or `helped: true`; found flow, event",
        "content/badges/a.md:10:10: `criterion.times` is 0; use a whole number from 1 to 1000000",
        "content/badges/b.md:9:9: `criterion.flow` names unknown flow `setpu` (did you mean"
        " `setup`?)",
        "content/badges/c.md:9:3: `criterion` needs exactly one of `flow` (optionally with"
        " `steps`), `event` (optionally with `times`) or `helped: true`; found none",
        "content/badges/c.md:9:10: `criterion.steps` needs the `flow` they belong to",
        "content/badges/d.md:10:18: `criterion.steps` names `secnod`, which is not a step of"
        " `setup` (did you mean `second`?); its steps: first, second",
    ]


def test_placement_priority_and_repeat_only_where_they_apply(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.md",
        """\
        ---
        id: hello
        kind: article
        title: Hello
        summary: Say hello.
        phase: enable
        placement: modal
        ---
        Body.
        """,
    )
    write(
        tmp_path,
        "tips/t.md",
        """\
        ---
        id: t
        kind: tip
        title: T
        summary: A tip.
        phase: enable
        placement: popup
        priority: 5000
        repeat_after_days: 3
        ---
        Body.
        """,
    )
    found = problems(tmp_path)
    assert found == [
        "content/a.md:7:1: `placement` only applies when `kind` is `tip` or `announcement` or"
        " `survey` or `flow`, not `article`; remove it",
        "content/tips/t.md:7:12: unknown surface `popup`; use one of: banner, modal, sidebar,"
        " tooltip",
        "content/tips/t.md:8:11: `priority` is 5000; use a whole number from 0 to 1000",
        "content/tips/t.md:9:1: `repeat_after_days` only applies when `kind` is `survey`, not"
        " `tip`; remove it",
    ]


def test_surface_limits_and_cool_offs_are_settable() -> None:
    settings = Settings.from_env({"HEED_SURFACE_MODAL": "2/48", "HEED_SURFACE_BANNER": "3"})
    assert settings.surfaces["modal"] == Surface(2, 48)
    assert settings.surfaces["banner"] == Surface(3, 0)
    assert settings.surfaces["sidebar"] == Surface(3, 0)
    for wrong in ("0/1", "one/day", "1/-2"):
        with pytest.raises(ConfigError, match="HEED_SURFACE_TOOLTIP"):
            Settings.from_env({"HEED_SURFACE_TOOLTIP": wrong})
