"""A synthetic pack of help articles, and the content-build figures measured on it.

Articles only (no flows), so publishing them next to the demo pack adds search load without
changing what the home query returns.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from api.content.model import Item
from api.content.pipeline import build, check

_VOCABULARY = (
    "visitor check-in reception badge host notify office desk guest company card billing "
    "invite colleague workspace google directory sync printer kiosk policy privacy export "
    "location schedule delivery meeting contractor agreement signature photo label network "
    "tablet wifi lobby arrival departure alert watchlist report"
)
WORDS = _VOCABULARY.split()
PHASES = ("hype", "enable", "explore", "device")


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _paragraph(rng: random.Random, ids: list[str]) -> str:
    text = " ".join(_sentence(rng, 14) for _ in range(4))
    link = rng.choice(ids)
    return f"{text} See **{rng.choice(WORDS)}** with `{rng.choice(WORDS)}` and [more](heed:{link})."


def article(n: int, ids: list[str], rng: random.Random) -> str:
    """One article of about 5 KB: sections, paragraphs, lists, code and a callout."""
    parts = [
        "---",
        f"id: {ids[n]}",
        "kind: article",
        f"title: {_sentence(rng, 4)[:-1]}",
        f"summary: {_sentence(rng, 10)}",
        f"phase: {PHASES[n % len(PHASES)]}",
        f"tags: [{rng.choice(WORDS)}, synthetic]",
        "---",
        "",
    ]
    for section in range(4):
        parts += [f"## {_sentence(rng, 3)[:-1]}", "", _paragraph(rng, ids), ""]
        parts += [f"- {_sentence(rng, 6)}" for _ in range(3)] + [""]
        parts += [_paragraph(rng, ids), ""]
        if section == 1:
            parts += ["::: tip", _sentence(rng, 12), ":::", ""]
        if section == 2:
            parts += ["```json", '{"visitor": "badge", "printer": "online"}', "```", ""]
    return "\n".join(parts)


def write_articles(root: Path, count: int, seed: int = 7) -> list[Path]:
    """Write `count` articles `syn-NNNN` under `root` (created if missing)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible filler text, not security
    root.mkdir(parents=True, exist_ok=True)
    ids = [f"syn-{n:04d}" for n in range(count)]
    paths = []
    for n in range(count):
        path = root / f"{ids[n]}.md"
        path.write_text(article(n, ids, rng), encoding="utf-8")
        paths.append(path)
    return paths


def touch_one(path: Path, note: str) -> None:
    """A writer's one-line edit: changes the item's source hash and nothing else."""
    path.write_text(path.read_text(encoding="utf-8") + f"\n{note}\n", encoding="utf-8")


def measure_build(root: Path, paths: list[Path]) -> dict[str, float]:
    """Seconds for `check`, a cold `build`, and a rebuild after editing one item."""
    started = time.perf_counter()
    problems = check(root)
    check_s = time.perf_counter() - started
    if problems:
        raise RuntimeError(f"synthetic pack has problems: {problems[:3]}")
    cache: dict[str, Item] = {}
    started = time.perf_counter()
    first = build(root, cache=cache)
    cold_s = time.perf_counter() - started
    previous = {key: (item.source_hash, item.revision) for key, item in first.items.items()}
    touch_one(paths[len(paths) // 2], "One more line for the rebuild.")
    started = time.perf_counter()
    second = build(root, cache=cache, previous=previous)
    one_edit_s = time.perf_counter() - started
    if second.problems or sum(i.revision for i in second.items.values()) != len(paths) + 1:
        raise RuntimeError("one-edit rebuild did not give exactly one new revision")
    return {
        "items": len(first.items),
        "check_s": round(check_s, 3),
        "build_s": round(cold_s, 3),
        "cold_s": round(check_s + cold_s, 3),
        "one_edit_s": round(one_edit_s, 3),
        "bytes_per_item": round(sum(p.stat().st_size for p in paths) / len(paths)),
    }
