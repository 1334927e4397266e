"""Synthetic content for measuring build speed (`python -m api.content bench 1000`)."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from api.content.model import Item
from api.content.pipeline import build, check

_WORDS = [
    "visitor",
    "check-in",
    "reception",
    "badge",
    "host",
    "notify",
    "office",
    "desk",
    "guest",
    "company",
    "card",
    "billing",
    "invite",
    "colleague",
    "workspace",
    "google",
    "directory",
    "sync",
    "printer",
    "kiosk",
    "policy",
    "privacy",
    "export",
    "location",
    "schedule",
    "delivery",
    "meeting",
    "contractor",
    "agreement",
    "signature",
    "photo",
]


def _paragraph(rng: random.Random, ids: list[str]) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(70))
    return f"{text.capitalize()} with **bold**, `code` and [a link](heed:{rng.choice(ids)}).\n"


def write_corpus(root: Path, count: int, seed: int = 1) -> list[Path]:
    """`count` items of about 5 KB: articles, with every tenth a flow of four steps."""
    rng = random.Random(seed)  # noqa: S311 - reproducible filler text, not security
    ids = [f"item-{n:04d}" for n in range(count)]
    paths = []
    for n, item_id in enumerate(ids):
        flow = n % 10 == 0
        parts = [
            "---",
            f"id: {item_id}",
            f"kind: {'flow' if flow else 'article'}",
            f"title: {' '.join(rng.choice(_WORDS) for _ in range(4)).capitalize()}",
            "summary: Everything about visitors and reception, in one place.",
            f"phase: {rng.choice(['hype', 'enable', 'explore', 'device'])}",
            "tags: [reception, visitors]",
            "---",
            "",
        ]
        for section in range(4):
            if flow:
                parts += [f"## Step {section} {{#step-{section}}}", "", "```step"]
                parts += [f"requires: [step-{section - 1}]" if section else "roles: [admin]"]
                parts += ["```", ""]
            else:
                parts += [f"## Section {section}", ""]
            parts += [
                _paragraph(rng, ids),
                "- first point\n- second *point*\n",
                _paragraph(rng, ids),
            ]
            parts += ["::: tip\nA short tip.\n:::\n" if section == 1 else ""]
        path = root / f"{item_id}.md"
        path.write_text("\n".join(parts), encoding="utf-8")
        paths.append(path)
    return paths


def run_bench(count: int = 1000) -> dict[str, float]:
    """Seconds for check, then a cold build (which reuses what check parsed), their sum, and a
    rebuild after one edit with the cache."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "content"
        root.mkdir()
        paths = write_corpus(root, count)
        out: dict[str, float] = {}
        started = time.perf_counter()
        problems = check(root)
        out["check"] = time.perf_counter() - started
        assert not problems, problems[:3]
        cache: dict[str, Item] = {}
        started = time.perf_counter()
        first = build(root, cache=cache)
        out["cold build"] = time.perf_counter() - started
        out["check + cold build"] = out["check"] + out["cold build"]
        paths[3].write_text(paths[3].read_text(encoding="utf-8") + "\nOne more line.\n", "utf-8")
        previous = {k: (i.source_hash, i.revision) for k, i in first.items.items()}
        started = time.perf_counter()
        second = build(root, cache=cache, previous=previous)
        out["one-edit rebuild"] = time.perf_counter() - started
        assert sum(i.revision for i in second.items.values()) == count + 1
        return out
