"""Checks that span files: duplicate ids, links, `after` flows, translations against sources.

They run over small summaries, which come either from a freshly parsed file (with exact
positions) or from a cached item (positions unknown until the file is parsed again, which
only happens when a problem involves it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from api.content.model import Item, Problem
from api.content.parse import Parsed
from api.content.spec import Pos, suggest

_Add = Callable[[Pos, str], None]


MILESTONE_MARKS = ("activation", "first_value")


@dataclass(frozen=True)
class Summary:
    """What other files need to know about one file."""

    path: str
    locale: str
    is_translation: bool
    id: str | None
    kind: str | None
    draft: bool
    id_pos: Pos
    links: tuple[tuple[str, int, int], ...]
    after: tuple[tuple[str, int, int], ...]
    exact: bool = True  # False: positions are placeholders (from a cached item)
    # A badge's `criterion` or a milestone's `reached_when`: its key, `flow` and `steps`.
    criterion_key: str = "criterion"
    criterion_flows: tuple[tuple[str, int, int], ...] = ()
    criterion_steps: tuple[tuple[str, int, int], ...] = ()
    # A milestone's `activation` / `first_value` set to true, with their positions.
    milestone_marks: tuple[tuple[str, int, int], ...] = ()
    step_ids: tuple[str, ...] = ()  # a flow's steps

    @classmethod
    def of_parsed(cls, parsed: Parsed, source: Shape | None = None) -> Summary:
        meta = parsed.meta
        after = tuple(
            (flow, *parsed.at("audience", "after", i))
            for i, flow in enumerate(meta.get("audience", {}).get("after", ()))
        )
        translation = parsed.source_path is not None
        key = "reached_when" if "reached_when" in meta else "criterion"
        criterion = meta.get(key)
        flow = criterion.get("flow") if isinstance(criterion, dict) else None
        criterion_flows = ((flow, *parsed.at(key, "flow")),) if flow else ()
        steps = criterion.get("steps", ()) if isinstance(criterion, dict) else ()
        criterion_steps = tuple((step, *parsed.at(key, "steps", i)) for i, step in enumerate(steps))
        marks = tuple((mark, *parsed.at(mark)) for mark in MILESTONE_MARKS if meta.get(mark))
        return cls(
            path=parsed.path,
            locale=parsed.locale,
            is_translation=translation,
            id=meta.get("id"),
            kind=source.kind if translation and source else meta.get("kind"),
            draft=source.draft if translation and source else bool(meta.get("draft", False)),
            id_pos=parsed.at("id"),
            links=tuple(parsed.links),
            after=after,
            criterion_key=key,
            criterion_flows=criterion_flows,
            criterion_steps=criterion_steps,
            milestone_marks=() if translation else marks,
            step_ids=tuple(step.id for step in parsed.steps),
        )

    @classmethod
    def of_item(cls, path: str, item: Item, is_translation: bool) -> Summary:
        criterion = item.reached_when or item.criterion
        return cls(
            path=path,
            locale=item.locale,
            is_translation=is_translation,
            id=item.id,
            kind=item.kind,
            draft=item.draft,
            id_pos=(1, 1),
            links=tuple((target, 1, 1) for target in item.links),
            after=() if is_translation else tuple((flow, 1, 1) for flow in item.audience.after),
            exact=False,
            criterion_key="reached_when" if item.reached_when else "criterion",
            criterion_flows=(
                ((criterion.flow, 1, 1),)
                if not is_translation and criterion and criterion.flow
                else ()
            ),
            criterion_steps=tuple((step, 1, 1) for step in (criterion.steps if criterion else ())),
            milestone_marks=()
            if is_translation
            else tuple((mark, 1, 1) for mark in MILESTONE_MARKS if getattr(item, mark)),
            step_ids=tuple(step.id for step in item.steps),
        )


@dataclass(frozen=True)
class Shape:
    """What a translation must agree with in its source."""

    path: str
    locale: str
    id: str
    kind: str
    draft: bool
    steps: tuple[str, ...]
    questions: tuple[tuple[str, int], ...]  # id, number of options

    @classmethod
    def of_parsed(cls, parsed: Parsed) -> Shape:
        meta = parsed.meta
        return cls(
            path=parsed.path,
            locale=parsed.locale,
            id=meta["id"],
            kind=meta["kind"],
            draft=bool(meta.get("draft", False)),
            steps=tuple(s.id for s in parsed.steps),
            questions=tuple(
                (q["id"], len(q.get("options", ()))) for q in meta.get("questions", ())
            ),
        )

    @classmethod
    def of_item(cls, path: str, item: Item) -> Shape:
        return cls(
            path=path,
            locale=item.locale,
            id=item.id,
            kind=item.kind,
            draft=item.draft,
            steps=tuple(s.id for s in item.steps),
            questions=tuple((q.id, len(q.options)) for q in item.questions),
        )


@dataclass(frozen=True)
class Found:
    """A problem and every file whose position or line it quotes."""

    problem: Problem
    involves: tuple[str, ...]


def cross_check(summaries: Sequence[Summary], include_drafts: bool) -> list[Found]:
    found: list[Found] = []
    first: dict[str, Summary] = {}
    for s in summaries:
        if s.is_translation or s.id is None:
            continue
        if s.id in first:
            other = first[s.id]
            found.append(
                _at(
                    s,
                    s.id_pos,
                    f"duplicate id `{s.id}`: already used by {other.path}:{other.id_pos[0]}",
                    other,
                )
            )
        else:
            first[s.id] = s
    complete = all(s.id is not None for s in summaries if not s.is_translation)
    for s in summaries:
        for target, line, col in s.links:
            message = _target_problem(target, first, s, include_drafts, complete, None)
            if message:
                found.append(_at(s, (line, col), f"link to {message}"))
        for flow, line, col in s.after:
            message = _target_problem(flow, first, s, include_drafts, complete, "flow")
            if message:
                found.append(_at(s, (line, col), f"`audience.after` names {message}"))
        for flow, line, col in s.criterion_flows:
            message = _target_problem(flow, first, s, include_drafts, complete, "flow")
            if message:
                found.append(_at(s, (line, col), f"`{s.criterion_key}.flow` names {message}"))
            elif s.criterion_steps:
                found.extend(_criterion_steps(s, first[flow]))
    found.extend(_milestone_marks(summaries, include_drafts))
    return found


def _milestone_marks(summaries: Sequence[Summary], include_drafts: bool) -> list[Found]:
    """At most one published milestone is the activation, and one the first value."""
    found: list[Found] = []
    for mark in MILESTONE_MARKS:
        holders = [
            (s, line, col)
            for s in summaries
            if include_drafts or not s.draft
            for name, line, col in s.milestone_marks
            if name == mark
        ]
        for s, line, col in holders[1:]:
            first, first_line = holders[0][0], holders[0][1]
            found.append(
                _at(
                    s,
                    (line, col),
                    f"`{mark}: true` is already set by {first.path}:{first_line}; only one"
                    " milestone can be the account's " + mark.replace("_", " "),
                    first,
                )
            )
    return found


def _target_problem(
    target: str,
    known: dict[str, Summary],
    origin: Summary,
    include_drafts: bool,
    complete: bool,
    kind: str | None,
) -> str | None:
    item = known.get(target)
    if item is None:
        if not complete:  # some file has no readable id yet; fix that first
            return None
        noun = f"{kind} " if kind else "item "
        return f"unknown {noun}`{target}`{suggest(target, list(known))}"
    if kind and item.kind != kind:
        return f"`{target}`, which is a {item.kind}, not a {kind}"
    if item.draft and not origin.draft and not include_drafts:
        return (
            f"`{target}`, a draft that will not be published; "
            f"publish it (remove `draft: true`) or remove this reference"
        )
    return None


def _criterion_steps(badge: Summary, flow: Summary) -> list[Found]:
    """A badge's `criterion.steps` (a milestone's `reached_when.steps`) are steps of its flow."""
    return [
        _at(
            badge,
            (line, col),
            f"`{badge.criterion_key}.steps` names `{step}`, which is not a step of `{flow.id}`"
            f"{suggest(step, flow.step_ids)}; its steps: {', '.join(flow.step_ids)}",
            flow,
        )
        for step, line, col in badge.criterion_steps
        if step not in flow.step_ids
    ]


def _at(s: Summary, pos: Pos, message: str, *others: Summary) -> Found:
    problem = Problem(s.path, pos[0], pos[1], message)
    return Found(problem, (s.path, *(o.path for o in others)))


def check_translation(parsed: Parsed, source: Shape) -> list[Problem]:
    """A translation has its source's id, questions, and steps (a subset, in the same order).

    A source step the translation lacks is a warning: readers get the source's step until it
    is translated, so one writer's new step does not wait for every translator.
    """
    out: list[Problem] = []
    meta = parsed.meta

    def add(pos: Pos, message: str) -> None:
        out.append(Problem(parsed.path, pos[0], pos[1], message))

    if meta.get("id") and meta["id"] != source.id:
        add(
            parsed.at("id"),
            f"translation id `{meta['id']}` differs from the id of its source "
            f"`{source.path}`; use `{source.id}`",
        )
    if source.kind == "flow":
        out += _compare_steps(parsed, source, add)
    _compare_questions(parsed, source, add)
    return out


def _compare_steps(parsed: Parsed, source: Shape, add: _Add) -> list[Problem]:
    """Errors through `add`; returns the warnings for source steps not translated yet."""
    order = ", ".join(source.steps)
    places = {step_id: n for n, step_id in enumerate(source.steps)}
    translated: dict[str, Pos] = {}  # in the file's order, which is the source's
    present = {step.id for step in parsed.steps}  # out of order: an error, not a warning too
    last = -1
    for step in parsed.steps:
        place = places.get(step.id)
        if place is None:
            add(
                step.pos,
                f"step `{step.id}` is not in the source `{source.path}` (steps: {order}); "
                f"use the source's step ids, or remove it",
            )
        elif place < last:
            add(
                step.pos,
                f"step `{step.id}` is out of order: keep the steps in the order of the source "
                f"`{source.path}`: {order}",
            )
        else:
            last = place
            translated[step.id] = step.pos
    warnings: list[Problem] = []
    for place, step_id in enumerate(source.steps):
        if step_id in present:
            continue
        later = (translated[s] for s in source.steps[place + 1 :] if s in translated)
        line, col = next(later, parsed.end)
        warnings.append(
            Problem(
                parsed.path,
                line,
                col,
                f"step `{step_id}` is not translated yet: readers get it from `{source.path}` "
                f"in `{source.locale}` until you add `## Title {{#{step_id}}}` here",
                "warning",
            )
        )
    return warnings


def _compare_questions(parsed: Parsed, source: Shape, add: _Add) -> None:
    questions = parsed.meta.get("questions", ())
    if questions and source.kind != "survey":
        add(
            parsed.at("questions"),
            f"`questions` only applies to surveys; `{source.id}` is a {source.kind}",
        )
        return
    if questions and len(questions) != len(source.questions):
        add(
            parsed.at("questions"),
            f"translate all {len(source.questions)} questions of `{source.path}`, in order",
        )
        return
    for i, (question, (qid, options)) in enumerate(zip(questions, source.questions, strict=False)):
        if question["id"] != qid:
            add(
                parsed.at("questions", i, "id"),
                f"question `{question['id']}` should be `{qid}` here",
            )
        elif "options" in question and len(question["options"]) != options:
            add(
                parsed.at("questions", i, "options"),
                f"question `{qid}` has {options} options in the source; translate each, in order",
            )


def involved(found: Iterable[Found]) -> set[str]:
    return {path for f in found for path in f.involves}
