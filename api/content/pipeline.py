"""Content directory to validated, rendered items: `check` and `build`.

Reading files is the only I/O. Each file is hashed first; a file whose hash is in the cache
is not parsed again, so republishing after one edit costs one parse. A build right after a
check reuses what the check parsed, so the usual "check, then publish" parses each file once.
Cold builds of many files are spread over worker processes (`pool`).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from api.content.model import Audience, Criterion, Item, Problem, Question, Step
from api.content.parse import Job, Parsed, parse_file
from api.content.pool import parse_all
from api.content.validate import Shape, Summary, check_translation, cross_check, involved

DEFAULT_LOCALE = "en"
# Part of every source hash: bump it when rendering changes, so every revision moves on.
FORMAT = b"heed-content/1\n"
PARALLEL_MIN = 200  # below this many files to parse, worker start-up costs more than it saves

T = TypeVar("T")
_TRANSLATION = re.compile(r"^(?P<stem>.+)\.(?P<locale>[A-Za-z]{2}(?:-[A-Za-z0-9]{2,8})?)\.md$")


@dataclass(frozen=True)
class SourceFile:
    rel: str  # relative to the content directory, with `/`
    shown: str  # as printed in problems: relative to the directory's parent
    locale: str
    data: bytes
    source: str | None = None  # a translation's source file, as `rel`


@dataclass(frozen=True)
class Build:
    """Items keyed by (id, locale), or the problems that stop the release (never both).

    `warnings` do not stop it (a translation that lags behind its source, for one).
    """

    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    content_hash: str = ""
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def discover(
    root: str | Path, default_locale: str = DEFAULT_LOCALE, shown_from: Path | None = None
) -> tuple[list[SourceFile], list[Problem]]:
    """Every content file under `root` (not READMEs, not `schema/`, not hidden folders).

    Problems name files relative to `shown_from` (the directory a command was run from, so
    every printed path opens as printed), or else to `root`'s parent (`content/a.md`).
    """
    root = Path(root)
    prefix = root.resolve().name
    base = shown_from.resolve() if shown_from is not None else None
    found: list[tuple[str, Path]] = []
    for path in root.rglob("*.md"):
        rel = path.relative_to(root).as_posix()
        if is_content_file(rel) and path.is_file():
            found.append((rel, path))
    found.sort()
    names = {rel for rel, _ in found}
    files: list[SourceFile] = []
    problems: list[Problem] = []
    for rel, path in found:
        if base is None:
            shown = f"{prefix}/{rel}" if prefix else rel
        else:
            shown = os.path.relpath(path.resolve(), base).replace(os.sep, "/")
        data = path.read_bytes()
        match = _TRANSLATION.match(rel.rsplit("/", 1)[-1])
        if not match:
            files.append(SourceFile(rel, shown, default_locale, data))
            continue
        locale = match["locale"].lower()
        folder = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
        source = f"{folder}{match['stem']}.md"
        if locale == default_locale:
            message = (
                f"`{default_locale}` is the default locale: name the file `{match['stem']}.md`"
            )
        elif source not in names:
            message = (
                f"translation without a source: there is no `{match['stem']}.md` beside this "
                f"`{locale}` translation (rename the file if it is not a translation)"
            )
        else:
            files.append(SourceFile(rel, shown, locale, data, source))
            continue
        problems.append(Problem(shown, 1, 1, message))
    return files, problems


def is_content_file(rel: str) -> bool:
    """Whether a path relative to the content directory is content: markdown, not a README,
    not under `schema/`, not in a hidden folder."""
    parts = rel.split("/")
    if parts[0] == "schema" or any(p.startswith(".") for p in parts):
        return False
    name = parts[-1]
    return name.endswith(".md") and not re.fullmatch(r"readme(\.[a-z-]+)?\.md", name, re.I)


def source_hash(data: bytes, source: str | None = None) -> str:
    """Changes with the file, the renderer format and (for translations) the source's hash."""
    digest = hashlib.sha256(FORMAT)
    digest.update(data)
    if source:
        digest.update(source.encode())
    return digest.hexdigest()


def check(
    root: str | Path,
    *,
    include_drafts: bool = False,
    default_locale: str = DEFAULT_LOCALE,
    workers: int | None = None,
    shown_from: Path | None = None,
) -> list[Problem]:
    """Every problem in the content directory, sorted by file and position: errors, and
    warnings that do not stop a release (`Problem.is_error`). Empty: valid as it is.

    The files are rendered too, and kept until the next `build` in this process, which then
    parses none of the files that are still the same (checking before publishing is the usual
    order, and parsing is the expensive part of both).
    """
    result, fresh = _run(
        root,
        include_drafts,
        default_locale,
        workers,
        None,
        _take_checked(),
        assemble=False,
        shown_from=shown_from,
    )
    _keep_checked(fresh)
    return sorted(result.problems + result.warnings)


def build(
    root: str | Path,
    *,
    include_drafts: bool = False,
    previous: Mapping[tuple[str, str], tuple[str, int]] | None = None,
    cache: dict[str, Item] | None = None,
    default_locale: str = DEFAULT_LOCALE,
    workers: int | None = None,
    shown_from: Path | None = None,
) -> Build:
    """Validate and render; the result has problems and no items, or items and no problems.

    `previous` maps (id, locale) to (source_hash, revision) of the last release: an item keeps
    its revision while its hash is unchanged and moves to revision + 1 when it changes; new
    items start at 1. `cache` (source_hash → item) is read and refreshed in place.
    """
    result, _ = _run(
        root,
        include_drafts,
        default_locale,
        workers,
        cache,
        _take_checked(),
        assemble=True,
        shown_from=shown_from,
    )
    if result.problems:
        return result
    previous = previous or {}
    items: dict[tuple[str, str], Item] = {}
    for key, item in result.items.items():
        last = previous.get(key)
        revision = 1 if last is None else last[1] if last[0] == item.source_hash else last[1] + 1
        items[key] = _replace(item, revision=revision)
    return Build(items, [], content_hash(items.values()), result.warnings)


def content_hash(items: Iterable[Item]) -> str:
    """Identifies a release's content: the same items and sources give the same hash."""
    entries = sorted((i.id, i.locale, i.source_hash) for i in items)
    return hashlib.sha256("\n".join("\t".join(e) for e in entries).encode()).hexdigest()


# What a file's parse depends on: where it is shown, its locale, its source, and its bytes
# (the source hash covers them and, for a translation, its source's bytes).
_ParseKey = tuple[str, str, str | None, str]
_checked: dict[_ParseKey, Parsed] = {}
_checked_lock = threading.Lock()


def _keep_checked(fresh: dict[_ParseKey, Parsed]) -> None:
    global _checked
    with _checked_lock:
        _checked = fresh


def _take_checked() -> dict[_ParseKey, Parsed]:
    """The last check's parses, handed over once: memory is not held past the next build."""
    global _checked
    with _checked_lock:
        taken, _checked = _checked, {}
    return taken


def _run(
    root: str | Path,
    include_drafts: bool,
    default_locale: str,
    workers: int | None,
    cache: dict[str, Item] | None,
    checked: Mapping[_ParseKey, Parsed],
    *,
    assemble: bool,
    shown_from: Path | None,
) -> tuple[Build, dict[_ParseKey, Parsed]]:
    """Check (and, if asked and valid, assemble) the directory; also returns the files it
    parsed, by parse key, for a later build to reuse. Parses found in `checked` are reused."""
    files, problems = discover(root, default_locale, shown_from)
    by_rel = {f.rel: f for f in files}
    hashes: dict[str, str] = {}
    for f in sorted(files, key=lambda f: f.source is not None):  # sources first
        hashes[f.rel] = source_hash(f.data, hashes.get(f.source) if f.source else None)
    cached = {f.rel: cache[hashes[f.rel]] for f in files if cache and hashes[f.rel] in cache}
    keys = {f.rel: _parse_key(f, hashes[f.rel]) for f in files if f.rel not in cached}
    fresh = {rel: checked[key] for rel, key in keys.items() if key in checked}
    todo = [rel for rel in keys if rel not in fresh]
    jobs = [_job(by_rel[rel], by_rel, render=True) for rel in todo]
    fresh.update(zip(todo, _parse_all(jobs, workers), strict=True))
    parses = {keys[rel]: parsed for rel, parsed in fresh.items()}
    problems += _validate(files, by_rel, fresh, cached, include_drafts)
    errors = sorted({p for p in problems if p.is_error})
    warnings = sorted({p for p in problems if not p.is_error})
    if errors or not assemble:
        return Build({}, errors, "", warnings), parses
    items = _assemble(files, fresh, cached, hashes, cache)
    if not include_drafts:
        items = {key: item for key, item in items.items() if not item.draft}
    return Build(items, [], "", warnings), parses


def _parse_key(f: SourceFile, digest: str) -> _ParseKey:
    return (f.shown, f.locale, f.source, digest)


def _validate(
    files: Sequence[SourceFile],
    by_rel: Mapping[str, SourceFile],
    fresh: dict[str, Parsed],
    cached: Mapping[str, Item],
    include_drafts: bool,
) -> list[Problem]:
    """Each file's own problems, translations against sources, then checks across files."""
    problems = [problem for p in fresh.values() for problem in p.problems]
    shapes: dict[str, Shape] = {}
    for f in files:
        if f.source is None and f.rel in cached:
            shapes[f.rel] = Shape.of_item(f.shown, cached[f.rel])
        elif f.source is None and not fresh[f.rel].problems:
            shapes[f.rel] = Shape.of_parsed(fresh[f.rel])
    for f in files:
        if f.source is None or f.source not in shapes:
            continue
        if f.rel in cached and cached[f.rel].fallback_steps:  # parsed again for its warnings
            fresh[f.rel] = parse_file(_job(f, by_rel, render=False))
        if f.rel in fresh:
            problems += check_translation(fresh[f.rel], shapes[f.source])

    def summarize(f: SourceFile) -> Summary:
        if f.rel in fresh:
            return Summary.of_parsed(fresh[f.rel], shapes.get(f.source or ""))
        return Summary.of_item(f.shown, cached[f.rel], f.source is not None)

    found = cross_check([summarize(f) for f in files], include_drafts)
    stale = [f for f in files if f.shown in involved(found) and f.rel not in fresh]
    if stale:  # a cached file is involved: parse it again to point at exact positions
        for f in stale:
            fresh[f.rel] = parse_file(_job(f, by_rel, render=False))
        found = cross_check([summarize(f) for f in files], include_drafts)
    return problems + [f.problem for f in found]


def _assemble(
    files: Sequence[SourceFile],
    fresh: Mapping[str, Parsed],
    cached: Mapping[str, Item],
    hashes: Mapping[str, str],
    cache: dict[str, Item] | None,
) -> dict[tuple[str, str], Item]:
    """Items from fresh parses and the cache; the cache is refreshed to exactly these files."""
    items: dict[tuple[str, str], Item] = {}
    sources: dict[str, Item] = {}
    for f in sorted(files, key=lambda f: f.source is not None):  # sources first
        digest = hashes[f.rel]
        if f.rel in cached:
            item = _replace(cached[f.rel], source_path=f.rel)
        elif f.source is None:
            item = _source_item(fresh[f.rel], f.rel, digest)
        else:
            item = _translation_item(fresh[f.rel], sources[f.source], f.rel, digest)
        if f.source is None:
            sources[f.rel] = item
        items[item.key] = item
    if cache is not None:
        cache.clear()
        cache.update((item.source_hash, _replace(item, revision=0)) for item in items.values())
    return items


def _job(f: SourceFile, by_rel: Mapping[str, SourceFile], render: bool) -> Job:
    source = by_rel[f.source] if f.source else None
    return Job(
        path=f.shown,
        data=f.data,
        locale=f.locale,
        source=source.data if source else None,
        source_path=source.shown if source else None,
        render=render,
    )


def _parse_all(jobs: Sequence[Job], workers: int | None) -> list[Parsed]:
    count = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if count <= 1 or len(jobs) < PARALLEL_MIN:
        return [parse_file(job) for job in jobs]
    return parse_all(jobs, count)


def _source_item(p: Parsed, rel: str, digest: str) -> Item:
    meta = p.meta
    audience = meta.get("audience", {})
    steps = tuple(
        Step(
            id=s.id,
            title=s.title,
            body_markdown=s.body.markdown,
            body_html=s.body.html,
            body_tree_json=s.body.tree_json,
            scope=s.settings["scope"],
            roles=s.settings.get("roles", ()),
            requires=s.settings.get("requires", ()),
            optional=s.settings.get("optional", False),
            skippable=s.settings.get("skippable", True),
            completes_on=s.settings.get("completes_on"),
            cta=s.settings.get("cta"),
            tour=_tour(s.settings.get("tour")),
            locale=p.locale,
        )
        for s in p.steps
    )
    return Item(
        id=meta["id"],
        kind=meta["kind"],
        locale=p.locale,
        title=meta["title"],
        summary=meta["summary"],
        phase=meta["phase"],
        tags=meta.get("tags", ()),
        audience=Audience(
            roles=audience.get("roles", ()),
            attributes=audience.get("attributes", {}),
            locales=audience.get("locales", ()),
            after=audience.get("after", ()),
        ),
        contexts=meta.get("contexts", ()),
        draft=meta.get("draft", False),
        body_markdown=p.body.markdown,
        body_html=p.body.html,
        body_tree_json=p.body.tree_json,
        steps=steps,
        questions=tuple(
            Question(
                q["id"],
                q["type"],
                q["prompt"],
                q.get("options", ()),
                required=q.get("required", True),
                multiple=q.get("multiple", False),
            )
            for q in meta.get("questions", ())
        ),
        starts=meta.get("starts"),
        ends=meta.get("ends"),
        placement=meta.get("placement"),
        priority=meta.get("priority", 0),
        repeat_after_days=meta.get("repeat_after_days"),
        icon=meta.get("icon"),
        image=meta.get("image"),
        criterion=Criterion.from_dict(meta["criterion"]) if "criterion" in meta else None,
        reached_when=(
            Criterion.from_dict(meta["reached_when"]) if "reached_when" in meta else None
        ),
        target_days=meta.get("target_days"),
        kpis=meta.get("kpis", ()),
        activation=meta.get("activation", False),
        first_value=meta.get("first_value", False),
        feature=meta.get("feature"),
        links=_unique(target for target, _, _ in p.links),
        source_path=rel,
        source_hash=digest,
    )


def _tour(tour: Mapping[str, str] | None) -> dict[str, str | None] | None:
    if tour is None:
        return None
    return {
        "selector": tour["selector"],
        "placement": tour.get("placement", "auto"),
        "route": tour.get("route"),
    }


def _translation_item(p: Parsed, source: Item, rel: str, digest: str) -> Item:
    """The source item with the translated title, summary, bodies and question texts; a step
    not translated yet is the source's, in the source's locale."""
    translated = {t.id: t for t in p.steps}
    steps = tuple(
        _replace(
            base,
            title=t.title,
            body_markdown=t.body.markdown,
            body_html=t.body.html,
            body_tree_json=t.body.tree_json,
            locale=p.locale,
        )
        if (t := translated.get(base.id)) is not None
        else base
        for base in source.steps
    )
    texts = {q["id"]: q for q in p.meta.get("questions", ())}
    questions = tuple(
        replace(
            q,
            prompt=texts[q.id]["prompt"],
            options=texts[q.id].get("options", q.options),
        )
        if q.id in texts
        else q
        for q in source.questions
    )
    cta_links = [
        s.cta["url"][5:] for s in source.steps if s.cta and s.cta["url"].startswith("heed:")
    ]
    return _replace(
        source,
        locale=p.locale,
        title=p.meta["title"],
        summary=p.meta["summary"],
        body_markdown=p.body.markdown,
        body_html=p.body.html,
        body_tree_json=p.body.tree_json,
        steps=steps,
        questions=questions,
        links=_unique([*(target for target, _, _ in p.links), *cta_links]),
        source_path=rel,
        source_hash=digest,
    )


def _replace(obj: T, **changes: Any) -> T:
    """`dataclasses.replace` for items and steps, keeping the stored body tree as it is (plain
    `replace` would decode it and pass it back to be encoded, or over a new `body_tree_json`)."""
    return replace(obj, body_tree=None, **changes)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
