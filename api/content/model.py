"""Plain data for rendered content.

Everything here is frozen and JSON-able through `to_dict()`/`from_dict()`, so a release can
be stored in the database once and restored by every worker without re-rendering.

A worker holds every item of a release (two during a swap), so items are slotted and keep
their body tree as compact JSON, decoded on each access: as dicts, the nodes of a thousand
documents take several times the memory of their JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass, field
from enum import StrEnum
from typing import Any, Literal

import orjson

Scope = Literal["user", "organization"]


class ContentKind(StrEnum):
    """What a content item is."""

    TUTORIAL = "tutorial"
    TIP = "tip"
    ARTICLE = "article"
    FLOW = "flow"
    SURVEY = "survey"
    ANNOUNCEMENT = "announcement"
    BADGE = "badge"
    MILESTONE = "milestone"


class Phase(StrEnum):
    """H.E.E.D: hype, enable, explore, device (self-help)."""

    HYPE = "hype"
    ENABLE = "enable"
    EXPLORE = "explore"
    DEVICE = "device"


class QuestionType(StrEnum):
    """How a survey question is answered: `nps` (0-10), `csat` (1-5), `text`, `choice`."""

    NPS = "nps"
    CSAT = "csat"
    TEXT = "text"
    CHOICE = "choice"


class Surface(StrEnum):
    """Where a tip, announcement, survey or tour shows in the product (`nextUp(surface:)`)."""

    BANNER = "banner"
    MODAL = "modal"
    SIDEBAR = "sidebar"
    TOOLTIP = "tooltip"


class TourPlacement(StrEnum):
    """Where a tour's tooltip sits next to its element."""

    AUTO = "auto"
    TOP = "top"
    RIGHT = "right"
    BOTTOM = "bottom"
    LEFT = "left"


EMPTY_TREE = b'{"type":"doc","children":[]}'


def pack_tree(tree: Mapping[str, Any] | None) -> bytes:
    """A body tree as stored on items: compact JSON (a missing or empty tree is an empty doc).

    Copied to its exact size: orjson's own result keeps its whole growth buffer, often three
    times the JSON.
    """
    return bytes(memoryview(orjson.dumps(tree))) if tree else EMPTY_TREE


def _intern(values: Iterable[str]) -> tuple[str, ...]:
    """Role, tag and context names recur across items: one copy of each per worker."""
    return tuple(sys.intern(v) for v in values)


@dataclass(frozen=True, order=True, slots=True)
class Problem:
    """One thing a writer must fix, printed as `path:line:col: message` (1-based).

    A warning (`path:line:col: warning: message`) does not stop a release: something served
    differently from what the file says, such as a step not translated yet.
    """

    path: str
    line: int
    col: int
    message: str
    severity: Literal["error", "warning"] = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        label = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}:{self.col}: {label}{self.message}"


@dataclass(frozen=True, slots=True)
class Audience:
    """Who an item is for; an empty field does not restrict."""

    roles: tuple[str, ...] = ()
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    locales: tuple[str, ...] = ()
    after: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "roles": list(self.roles),
            "attributes": {k: list(v) for k, v in self.attributes.items()},
            "locales": list(self.locales),
            "after": list(self.after),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Audience:
        return cls(
            roles=tuple(data.get("roles", ())),
            attributes={k: tuple(v) for k, v in data.get("attributes", {}).items()},
            locales=tuple(data.get("locales", ())),
            after=tuple(data.get("after", ())),
        )


@dataclass(frozen=True, slots=True)
class Question:
    """One survey question; `options` and `multiple` only for `choice`."""

    id: str
    type: Literal["nps", "csat", "text", "choice"]
    prompt: str
    options: tuple[str, ...] = ()
    required: bool = True
    multiple: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "prompt": self.prompt,
            "options": list(self.options),
            "required": self.required,
            "multiple": self.multiple,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        return cls(
            id=data["id"],
            type=data["type"],
            prompt=data["prompt"],
            options=tuple(data.get("options", ())),
            required=bool(data.get("required", True)),
            multiple=bool(data.get("multiple", False)),
        )


@dataclass(frozen=True, slots=True)
class Criterion:
    """What earns a badge (`criterion`) or reaches a milestone (`reached_when`): a flow
    completed (or, with `steps`, those steps of it done), an app event seen `times` times
    (for a milestone, optionally within `within_days` days), doing a step a colleague asked
    for help with (badges), or `members` members active (milestones)."""

    flow: str | None = None
    steps: tuple[str, ...] = ()
    event: str | None = None
    times: int = 1
    helped: bool = False
    within_days: int | None = None
    members: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The badge keys always (the `badge.earned` payload), milestone keys when set."""
        out: dict[str, Any] = {
            "flow": self.flow,
            "steps": list(self.steps),
            "event": self.event,
            "times": self.times,
            "helped": self.helped,
        }
        if self.within_days is not None:
            out["within_days"] = self.within_days
        if self.members is not None:
            out["members"] = self.members
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Criterion:
        return cls(
            flow=data.get("flow"),
            steps=tuple(data.get("steps", ())),
            event=data.get("event"),
            times=int(data.get("times", 1)),
            helped=bool(data.get("helped", False)),
            within_days=data.get("within_days"),
            members=data.get("members"),
        )


class _Tree:
    """`body_tree`: a mapping given to the constructor, kept as `body_tree_json`, decoded on read.

    On the class it reads None, the constructor's default: "no tree given, keep
    `body_tree_json`". `dataclasses.replace` passes the decoded tree back unless it is given
    `body_tree=None`, which it must be when it replaces `body_tree_json`.
    """

    def __get__(self, obj: Step | Item | None, owner: type | None = None) -> dict[str, Any] | None:
        return None if obj is None else orjson.loads(obj.body_tree_json)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a flow; translations share every setting with the source step.

    `locale` is the language its title and body are in: a translation that lags behind its
    source serves the source's step, in the source's locale, until a translator adds it.
    """

    id: str
    title: str
    body_markdown: str = ""
    body_html: str = ""
    body_tree: InitVar[Mapping[str, Any] | None] = _Tree()
    scope: Scope = "user"
    roles: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    optional: bool = False
    skippable: bool = True
    completes_on: str | None = None
    cta: Mapping[str, str] | None = None
    tour: Mapping[str, str | None] | None = None
    locale: str = ""
    body_tree_json: bytes = field(default=EMPTY_TREE, repr=False)

    def __post_init__(self, body_tree: Mapping[str, Any] | None) -> None:
        if body_tree is not None:
            object.__setattr__(self, "body_tree_json", pack_tree(body_tree))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "locale": self.locale,
            "body_markdown": self.body_markdown,
            "body_html": self.body_html,
            "body_tree": self.body_tree,
            "scope": self.scope,
            "roles": list(self.roles),
            "requires": list(self.requires),
            "optional": self.optional,
            "skippable": self.skippable,
            "completes_on": self.completes_on,
            "cta": dict(self.cta) if self.cta is not None else None,
            "tour": dict(self.tour) if self.tour is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], locale: str = "") -> Step:
        """`locale`: the item's, for steps stored before steps said their own."""
        return cls(
            id=data["id"],
            title=data["title"],
            locale=sys.intern(data.get("locale") or locale),
            body_markdown=data.get("body_markdown", ""),
            body_html=data.get("body_html", ""),
            body_tree_json=pack_tree(data.get("body_tree")),
            scope=data.get("scope", "user"),
            roles=_intern(data.get("roles", ())),
            requires=tuple(data.get("requires", ())),
            optional=bool(data.get("optional", False)),
            skippable=bool(data.get("skippable", True)),
            completes_on=data.get("completes_on"),
            cta=data.get("cta"),
            tour=data.get("tour"),
        )


@dataclass(frozen=True, slots=True)
class Item:
    """One content item in one locale, fully rendered.

    For flows the body is the introduction (text before the first step); each step carries
    its own body. `source_hash` changes whenever the file (or, for a translation, its source
    file) changes, which is what bumps `revision`.
    """

    id: str
    kind: str
    locale: str
    title: str
    summary: str
    phase: str
    tags: tuple[str, ...] = ()
    audience: Audience = field(default_factory=Audience)
    contexts: tuple[str, ...] = ()
    draft: bool = False
    body_markdown: str = ""
    body_html: str = ""
    body_tree: InitVar[Mapping[str, Any] | None] = _Tree()
    steps: tuple[Step, ...] = ()
    questions: tuple[Question, ...] = ()
    starts: str | None = None
    ends: str | None = None
    links: tuple[str, ...] = ()
    source_path: str = ""
    source_hash: str = ""
    revision: int = 0
    body_tree_json: bytes = field(default=EMPTY_TREE, repr=False)
    placement: str | None = None
    priority: int = 0
    repeat_after_days: int | None = None
    icon: str | None = None
    image: str | None = None
    criterion: Criterion | None = None
    reached_when: Criterion | None = None  # milestones
    target_days: int | None = None
    kpis: tuple[str, ...] = ()
    activation: bool = False
    first_value: bool = False
    feature: str | None = None  # tutorials and articles: the app event prefix they teach

    def __post_init__(self, body_tree: Mapping[str, Any] | None) -> None:
        if body_tree is not None:
            object.__setattr__(self, "body_tree_json", pack_tree(body_tree))

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.locale)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def fallback_steps(self) -> tuple[str, ...]:
        """Ids of the steps served in another locale than the item's (a lagging translation)."""
        return tuple(s.id for s in self.steps if s.locale != self.locale)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "locale": self.locale,
            "title": self.title,
            "summary": self.summary,
            "phase": self.phase,
            "tags": list(self.tags),
            "audience": self.audience.to_dict(),
            "contexts": list(self.contexts),
            "draft": self.draft,
            "body_markdown": self.body_markdown,
            "body_html": self.body_html,
            "body_tree": self.body_tree,
            "steps": [s.to_dict() for s in self.steps],
            "questions": [q.to_dict() for q in self.questions],
            "starts": self.starts,
            "ends": self.ends,
            "links": list(self.links),
            "source_path": self.source_path,
            "source_hash": self.source_hash,
            "revision": self.revision,
            "placement": self.placement,
            "priority": self.priority,
            "repeat_after_days": self.repeat_after_days,
            "icon": self.icon,
            "image": self.image,
            "criterion": self.criterion.to_dict() if self.criterion else None,
            "reached_when": self.reached_when.to_dict() if self.reached_when else None,
            "target_days": self.target_days,
            "kpis": list(self.kpis),
            "activation": self.activation,
            "first_value": self.first_value,
            "feature": self.feature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Item:
        return cls(
            id=data["id"],
            kind=sys.intern(data["kind"]),
            locale=sys.intern(data["locale"]),
            title=data["title"],
            summary=data["summary"],
            phase=sys.intern(data["phase"]),
            tags=_intern(data.get("tags", ())),
            audience=Audience.from_dict(data.get("audience", {})),
            contexts=_intern(data.get("contexts", ())),
            draft=bool(data.get("draft", False)),
            body_markdown=data.get("body_markdown", ""),
            body_html=data.get("body_html", ""),
            body_tree_json=pack_tree(data.get("body_tree")),
            steps=tuple(Step.from_dict(s, data["locale"]) for s in data.get("steps", ())),
            questions=tuple(Question.from_dict(q) for q in data.get("questions", ())),
            starts=data.get("starts"),
            ends=data.get("ends"),
            links=tuple(data.get("links", ())),
            source_path=data.get("source_path", ""),
            source_hash=data.get("source_hash", ""),
            revision=int(data.get("revision", 0)),
            placement=data.get("placement"),
            priority=int(data.get("priority", 0)),
            repeat_after_days=data.get("repeat_after_days"),
            icon=data.get("icon"),
            image=data.get("image"),
            criterion=Criterion.from_dict(data["criterion"]) if data.get("criterion") else None,
            reached_when=(
                Criterion.from_dict(data["reached_when"]) if data.get("reached_when") else None
            ),
            target_days=data.get("target_days"),
            kpis=tuple(data.get("kpis", ())),
            activation=bool(data.get("activation", False)),
            first_value=bool(data.get("first_value", False)),
            feature=data.get("feature"),
        )
