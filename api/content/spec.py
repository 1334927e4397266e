"""The one definition of every front-matter and `step`-block key.

The validator and the JSON Schema (`content/schema/front-matter.schema.json`) are both
generated from the records below, so an editor's completion and `heed content check` can
never disagree. Each type checks a YAML node (keeping its position for the message) and
describes itself as JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from api.content.model import (
    ContentKind,
    Phase,
    Problem,
    QuestionType,
    Surface,
    TourPlacement,
)

ID_RE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
ROLE_RE = r"^[a-z][a-z0-9_]*$"
LOCALE_RE = r"^[a-z]{2}(?:-[a-z0-9]{2,8})?$"
KEY_RE = r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$"
URL_RE = r"^(?:https?://[^\s]+|/[^\s]*|heed:[a-z0-9]+(?:-[a-z0-9]+)*)$"
ROUTE_RE = r"^/[^\s]*$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$"

KINDS = tuple(k.value for k in ContentKind)
PHASES = tuple(p.value for p in Phase)
SCOPES = ("user", "organization")
QUESTION_TYPES = tuple(t.value for t in QuestionType)
PLACEMENTS = tuple(p.value for p in TourPlacement)
# Where a tip, announcement, survey or tour shows (`nextUp(surface:)`).
SURFACES = tuple(s.value for s in Surface)
PLACED_KINDS = ("tip", "announcement", "survey", "flow")
MAX_PRIORITY = 1000
MAX_REPEAT_DAYS = 3650
MAX_TIMES = 1_000_000
MAX_TARGET_DAYS = 3650
MAX_MEMBERS = 10_000
CALLOUTS = ("tip", "warning", "note")

ID_HELP = "use lowercase letters, digits and single dashes, e.g. `add-card`"
MAX_ID = 128

Where = tuple[str | int, ...]
Pos = tuple[int, int]

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SCALARS = (_STR, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", _BOOL)


class _Invalid:
    """Marks a value that failed its check (the problem is already reported)."""


INVALID: Any = _Invalid()


@dataclass
class Checker:
    """Collects problems and positions while checking one YAML document of one file."""

    path: str
    line0: int = 0  # 0-based file line at which the YAML text starts
    source_path: str | None = None  # for translations: where inherited keys live
    problems: list[Problem] = field(default_factory=list)
    marks: dict[Where, Pos] = field(default_factory=dict)
    key_marks: dict[Where, Pos] = field(default_factory=dict)

    def pos(self, node: yaml.Node) -> Pos:
        return (self.line0 + node.start_mark.line + 1, node.start_mark.column + 1)

    def report(self, at: yaml.Node | Pos, message: str) -> None:
        line, col = at if isinstance(at, tuple) else self.pos(at)
        self.problems.append(Problem(self.path, line, col, message))

    def construct(self, node: yaml.ScalarNode) -> Any:
        return yaml.constructor.SafeConstructor().construct_object(node)


def label(where: Where) -> str:
    """`audience.roles` for a path; list indexes are left out since the position says which."""
    return ".".join(str(p) for p in where if isinstance(p, str)) or "front matter"


def suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a set of keys"
    kinds = {_NULL: "empty", _BOOL: "true/false", _TIMESTAMP: "a date", _STR: "text"}
    what = kinds.get(node.tag, "a number")
    return what if node.tag == _NULL else f"{what} (`{node.value}`)"


class Type:
    """A value type: checks a YAML node and describes itself as JSON Schema."""

    what = "a value"

    def check(self, node: yaml.Node, where: Where, ck: Checker) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def wrong(self, node: yaml.Node, where: Where, ck: Checker, hint: str = "") -> Any:
        entry = isinstance(where[-1], int) if where else False
        subject = f"each entry of `{label(where)}`" if entry else f"`{label(where)}`"
        subject = subject if where else "front matter"
        ck.report(node, f"{subject} must be {self.what}, not {describe(node)}{hint}")
        return INVALID


@dataclass(frozen=True)
class Text(Type):
    """A non-empty string, optionally from a fixed set or matching a pattern."""

    noun: str = "value"
    pattern: str | None = None
    help: str = ""
    enum: tuple[str, ...] = ()
    max_length: int | None = None
    what = "text"

    def check(self, node: yaml.Node, where: Where, ck: Checker) -> Any:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
                ck.report(node, f"`{label(where)}` is empty")
                return INVALID
            hint = "; put it in quotes" if isinstance(node, yaml.ScalarNode) else ""
            return self.wrong(node, where, ck, hint)
        value = node.value.strip()
        if not value:
            ck.report(node, f"`{label(where)}` is empty")
            return INVALID
        if self.enum and value not in self.enum:
            ck.report(
                node,
                f"unknown {self.noun} `{value}`{suggest(value, self.enum)}; "
                f"use one of: {', '.join(self.enum)}",
            )
            return INVALID
        if self.pattern and not re.match(self.pattern, value):
            ck.report(node, f"bad {self.noun} `{value}`: {self.help}")
            return INVALID
        if self.max_length and len(value) > self.max_length:
            ck.report(node, f"{self.noun} `{value}` is longer than {self.max_length} characters")
            return INVALID
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "minLength": 1}
        if self.enum:
            out["enum"] = list(self.enum)
        if self.pattern:
            out["pattern"] = self.pattern
        if self.max_length:
            out["maxLength"] = self.max_length
        return out


@dataclass(frozen=True)
class Flag(Type):
    what = "true or false"

    def check(self, node: yaml.Node, where: Where, ck: Checker) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == _BOOL:
            return ck.construct(node)
        return self.wrong(node, where, ck)

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Date(Type):
    """An ISO date or date-time, kept as its ISO string."""

    what = "an ISO date like `2025-03-01` or `2025-03-01T09:00:00Z`"

    def check(self, node: yaml.Node, where: Where, ck: Checker) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag in (_TIMESTAMP, _STR):
            value = ck.construct(node) if node.tag == _TIMESTAMP else node.value.strip()
            if isinstance(value, dt.date):
                return value.isoformat()
            try:
                return dt.datetime.fromisoformat(value).isoformat()
            except ValueError:
                pass
        return self.wrong(node, where, ck)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": DATE_RE}


@dataclass(frozen=True)
class Count(Type):
    """A whole number from `low` to `high` (YAML `true` is not a number)."""

    low: int = 0
    high: int = MAX_TIMES

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"a whole number from {self.low} to {self.high}"

    def check(self, node: yaml.Node, where: Where, ck: Checker) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
            value = ck.construct(node)
            if self.low <= value <= self.high:
                return value
            ck.report(node, f"`{label(where)}` is {value}; use {self.what}")
            return INVALID
        return self.wrong(node, where, ck)

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Scalar(Type):
    """Any text, number or true/false, kept as text (attribute values from tokens)."""

    what = "text, a number or true/false"

    def check(self, node: yaml.Node, where: Where, ck: Checker) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALARS:
            value = ck.construct(node)
            return ("true" if value else "false") if isinstance(value, bool) else str(value)
        return self.wrong(node, where, ck)

    def schema(self) -> dict[str, Any]:
        return {"type": ["string", "number", "boolean"]}


@dataclass(frozen=True)
class ListOf(Type):
    """A YAML list; duplicates are reported since they are always a slip."""

    item: Type
    min_items: int = 0
    what = "a list, e.g. `[a, b]`"

    def check(self, node: yaml.Node, where: Where, ck: Checker) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            return self.wrong(node, where, ck)
        if len(node.value) < self.min_items:
            ck.report(node, f"`{label(where)}` needs at least {self.min_items} entries")
            return INVALID
        out: list[Any] = []
        seen: set[str] = set()
        for i, child in enumerate(node.value):
            ck.marks[(*where, i)] = ck.pos(child)
            value = self.item.check(child, (*where, i), ck)
            if value is INVALID:
                continue
            if isinstance(value, str):
                if value in seen:
                    ck.report(child, f"`{value}` appears twice in `{label(where)}`")
                    continue
                seen.add(value)
            out.append(value)
        return tuple(out)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array", "items": self.item.schema()}
        if self.min_items:
            out["minItems"] = self.min_items
        if not isinstance(self.item, Record):
            out["uniqueItems"] = True
        return out


@dataclass(frozen=True)
class OneOrMany(Type):
    """One value or a list of them, always kept as a tuple."""

    item: Type

    def check(self, node: yaml.Node, where: Where, ck: Checker) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return ListOf(self.item, min_items=1).check(node, where, ck)
        value = self.item.check(node, where, ck)
        return INVALID if value is INVALID else (value,)

    def schema(self) -> dict[str, Any]:
        many = {"type": "array", "items": self.item.schema(), "minItems": 1}
        return {"anyOf": [self.item.schema(), many]}


@dataclass(frozen=True)
class MapOf(Type):
    """Open keys (e.g. attribute names) with values of one type."""

    value: Type
    key_pattern: str = KEY_RE
    what = "a set of `name: value` keys"

    def check(self, node: yaml.Node, where: Where, ck: Checker) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return self.wrong(node, where, ck)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or not re.match(self.key_pattern, key):
                ck.report(key_node, f"bad key in `{label(where)}`: use letters, digits, `_.:/-`")
                continue
            if key in out:
                ck.report(key_node, f"duplicate key `{key}` in `{label(where)}`")
                continue
            value = self.value.check(value_node, (*where, key), ck)
            if value is not INVALID:
                out[key] = value
        return out

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "propertyNames": {"pattern": self.key_pattern},
            "additionalProperties": self.value.schema(),
        }


@dataclass(frozen=True)
class Field:
    """One key of a record.

    `only_when=("kind", ("flow",))` forbids the key unless `kind` is one of those values;
    `required_when` makes it required under the same kind of condition.
    """

    name: str
    type: Type
    doc: str
    required: bool = False
    only_when: tuple[str, tuple[str, ...]] | None = None
    required_when: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Record(Type):
    """A closed set of keys: unknown keys are errors, with a close match suggested."""

    fields: tuple[Field, ...]
    title: str = ""
    inherited: tuple[str, ...] = ()  # keys a translation takes from its source
    what = "a set of `key: value` lines"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def check(self, node: yaml.Node | None, where: Where, ck: Checker, at: Pos = (1, 1)) -> Any:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
            pairs: list[tuple[yaml.Node, yaml.Node]] = []
            start = at if node is None else ck.pos(node)
        elif isinstance(node, yaml.MappingNode):
            pairs, start = node.value, ck.pos(node)
        else:
            return self.wrong(node, where, ck)
        by_name = {f.name: f for f in self.fields}
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in pairs:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key_node.tag != _STR:
                ck.report(key_node, f"keys must be text, not {describe(key_node)}")
                continue
            if key in seen:
                ck.report(key_node, f"duplicate key `{key}` (first at line {seen[key]})")
                continue
            seen[key] = ck.pos(key_node)[0]
            spec = by_name.get(key)
            if spec is None:
                ck.report(key_node, self._unknown(key, where, ck))
                continue
            ck.key_marks[(*where, key)] = ck.pos(key_node)
            ck.marks[(*where, key)] = ck.pos(value_node)
            value = spec.type.check(value_node, (*where, key), ck)
            if value is not INVALID:
                out[key] = value
        self._conditions(out, seen, where, start, ck)
        return out

    def _unknown(self, key: str, where: Where, ck: Checker) -> str:
        if key in self.inherited:
            source = f" `{ck.source_path}`" if ck.source_path else ""
            return (
                f"`{key}` cannot be set in a translation: it comes from the source file"
                f"{source}; remove it"
            )
        inside = f" in `{label(where)}`" if where else ""
        close = suggest(key, self.names)
        return f"unknown key `{key}`{inside}{close}; allowed keys: {', '.join(self.names)}"

    def _conditions(
        self, out: dict[str, Any], seen: dict[str, int], where: Where, start: Pos, ck: Checker
    ) -> None:
        for spec in self.fields:
            present = spec.name in seen
            if spec.only_when and present:
                key, allowed = spec.only_when
                actual = out.get(key)
                if isinstance(actual, str) and actual not in allowed:
                    ck.report(
                        ck.key_marks[(*where, spec.name)],
                        f"`{spec.name}` only applies when `{key}` is {_alternatives(allowed)}, "
                        f"not `{actual}`; remove it",
                    )
            if present:
                continue
            inside = f" in `{label(where)}`" if where else ""
            if spec.required:
                ck.report(start, f"missing required key `{spec.name}`{inside}: {spec.doc}")
            elif spec.required_when:
                key, needed = spec.required_when
                if out.get(key) in needed:
                    ck.report(
                        start,
                        f"missing key `{spec.name}`{inside}, required when `{key}` is "
                        f"`{out[key]}`: {spec.doc}",
                    )

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object"}
        if self.title:
            out["title"] = self.title
        out["properties"] = {f.name: {"description": f.doc, **f.type.schema()} for f in self.fields}
        required = [f.name for f in self.fields if f.required]
        if required:
            out["required"] = required
        out["additionalProperties"] = False
        rules = []
        for f in self.fields:
            if f.only_when:
                key, allowed = f.only_when
                rules.append(
                    {
                        "if": {"required": [key], "properties": {key: {"not": _enum(allowed)}}},
                        "then": {"not": {"required": [f.name]}},
                    }
                )
            if f.required_when:
                key, needed = f.required_when
                rules.append(
                    {
                        "if": {"required": [key], "properties": {key: _enum(needed)}},
                        "then": {"required": [f.name]},
                    }
                )
        if rules:
            out["allOf"] = rules
        return out


def _enum(values: tuple[str, ...]) -> dict[str, Any]:
    return {"const": values[0]} if len(values) == 1 else {"enum": list(values)}


def _alternatives(values: tuple[str, ...]) -> str:
    return " or ".join(f"`{v}`" for v in values)


ITEM_ID = Text(noun="id", pattern=ID_RE, help=ID_HELP, max_length=MAX_ID)
ROLE = Text(
    noun="role",
    pattern=ROLE_RE,
    help="roles are lowercase letters, digits and underscores, starting with a letter, "
    "e.g. `it_admin`",
)
PLAIN = Text(noun="text")

AUDIENCE = Record(
    title="Who sees the item; every given condition must hold",
    fields=(
        Field("roles", ListOf(ROLE), "the viewer holds any of these roles"),
        Field(
            "attributes",
            MapOf(OneOrMany(Scalar())),
            "`{plan: [pro, enterprise]}`: for each name, the viewer's value is one of these",
        ),
        Field(
            "locales",
            ListOf(Text(noun="locale", pattern=LOCALE_RE, help="use e.g. `en`, `ru` or `pt-br`")),
            "the viewer's locale (or its language, `pt` for `pt-br`) is one of these",
        ),
        Field("after", ListOf(ITEM_ID), "ids of flows the viewer must have completed first"),
    ),
)

QUESTION = Record(
    title="A survey question",
    fields=(
        Field("id", ITEM_ID, "stable question id, e.g. `recommend`", required=True),
        Field(
            "type",
            Text(noun="question type", enum=QUESTION_TYPES),
            "`nps` (0-10), `csat` (1-5), `text` (free answer) or `choice` (one of `options`)",
            required=True,
        ),
        Field("prompt", PLAIN, "the question as the viewer reads it", required=True),
        Field(
            "options",
            ListOf(PLAIN, min_items=2),
            "the answers to choose from (choice questions only)",
            only_when=("type", ("choice",)),
            required_when=("type", ("choice",)),
        ),
        Field(
            "multiple",
            Flag(),
            "`true`: the viewer may pick several options (choice questions only)",
            only_when=("type", ("choice",)),
        ),
        Field("required", Flag(), "`false`: the viewer may leave it unanswered (default `true`)"),
    ),
)

EVENT_NAME = Text(noun="event name", pattern=KEY_RE, help="use letters, digits and `_.:/-`")

CRITERION = Record(
    title="What earns a badge: exactly one of `flow` (alone or with `steps`), `event` or `helped`",
    fields=(
        Field("flow", ITEM_ID, "a flow completed (with `steps`: those steps of it done)"),
        Field("steps", ListOf(ITEM_ID, min_items=1), "ids of steps of `flow` that must be done"),
        Field("event", EVENT_NAME, "an app event (sent with `track`) seen `times` times"),
        Field("times", Count(1), "how many times `event` must be seen (default 1)"),
        Field("helped", Flag(), "`true`: doing a step a colleague asked for help with"),
    ),
)

REACHED_WHEN = Record(
    title=(
        "What reaches a milestone: exactly one of `flow` (alone or with `steps`), `event`"
        " (with `times`, optionally `within_days`) or `members`"
    ),
    fields=(
        Field("flow", ITEM_ID, "a flow completed (with `steps`: those steps of it done)"),
        Field("steps", ListOf(ITEM_ID, min_items=1), "ids of steps of `flow` that must be done"),
        Field("event", EVENT_NAME, "an app event (sent with `track`) seen `times` times"),
        Field("times", Count(1), "how many times `event` must be seen (default 1)"),
        Field(
            "within_days",
            Count(1, MAX_REPEAT_DAYS),
            "`event` seen `times` times within this many days (default: any time)",
        ),
        Field("members", Count(1, MAX_MEMBERS), "this many members active in the account"),
    ),
)

MILESTONE = ("milestone",)

SOURCE = Record(
    title="Front matter of a source file (default locale)",
    fields=(
        Field("id", ITEM_ID, "stable id, lowercase-with-dashes; never change it", required=True),
        Field("kind", Text(noun="kind", enum=KINDS), f"one of {', '.join(KINDS)}", required=True),
        Field("title", PLAIN, "plain-text title", required=True),
        Field("summary", PLAIN, "one or two plain-text sentences", required=True),
        Field(
            "phase",
            Text(noun="phase", enum=PHASES),
            "H.E.E.D phase: hype, enable, explore or device",
            required=True,
        ),
        Field(
            "tags",
            ListOf(Text(noun="tag", pattern=ID_RE, help="tags are lowercase-with-dashes")),
            "lowercase words for filtering",
        ),
        Field("audience", AUDIENCE, "who sees the item (empty: everyone)"),
        Field(
            "contexts",
            ListOf(
                Text(noun="context key", pattern=KEY_RE, help="use letters, digits and `_.:/-`")
            ),
            "screen/element keys this item helps with, e.g. `settings.billing`",
        ),
        Field("draft", Flag(), "`true` keeps the item out of published releases"),
        Field(
            "scope",
            Text(noun="scope", enum=SCOPES),
            "default step scope: `user` (each member) or `organization` (once for the account)",
            only_when=("kind", ("flow",)),
        ),
        Field(
            "questions",
            ListOf(QUESTION, min_items=1),
            "the survey's questions",
            only_when=("kind", ("survey",)),
            required_when=("kind", ("survey",)),
        ),
        Field(
            "starts",
            Date(),
            "the announcement shows from this date",
            only_when=("kind", ("announcement",)),
        ),
        Field(
            "ends",
            Date(),
            "the announcement shows until this date",
            only_when=("kind", ("announcement",)),
        ),
        Field(
            "placement",
            Text(noun="surface", enum=SURFACES),
            "the surface it shows on (`nextUp`): banner, modal, sidebar or tooltip",
            only_when=("kind", PLACED_KINDS),
        ),
        Field(
            "priority",
            Count(0, MAX_PRIORITY),
            f"0 to {MAX_PRIORITY}: higher shows first on its surface (default 0)",
            only_when=("kind", PLACED_KINDS),
        ),
        Field(
            "repeat_after_days",
            Count(1, MAX_REPEAT_DAYS),
            "ask again this many days after an answer or a dismissal (default: never again)",
            only_when=("kind", ("survey",)),
        ),
        Field(
            "icon",
            Text(noun="icon name", pattern=ID_RE, help="icon names are lowercase-with-dashes"),
            "the badge's icon name, e.g. `first-visitor` (or give `image`)",
            only_when=("kind", ("badge",)),
        ),
        Field(
            "image",
            Text(noun="image URL", pattern=URL_RE, help="use an `https://` URL or an app path"),
            "the badge's image URL (or give `icon`)",
            only_when=("kind", ("badge",)),
        ),
        Field(
            "criterion",
            CRITERION,
            "what earns the badge",
            only_when=("kind", ("badge",)),
            required_when=("kind", ("badge",)),
        ),
        Field(
            "reached_when",
            REACHED_WHEN,
            "what reaches the milestone",
            only_when=("kind", MILESTONE),
            required_when=("kind", MILESTONE),
        ),
        Field(
            "target_days",
            Count(1, MAX_TARGET_DAYS),
            "the target: this many days after the organization started",
            only_when=("kind", MILESTONE),
            required_when=("kind", MILESTONE),
        ),
        Field(
            "kpis",
            ListOf(EVENT_NAME),
            "app events whose counts show beside the milestone",
            only_when=("kind", MILESTONE),
        ),
        Field(
            "activation",
            Flag(),
            "`true`: reaching it counts as the account's activation (one milestone at most)",
            only_when=("kind", MILESTONE),
        ),
        Field(
            "first_value",
            Flag(),
            "`true`: reaching it is the account's first value, for time to value (one at most)",
            only_when=("kind", MILESTONE),
        ),
        Field(
            "feature",
            Text(noun="event prefix", pattern=KEY_RE, help="use letters, digits and `_.:/-`"),
            "the product feature this item teaches, as the prefix of its app events, e.g."
            " `watchlist.`: adoption counts the features an account used",
            only_when=("kind", ("tutorial", "article")),
        ),
    ),
)

TRANSLATED_QUESTION = Record(
    title="A translated survey question (same ids, same order as the source)",
    fields=(
        Field("id", ITEM_ID, "the source question's id", required=True),
        Field("prompt", PLAIN, "the translated question", required=True),
        Field("options", ListOf(PLAIN, min_items=2), "the translated options, in source order"),
    ),
)

_TRANSLATED = ("id", "title", "summary", "questions")

TRANSLATION = Record(
    title="Front matter of a translation (`name.<locale>.md`)",
    fields=(
        Field("id", ITEM_ID, "the source item's id", required=True),
        Field("title", PLAIN, "translated title", required=True),
        Field("summary", PLAIN, "translated summary", required=True),
        Field("questions", ListOf(TRANSLATED_QUESTION, min_items=1), "translated survey questions"),
    ),
    inherited=tuple(n for n in SOURCE.names if n not in _TRANSLATED),
)

STEP = Record(
    title="Settings of one flow step (the fenced `step` block under its heading)",
    fields=(
        Field(
            "scope", Text(noun="scope", enum=SCOPES), "`user` or `organization`; default: flow's"
        ),
        Field("roles", ListOf(ROLE), "roles that can do the step (empty: anyone)"),
        Field("requires", ListOf(ITEM_ID), "ids of steps of this flow that must be done first"),
        Field("optional", Flag(), "`true`: not counted in the flow's progress"),
        Field("skippable", Flag(), "`false`: cannot be skipped (default `true`)"),
        Field(
            "completes_on",
            Text(noun="event name", pattern=KEY_RE, help="use letters, digits and `_.:/-`"),
            "app event (sent with `track`) that completes the step; omit for manual",
        ),
        Field(
            "cta",
            Record(
                title="Call to action",
                fields=(
                    Field("label", PLAIN, "button text", required=True),
                    Field(
                        "url",
                        Text(
                            noun="URL",
                            pattern=URL_RE,
                            help="use an app path `/settings`, an `https://` URL or `heed:item-id`",
                        ),
                        "app path, https URL or `heed:item-id`",
                        required=True,
                    ),
                ),
            ),
            "call to action button",
        ),
        Field(
            "tour",
            Record(
                title="UI anchor for a product tour",
                fields=(
                    Field("selector", PLAIN, "CSS selector of the element", required=True),
                    Field(
                        "placement",
                        Text(noun="placement", enum=PLACEMENTS),
                        "where the tooltip sits (default `auto`)",
                    ),
                    Field(
                        "route",
                        Text(noun="route", pattern=ROUTE_RE, help="routes start with `/`"),
                        "app route where the element lives",
                    ),
                ),
            ),
            "UI anchor for a product tour",
        ),
    ),
)


def json_schema() -> dict[str, Any]:
    """Draft 2020-12 schema for front matter (source or translation) and `step` blocks."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Heed content front matter",
        "description": (
            "Generated from api/content/spec.py by `heed content schema`; do not edit. "
            "Source files match `source`, translations (`name.<locale>.md`) match "
            "`translation`; `step` describes the fenced `step` blocks of flows."
        ),
        "anyOf": [{"$ref": "#/$defs/source"}, {"$ref": "#/$defs/translation"}],
        "$defs": {
            "source": SOURCE.schema(),
            "translation": TRANSLATION.schema(),
            "step": STEP.schema(),
        },
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: str | Path) -> None:
    """Write the schema; the committed copy is kept current by a test."""
    Path(path).write_text(schema_text(), encoding="utf-8")
