"""Every validation error kind: exact `path:line:col` and a message a writer can act on."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from api.content import Item, build, check, check_command

ARTICLE = """\
---
id: hello
kind: article
title: Hello
summary: Say hello.
phase: enable
---
Body.
"""

FLOW = """\
---
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


def write(root: Path, rel: str, text: str) -> None:
    path = root / "content" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")


def problems(root: Path, **kwargs: bool) -> list[str]:
    return [str(p) for p in check(root / "content", **kwargs)]


def only(root: Path) -> str:
    found = problems(root)
    assert len(found) == 1, found
    return found[0]


def test_valid_content_has_no_problems(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE)
    write(tmp_path, "flows/setup.md", FLOW)
    write(tmp_path, "README.md", "not content")
    write(tmp_path, "schema/x.md", "not content either")
    assert problems(tmp_path) == []


def test_bad_yaml_points_at_yamls_mark(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("title: Hello", "title: Hello: world"))
    found = only(tmp_path)
    assert found.startswith("content/a.md:4:13: bad YAML in front matter: mapping values")
    assert "quotes" in found


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "id: hello",
            "\tid: hello",
            "content/a.md:2:1: bad YAML in front matter: found character that",
        ),
        ("title: Hello", 'title: "Hello', "the quoted value that starts at line 4 has no closing"),
        (
            "title: Hello",
            "title: @me",
            "content/a.md:4:8: bad YAML in front matter: found character",
        ),
    ],
)
def test_yaml_errors_explain_the_usual_cause(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    write(tmp_path, "a.md", ARTICLE.replace(old, new))
    found = only(tmp_path)
    assert expected in found
    assert ("tabs" in found) == ("\t" in new)


def test_missing_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "# Just a heading\n")
    assert only(tmp_path).startswith("content/a.md:1:1: missing front matter: start the file")


def test_unclosed_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "---\nid: a\n")
    assert only(tmp_path) == (
        "content/a.md:1:1: front matter is not closed: add a `---` line after the last key"
    )


def test_missing_required_field(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("summary: Say hello.\n", ""))
    assert only(tmp_path).startswith("content/a.md:2:1: missing required key `summary`: one or two")


def test_unknown_key_suggests_close_match(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("phase: enable", "phase: enable\ntitel: x"))
    assert only(tmp_path).startswith(
        "content/a.md:7:1: unknown key `titel` (did you mean `title`?); allowed keys: id, kind"
    )


def test_unknown_kind(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("kind: article", "kind: artcle"))
    assert only(tmp_path) == (
        "content/a.md:3:7: unknown kind `artcle` (did you mean `article`?); "
        "use one of: tutorial, tip, article, flow, survey, announcement, badge, milestone"
    )


def test_unknown_phase(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("phase: enable", "phase: onboard"))
    assert only(tmp_path) == (
        "content/a.md:6:8: unknown phase `onboard`; use one of: hype, enable, explore, device"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("draft: maybe", "content/a.md:7:8: `draft` must be true or false, not text (`maybe`)"),
        ("tags: onboarding", "content/a.md:7:7: `tags` must be a list, e.g. `[a, b]`, not text"),
        ("tags: [ok, 3]", "content/a.md:7:12: each entry of `tags` must be text, not a number"),
    ],
)
def test_wrong_type(tmp_path: Path, line: str, expected: str) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("phase: enable", f"phase: enable\n{line}"))
    assert only(tmp_path).startswith(expected)


def test_title_as_number_suggests_quotes(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("title: Hello", "title: 2024"))
    assert only(tmp_path) == (
        "content/a.md:4:8: `title` must be text, not a number (`2024`); put it in quotes"
    )


def test_bad_id_format(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("id: hello", "id: Hello_World"))
    assert only(tmp_path) == (
        "content/a.md:2:5: bad id `Hello_World`: use lowercase letters, digits and single "
        "dashes, e.g. `add-card`"
    )


def test_duplicate_id_points_at_second_and_names_first(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE)
    write(
        tmp_path, "b.md", "\n".join([*ARTICLE.splitlines()[:1], "# c", *ARTICLE.splitlines()[1:]])
    )
    assert (
        only(tmp_path) == "content/b.md:3:5: duplicate id `hello`: already used by content/a.md:2"
    )


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("phase: enable", "phase: enable\ntitle: Again"))
    assert only(tmp_path) == "content/a.md:7:1: duplicate key `title` (first at line 4)"


def test_unknown_step_in_requires(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.replace("requires: [first]", "requires: [frist]"))
    assert only(tmp_path) == (
        "content/f.md:21:12: unknown step `frist` in `requires` (did you mean `first`?); "
        "steps of this flow: first, second"
    )


def test_dependency_cycle_is_named(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.replace("roles: [admin]", "requires: [second]"))
    assert only(tmp_path) == (
        "content/f.md:13:12: steps require each other in a cycle: first → second → first"
    )


def test_step_requiring_itself(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.replace("requires: [first]", "requires: [second]"))
    assert only(tmp_path) == "content/f.md:21:12: step `second` requires itself"


def test_bad_role_format(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.replace("roles: [admin]", "roles: [admin, Office-Manager]"))
    assert only(tmp_path).startswith(
        "content/f.md:13:16: bad role `Office-Manager`: roles are lowercase letters"
    )


def test_bad_audience_role(tmp_path: Path) -> None:
    write(
        tmp_path, "a.md", ARTICLE.replace("phase: enable", "phase: enable\naudience: {roles: [IT]}")
    )
    assert only(tmp_path).startswith("content/a.md:7:20: bad role `IT`")


def test_broken_heed_link_points_into_body(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("Body.", "Body.\n\nSee the\n[guide](heed:hellp) now."))
    assert only(tmp_path) == (
        "content/a.md:11:9: link to unknown item `hellp` (did you mean `hello`?)"
    )


def test_broken_heed_link_in_cta(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.replace("roles: [admin]", "cta: {label: Go, url: 'heed:nope'}"))
    assert only(tmp_path) == "content/f.md:13:23: link to unknown item `nope`"


def test_link_to_draft_from_published_item(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("phase: enable", "phase: enable\ndraft: true"))
    write(
        tmp_path,
        "b.md",
        ARTICLE.replace("id: hello", "id: other").replace("Body.", "[x](heed:hello)"),
    )
    assert only(tmp_path).startswith(
        "content/b.md:8:5: link to `hello`, a draft that will not be published"
    )
    assert problems(tmp_path, include_drafts=True) == []


def test_translation_without_source(tmp_path: Path) -> None:
    write(tmp_path, "a.ru.md", "---\nid: hello\ntitle: Привет\nsummary: Скажите привет.\n---\n")
    assert only(tmp_path) == (
        "content/a.ru.md:1:1: translation without a source: there is no `a.md` beside this "
        "`ru` translation (rename the file if it is not a translation)"
    )


def test_translation_with_forbidden_key(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE)
    write(
        tmp_path, "a.ru.md", "---\nid: hello\ntitle: Привет\nsummary: Привет.\nphase: hype\n---\n"
    )
    assert only(tmp_path) == (
        "content/a.ru.md:5:1: `phase` cannot be set in a translation: it comes from the source "
        "file `content/a.md`; remove it"
    )


def test_translation_with_other_id(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE)
    write(tmp_path, "a.ru.md", "---\nid: hi\ntitle: Привет\nsummary: Привет.\n---\n")
    assert only(tmp_path) == (
        "content/a.ru.md:2:5: translation id `hi` differs from the id of its source "
        "`content/a.md`; use `hello`"
    )


RU_FLOW = """\
---
id: setup
title: Настройка
summary: Начнём.
---
Вступление.

## Первый {#first}

Сделайте первое.

## Второй {#second}

Потом это.
"""


def test_translated_step_not_in_the_source_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW)
    write(tmp_path, "f.ru.md", RU_FLOW.replace("{#second}", "{#third}"))
    assert problems(tmp_path) == [
        "content/f.ru.md:12:11: step `third` is not in the source `content/f.md` (steps: first, "
        "second); use the source's step ids, or remove it",
        "content/f.ru.md:15:1: warning: step `second` is not translated yet: readers get it "
        "from `content/f.md` in `en` until you add `## Title {#second}` here",
    ]
    assert not build(tmp_path / "content").ok


def test_translated_steps_keep_the_source_order(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW)
    first, second = RU_FLOW.split("## Второй")
    head, first_step = first.split("## Первый")
    write(tmp_path, "f.ru.md", f"{head}## Второй{second}\n## Первый{first_step}")
    assert problems(tmp_path) == [
        "content/f.ru.md:12:11: step `first` is out of order: keep the steps in the order of "
        "the source `content/f.md`: first, second"
    ]


def test_a_missing_translated_step_is_a_warning_and_served_from_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "f.md", FLOW)
    write(tmp_path, "f.ru.md", RU_FLOW.split("## Второй")[0])
    found = check(tmp_path / "content")
    assert [str(p) for p in found] == [
        "content/f.ru.md:12:1: warning: step `second` is not translated yet: readers get it "
        "from `content/f.md` in `en` until you add `## Title {#second}` here"
    ]
    assert not found[0].is_error
    result = build(tmp_path / "content")
    assert result.ok
    assert [str(p) for p in result.warnings] == [str(p) for p in found]
    ru = result.items[("setup", "ru")]
    assert [(s.id, s.title, s.locale) for s in ru.steps] == [
        ("first", "Первый", "ru"),
        ("second", "Second", "en"),
    ]
    assert ru.step("second").requires == ("first",)
    assert ru.fallback_steps == ("second",)
    assert result.items[("setup", "en")].fallback_steps == ()
    monkeypatch.chdir(tmp_path)
    assert check_command("content") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("content/f.ru.md:12:1: warning: step `second`")
    assert out[-1] == "content: content is valid, with 1 warning(s) in 1 file(s)"


def test_a_warning_points_where_the_missing_step_goes(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW)
    head, _first, second = RU_FLOW.split("## ")
    write(tmp_path, "f.ru.md", f"{head}## {second}")
    assert problems(tmp_path) == [
        "content/f.ru.md:8:11: warning: step `first` is not translated yet: readers get it "
        "from `content/f.md` in `en` until you add `## Title {#first}` here"
    ]


def test_a_cached_lagging_translation_still_warns(tmp_path: Path) -> None:
    """A build reusing rendered items (the publisher's cache) reports the same warnings."""
    write(tmp_path, "f.md", FLOW)
    write(tmp_path, "f.ru.md", RU_FLOW.split("## Второй")[0])
    cache: dict[str, Item] = {}
    first = build(tmp_path / "content", cache=cache)
    again = build(tmp_path / "content", cache=cache)
    assert again.warnings == first.warnings
    assert len(again.warnings) == 1


def test_translation_with_step_block(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW)
    write(
        tmp_path, "f.ru.md", RU_FLOW.replace("Потом", "```step\noptional: true\n```\n\n" + "Потом")
    )
    assert only(tmp_path) == (
        "content/f.ru.md:14:1: a translation has no `step` blocks: settings come from "
        "`content/f.md`"
    )


def test_duplicate_step_id(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.replace("{#second}", "{#first}").replace("requires: [first]", ""))
    assert only(tmp_path) == "content/f.md:18:11: duplicate step id `first` (first at line 10)"


def test_step_heading_without_id(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.replace("## Second {#second}", "## Second"))
    assert only(tmp_path) == (
        "content/f.md:18:1: step heading has no id: write `## Second {#step-id}`"
    )


def test_bad_step_id(tmp_path: Path) -> None:
    write(
        tmp_path,
        "f.md",
        FLOW.replace("{#second}", "{#Second_Step}").replace("requires: [first]", ""),
    )
    assert only(tmp_path).startswith("content/f.md:18:11: bad step id `Second_Step`")


def test_bad_step_block_yaml(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.replace("roles: [admin]", "roles: [admin"))
    assert only(tmp_path).startswith("content/f.md:14:1: bad YAML in `step` block:")


def test_unknown_step_setting(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.replace("roles: [admin]", "role: [admin]"))
    assert only(tmp_path).startswith(
        "content/f.md:13:1: unknown key `role` (did you mean `roles`?); allowed keys: scope"
    )


def test_misplaced_step_block(tmp_path: Path) -> None:
    write(
        tmp_path, "f.md", FLOW.replace("Then this.", "Then this.\n\n```step\noptional: true\n```")
    )
    assert only(tmp_path).startswith("content/f.md:26:1: a `step` block must come right after")


def test_step_block_outside_flow(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("Body.", "```step\noptional: true\n```"))
    assert only(tmp_path) == "content/a.md:8:1: `step` blocks only belong in flows (`kind: flow`)"


def test_unknown_after_flow(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW)
    audience = "audience:\n  after: [setup, hello, setpu]"
    write(tmp_path, "a.md", ARTICLE.replace("phase: enable", f"phase: enable\n{audience}"))
    assert problems(tmp_path) == [
        "content/a.md:8:18: `audience.after` names `hello`, which is a article, not a flow",
        "content/a.md:8:25: `audience.after` names unknown flow `setpu` (did you mean `setup`?)",
    ]


def test_flow_without_steps(tmp_path: Path) -> None:
    write(tmp_path, "f.md", FLOW.split("## First")[0])
    assert only(tmp_path) == (
        "content/f.md:3:7: a flow needs steps: "
        "add a `## Step title {#step-id}` heading for each step"
    )


def test_key_for_another_kind(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("phase: enable", "phase: enable\nscope: user"))
    assert only(tmp_path) == (
        "content/a.md:7:1: `scope` only applies when `kind` is `flow`, not `article`; remove it"
    )


SURVEY = """\
---
id: nps
kind: survey
title: Tell us
summary: One question.
phase: explore
questions:
  - id: recommend
    type: nps
    prompt: Would you recommend us?
  - id: why
    type: choice
    prompt: Why?
    options: [Price, Speed]
---
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("type: nps", "type: stars", "content/s.md:9:11: unknown question type `stars`"),
        (
            "    options: [Price, Speed]\n",
            "",
            "content/s.md:11:5: missing key `options` in `questions`, required when `type` is "
            "`choice`",
        ),
        (
            "options: [Price, Speed]",
            "options: [Price]",
            "content/s.md:14:14: `questions.options` needs at least 2",
        ),
        (
            "id: why",
            "id: recommend",
            "content/s.md:11:9: duplicate question id `recommend` (first at line 8)",
        ),
        (
            "    prompt: Would you recommend us?\n",
            "",
            "content/s.md:8:5: missing required key `prompt` in `questions`",
        ),
        (
            "type: nps",
            "type: nps\n    options: [a, b]",
            "content/s.md:10:5: `options` only applies when `type` is `choice`",
        ),
    ],
)
def test_survey_question_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    write(tmp_path, "s.md", SURVEY.replace(old, new))
    assert only(tmp_path).startswith(expected)


def test_survey_needs_questions(tmp_path: Path) -> None:
    write(tmp_path, "s.md", SURVEY.split("questions:")[0] + "---\n")
    assert only(tmp_path).startswith(
        "content/s.md:2:1: missing key `questions`, required when `kind` is `survey`"
    )


def test_translated_questions_must_match(tmp_path: Path) -> None:
    write(tmp_path, "s.md", SURVEY)
    ru = (
        "---\nid: nps\ntitle: Опрос\nsummary: Вопрос.\nquestions:\n"
        "  - {id: why, prompt: Почему?}\n  - {id: recommend, prompt: Посоветуете?}\n---\n"
    )
    write(tmp_path, "s.ru.md", ru)
    assert problems(tmp_path) == [
        "content/s.ru.md:6:10: question `why` should be `recommend` here",
        "content/s.ru.md:7:10: question `recommend` should be `why` here",
    ]


def test_announcement_dates(tmp_path: Path) -> None:
    text = ARTICLE.replace("kind: article", "kind: announcement")
    write(
        tmp_path,
        "a.md",
        text.replace("phase: enable", "phase: hype\nstarts: 2025-05-02\nends: 2025-05-01"),
    )
    assert only(tmp_path) == "content/a.md:8:7: `ends` (2025-05-01) is before `starts` (2025-05-02)"
    write(tmp_path, "a.md", text.replace("phase: enable", "phase: hype\nstarts: soon"))
    assert only(tmp_path).startswith("content/a.md:7:9: `starts` must be an ISO date")


def test_unknown_callout(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("Body.", "Body.\n\n::: warnign\nCareful.\n:::"))
    assert only(tmp_path) == (
        "content/a.md:10:1: unknown callout `warnign` (did you mean `warning`?); use `::: tip`, "
        "`::: warning` or `::: note`"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "content" / "a.md"
    path.parent.mkdir()
    path.write_bytes(b"---\nid: caf\xe9\n---\n")
    assert only(tmp_path) == "content/a.md:2:8: not UTF-8 text; save it as UTF-8"


def test_problems_from_every_file_are_sorted(tmp_path: Path) -> None:
    write(
        tmp_path, "b.md", ARTICLE.replace("phase: enable", "phase: x").replace("id: hello", "id: b")
    )
    write(tmp_path, "a.md", ARTICLE.replace("kind: article", "kind: x"))
    assert [p.split(":")[0] for p in problems(tmp_path)] == ["content/a.md", "content/b.md"]


def test_build_refuses_invalid_content(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE.replace("kind: article", "kind: x"))
    result = build(tmp_path / "content")
    assert result.items == {}
    assert not result.ok
    assert len(result.problems) == 1


def test_check_command_prints_and_sets_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.md", ARTICLE)
    assert check_command(tmp_path / "content") == 0
    write(tmp_path, "a.md", ARTICLE.replace("kind: article", "kind: x"))
    assert check_command(tmp_path / "content") == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("content/a.md:3:7: unknown kind `x`")
    assert lines[2] == "1 problem(s) in 1 file(s)"
    assert check_command(tmp_path / "missing") == 2


def test_check_prints_paths_relative_to_where_it_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every printed path opens as printed, from inside the folder, beside it or above it."""
    write(tmp_path, "flows/a.md", ARTICLE.replace("kind: article", "kind: x"))
    for cwd, expected in [
        (tmp_path / "content", "flows/a.md"),
        (tmp_path / "content" / "flows", "a.md"),
        (tmp_path, "content/flows/a.md"),
        (tmp_path.parent, f"{tmp_path.name}/content/flows/a.md"),
    ]:
        monkeypatch.chdir(cwd)
        assert check_command(tmp_path / "content") == 1
        printed = capsys.readouterr().out.splitlines()[0]
        assert printed.startswith(f"{expected}:3:7: unknown kind `x`"), printed
        assert (cwd / expected).is_file()
