"""One file to checked front matter, steps and rendered bodies, with positions.

`parse_file` is a pure function of a `Job` (bytes in, plain data out) so it can run in a
worker process. Everything that only depends on the file itself (and, for a translation, its
source) is checked here; checks across files live in `validate`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from markdown_it.token import Token

from api.content import render
from api.content.model import EMPTY_TREE, Problem, pack_tree
from api.content.spec import (
    ID_HELP,
    ID_RE,
    INVALID,
    SOURCE,
    STEP,
    TRANSLATION,
    Checker,
    Pos,
    Where,
    suggest,
)

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_ID = re.compile(ID_RE)


@dataclass(frozen=True)
class Job:
    """What a worker needs to process one file."""

    path: str  # as printed in problems
    data: bytes
    locale: str
    source: bytes | None = None  # a translation's source file
    source_path: str | None = None
    render: bool = True

    @property
    def is_translation(self) -> bool:
        return self.source_path is not None


@dataclass
class Body:
    """A rendered body; the tree is compact JSON, as items keep it (and cheap to send back from
    a worker process, where a tree of dicts costs more to unpickle than to render)."""

    markdown: str = ""
    html: str = ""
    tree_json: bytes = EMPTY_TREE


@dataclass
class ParsedStep:
    id: str
    title: str
    pos: Pos  # the heading
    settings: dict[str, Any]
    marks: dict[Where, Pos]
    body: Body


@dataclass
class Parsed:
    """A file after parsing: values, where each came from, and its own problems."""

    path: str
    locale: str
    source_path: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    marks: dict[Where, Pos] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    body: Body = field(default_factory=Body)
    steps: list[ParsedStep] = field(default_factory=list)
    links: list[tuple[str, int, int]] = field(default_factory=list)  # target, line, col
    end: Pos = (1, 1)  # after the last line: where missing things would go

    def at(self, *where: str | int) -> Pos:
        return self.marks.get(where, (1, 1))


def parse_file(job: Job) -> Parsed:
    out = Parsed(job.path, job.locale, job.source_path)
    try:
        text = job.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = job.data[: exc.start].count(b"\n") + 1
        col = exc.start - (job.data.rfind(b"\n", 0, exc.start) + 1) + 1
        out.problems.append(Problem(job.path, line, col, "not UTF-8 text; save it as UTF-8"))
        return out
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out.end = (len(lines), 1)
    close = _front_matter_end(lines)
    if close is None:
        keys = "`id`, `title`, `summary`" if job.is_translation else "`id`, `kind`, `title`…"
        what = (
            "front matter is not closed: add a `---` line after the last key"
            if lines[0].rstrip() == "---"
            else f"missing front matter: start the file with a `---` line, then {keys}, then `---`"
        )
        out.problems.append(Problem(job.path, 1, 1, what))
        return out
    ck = Checker(job.path, line0=1, source_path=job.source_path, problems=out.problems)
    node = _compose("\n".join(lines[1:close]), ck, "front matter")
    if node is not INVALID:
        spec = TRANSLATION if job.is_translation else SOURCE
        meta = spec.check(node, (), ck, at=(1, 1))
        out.meta = meta if isinstance(meta, dict) else {}
    out.marks = ck.marks
    kind = _source_kind(job.source) if job.is_translation else out.meta.get("kind")
    if not job.is_translation:
        _check_meta(out)
    _body(job, out, lines, close + 1, kind)
    return out


def _front_matter_end(lines: Sequence[str]) -> int | None:
    if lines[0].rstrip() != "---":
        return None
    return next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)


def _compose(text: str, ck: Checker, what: str) -> Any:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (ck.line0 + mark.line + 1, mark.column + 1) if mark else (ck.line0 + 1, 1)
        ck.report((line, col), f"bad YAML in {what}: {exc.problem}{_yaml_hint(exc, text, ck)}")
    except yaml.YAMLError as exc:
        ck.report((ck.line0 + 1, 1), f"bad YAML in {what}: {exc}")
    return INVALID


def _yaml_hint(exc: yaml.MarkedYAMLError, text: str, ck: Checker) -> str:
    """What usually causes this YAML error, in a writer's words."""
    problem = exc.problem or ""
    mark = exc.problem_mark
    lines = text.split("\n")
    if mark and mark.line < len(lines) and "\t" in lines[mark.line]:
        return "; indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "; put the value in quotes if it contains `: `"
    if "cannot start any token" in problem:
        return "; put values starting with `@`, `` ` `` or `%` in quotes"
    if exc.context_mark and "quoted scalar" in (exc.context or ""):
        start = ck.line0 + exc.context_mark.line + 1
        return f"; the quoted value that starts at line {start} has no closing quote"
    return ""


def _source_kind(source: bytes | None) -> str | None:
    """A translation's source `kind`, read leniently (the source reports its own problems)."""
    if source is None:
        return None
    lines = source.decode("utf-8", "replace").removeprefix("\ufeff").splitlines()
    close = _front_matter_end(lines) if lines else None
    if close is None:
        return None
    try:
        meta = yaml.load("\n".join(lines[1:close]), Loader=_Loader)  # noqa: S506 - safe loader
    except yaml.YAMLError:
        return None
    kind = meta.get("kind") if isinstance(meta, dict) else None
    return kind if isinstance(kind, str) else None


def _check_meta(out: Parsed) -> None:
    """Rules over several keys of one file that a per-key type cannot express."""
    seen: dict[str, int] = {}
    for i, question in enumerate(out.meta.get("questions", ())):
        qid = question.get("id")
        if qid in seen:
            line, col = out.at("questions", i, "id")
            out.problems.append(
                Problem(
                    out.path,
                    line,
                    col,
                    f"duplicate question id `{qid}` (first at line {seen[qid]})",
                )
            )
        elif qid:
            seen[qid] = out.at("questions", i, "id")[0]
    _check_badge(out)
    _check_milestone(out)
    starts, ends = out.meta.get("starts"), out.meta.get("ends")
    if starts and ends and _instant(ends) < _instant(starts):
        line, col = out.at("ends")
        out.problems.append(
            Problem(out.path, line, col, f"`ends` ({ends}) is before `starts` ({starts})")
        )


def _check_badge(out: Parsed) -> None:
    """A badge shows an icon or an image, and its criterion names exactly one way to earn it."""
    meta = out.meta
    if meta.get("kind") != "badge":
        return
    if "icon" not in meta and "image" not in meta:
        _add(out, out.at("kind"), "a badge needs an `icon` name or an `image` URL")
    _check_ways(out, "criterion", ("flow", "event", "helped"), "`helped: true`")
    criterion = meta.get("criterion")
    if isinstance(criterion, dict) and criterion.get("helped") is False:
        _add(out, out.at("criterion", "helped"), "`criterion.helped` can only be `true`")


def _check_milestone(out: Parsed) -> None:
    """A milestone's `reached_when` names exactly one way to reach it."""
    if out.meta.get("kind") == "milestone":
        _check_ways(out, "reached_when", ("flow", "event", "members"), "`members`")


def _check_ways(out: Parsed, key: str, ways: tuple[str, ...], last: str) -> None:
    """`key` (a badge's criterion, a milestone's reached_when) names exactly one of `ways`,
    and its qualifiers (`steps`, `times`, `within_days`) come with what they qualify."""
    criterion = out.meta.get(key)
    if not isinstance(criterion, dict):
        return
    found = [way for way in ways if way in criterion]
    if len(found) != 1:
        _add(
            out,
            out.at(key),
            f"`{key}` needs exactly one of `flow` (optionally with `steps`), `event`"
            f" (optionally with `times`) or {last}; found {', '.join(found) or 'none'}",
        )
    if "steps" in criterion and "flow" not in criterion:
        _add(out, out.at(key, "steps"), f"`{key}.steps` needs the `flow` they belong to")
    for qualifier in ("times", "within_days"):
        if qualifier in criterion and "event" not in criterion:
            _add(out, out.at(key, qualifier), f"`{key}.{qualifier}` counts an `event`: name it")


def _add(out: Parsed, at: tuple[int, int], message: str) -> None:
    out.problems.append(Problem(out.path, at[0], at[1], message))


def _instant(iso: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(iso)
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _body(job: Job, out: Parsed, lines: list[str], first: int, kind: str | None) -> None:
    body_lines = lines[first:]
    env: dict[str, Any] = {}
    tokens = render.parse("\n".join(body_lines), env)
    for line, col, message in env.get("problems", ()):
        out.problems.append(Problem(job.path, first + line + 1, col + 1, message))
    out.links = [(target, first + line + 1, col + 1) for target, line, col in env.get("links", ())]
    heads = (
        [
            i
            for i, t in enumerate(tokens)
            if t.type == "heading_open" and t.tag == "h2" and t.level == 0
        ]
        if kind == "flow"
        else []
    )
    intro_end = heads[0] if heads else len(tokens)
    intro_lines = tokens[heads[0]].map[0] if heads and tokens[heads[0]].map else len(body_lines)
    out.body = _segment(job, tokens[:intro_end], body_lines[:intro_lines], env)
    step_blocks = {i for i, t in enumerate(tokens) if t.type == "fence" and t.info == "step"}
    expected: set[int] = set()
    if kind == "flow":
        expected = _steps(job, out, tokens, heads, body_lines, first, env)
        if not heads and not job.is_translation:
            line, col = out.at("kind")
            out.problems.append(
                Problem(
                    job.path,
                    line,
                    col,
                    "a flow needs steps: add a `## Step title {#step-id}` heading for each step",
                )
            )
    for i in sorted(step_blocks - expected):
        if job.is_translation:
            message = f"a translation has no `step` blocks: settings come from `{job.source_path}`"
        elif kind == "flow":
            message = "a `step` block must come right after its `## Step title {#id}` heading"
        else:
            message = "`step` blocks only belong in flows (`kind: flow`)"
        line = first + (tokens[i].map[0] if tokens[i].map else 0) + 1
        out.problems.append(Problem(job.path, line, 1, message))
    if not job.is_translation:
        _check_steps(out)


def _segment(job: Job, tokens: Sequence[Token], lines: Sequence[str], env: dict[str, Any]) -> Body:
    markdown = "\n".join(lines).strip("\n")
    if not job.render:
        return Body(markdown)
    return Body(markdown, render.to_html(tokens, env), pack_tree(render.to_tree(tokens)))


def _steps(
    job: Job,
    out: Parsed,
    tokens: list[Token],
    heads: list[int],
    lines: list[str],
    first: int,
    env: dict[str, Any],
) -> set[int]:
    """Split a flow at its `##` headings; returns the indexes of well-placed `step` blocks."""
    placed: set[int] = set()
    seen: dict[str, int] = {}
    default_scope = out.meta.get("scope", "user")
    for n, head in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(tokens)
        opening = tokens[head]
        line = first + (opening.map[0] if opening.map else 0) + 1
        title = render.inline_text(tokens[head + 1])
        step_id = opening.meta.get("explicit_id")
        raw = lines[line - first - 1]
        col = raw.rfind("{#") + 1 if step_id is not None else 1
        start = head + 3
        settings: dict[str, Any] = {}
        marks: dict[Where, Pos] = {}
        block = tokens[start] if start < end else None
        after = opening.map[1] if opening.map else 0
        if block is not None and block.type == "fence" and block.info == "step":
            start += 1
            after = block.map[1] if block.map else after
            if not job.is_translation:
                placed.add(start - 1)
                settings, marks = _settings(job, out, block, first)
        stop = tokens[end].map[0] if end < len(tokens) and tokens[end].map else len(lines)
        body = _segment(job, tokens[start:end], lines[after:stop], env)
        if not step_id:
            example = f"## {title or 'Step title'} {{#step-id}}"
            out.problems.append(
                Problem(job.path, line, col, f"step heading has no id: write `{example}`")
            )
            continue
        problem = _step_id_problem(step_id, seen)
        if problem:
            out.problems.append(Problem(job.path, line, col, problem))
            continue
        if not title:
            out.problems.append(Problem(job.path, line, 1, "step heading has no title"))
        seen[step_id] = line
        settings.setdefault("scope", default_scope)
        out.steps.append(ParsedStep(step_id, title, (line, col), settings, marks, body))
    return placed


def _step_id_problem(step_id: str, seen: dict[str, int]) -> str | None:
    if not _ID.match(step_id):
        return f"bad step id `{step_id}`: {ID_HELP}"
    if step_id in seen:
        return f"duplicate step id `{step_id}` (first at line {seen[step_id]})"
    return None


def _settings(
    job: Job, out: Parsed, block: Token, first: int
) -> tuple[dict[str, Any], dict[Where, Pos]]:
    fence_line = first + (block.map[0] if block.map else 0)
    ck = Checker(job.path, line0=fence_line + 1, problems=out.problems)
    node = _compose(block.content, ck, "`step` block")
    if node is INVALID:
        return {}, {}
    settings = STEP.check(node, (), ck, at=(fence_line + 1, 1))
    if not isinstance(settings, dict):
        return {}, {}
    url = settings.get("cta", {}).get("url", "")
    if url.startswith("heed:"):
        line, col = ck.marks[("cta", "url")]
        out.links.append((url.removeprefix("heed:"), line, col))
    return settings, ck.marks


def _check_steps(out: Parsed) -> None:
    """`requires` must name steps of this flow and must not loop."""
    ids = [s.id for s in out.steps]
    graph: dict[str, list[str]] = {}
    for step in out.steps:
        graph[step.id] = []
        for i, target in enumerate(step.settings.get("requires", ())):
            line, col = step.marks.get(("requires", i), step.pos)
            if target == step.id:
                message = f"step `{target}` requires itself"
            elif target not in ids:
                message = (
                    f"unknown step `{target}` in `requires`{suggest(target, ids)}; "
                    f"steps of this flow: {', '.join(ids)}"
                )
            else:
                graph[step.id].append(target)
                continue
            out.problems.append(Problem(out.path, line, col, message))
    for cycle in _cycles(graph, ids):
        step = next(s for s in out.steps if s.id == cycle[0])
        index = step.settings["requires"].index(cycle[1])
        line, col = step.marks.get(("requires", index), step.pos)
        chain = " → ".join([*cycle, cycle[0]])
        out.problems.append(
            Problem(out.path, line, col, f"steps require each other in a cycle: {chain}")
        )


def _cycles(graph: dict[str, list[str]], order: list[str]) -> list[list[str]]:
    """Each dependency cycle once, starting at its member that comes first in the file."""
    found: dict[frozenset[str], list[str]] = {}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in graph.get(node, ()):
            if state.get(target) == 1:
                cycle = path[path.index(target) :]
                head = min(cycle, key=order.index)
                at = cycle.index(head)
                found.setdefault(frozenset(cycle), cycle[at:] + cycle[:at])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in order:
        if node not in state:
            visit(node)
    return list(found.values())
