"""Schema change safety: `schema.graphql` against the version on main, with graphql-core's
`find_breaking_changes`. A breaking change fails the check unless CHANGELOG.md acknowledges
it on a line that says "Breaking" and names its schema coordinate, e.g.

    - Breaking: `Flow.title` removed; use `Flow.name`.

The base is the schema at the merge-base of HEAD and main (`origin/main`, else `main`): what
this branch changed. At main's tip, it is HEAD's when the file has uncommitted changes, else
the parent commit's (CI's clone of main: what the last commit or merge changed). Without
git history, or with no schema at the base, there is nothing to compare and the check says so.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from graphql import BreakingChange, build_schema, find_breaking_changes

MAIN_REFS = ("origin/main", "main")
COORDINATE = re.compile(r"@?[A-Za-z_]\w*\.[A-Za-z_]\w*")
NAME = re.compile(r"@?[A-Za-z_]\w*")
LEADING_WORDS = frozenset({"A", "An", "Argument", "Directive", "Enum", "Field", "Standard"})


@dataclass(frozen=True)
class Base:
    ref: str
    why: str
    sdl: str


@dataclass(frozen=True)
class Outcome:
    base: Base | None
    breaking: list[tuple[str, str]]  # (coordinate, description)
    unacknowledged: list[tuple[str, str]]


def coordinate(change: BreakingChange) -> str:
    """The schema coordinate a change is about: `Type.field`, `Enum.VALUE`, or a type name."""
    found = COORDINATE.search(change.description)
    if found:
        return found.group(0)
    names = [name for name in NAME.findall(change.description) if name not in LEADING_WORDS]
    return names[0] if names else change.description


def acknowledged(coordinate_: str, changelog: str) -> bool:
    """Whether a line saying "Breaking" names this coordinate (as a whole name)."""
    mention = re.compile(rf"(?<![\w.@]){re.escape(coordinate_)}(?![\w])")
    return any(
        re.search(r"\bbreaking\b", line, re.IGNORECASE) and mention.search(line)
        for line in changelog.splitlines()
    )


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 (fixed git commands)
            ["git", *args],  # noqa: S607 (git from PATH, as developers run it)
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def find_base(root: Path, schema_path: str, ref: str | None = None) -> Base | None:
    """The schema this one must stay compatible with (see the module's docstring)."""
    if ref is None:
        head = (_git(root, "rev-parse", "HEAD") or "").strip()
        main = next((name for name in MAIN_REFS if _git(root, "rev-parse", "--verify", name)), None)
        if not head:
            return None
        merge_base = (_git(root, "merge-base", "HEAD", main) or "").strip() if main else ""
        committed = _git(root, "show", f"HEAD:{schema_path}")
        if merge_base and merge_base != head:
            ref, why = merge_base, f"where this branch left {main}"
        elif committed is not None and committed != (root / schema_path).read_text():
            ref, why = "HEAD", "the last commit (the file has uncommitted changes)"
        else:
            ref, why = "HEAD~1", "the parent commit (on main, or with no main to compare with)"
    else:
        why = "as asked"
    sdl = _git(root, "show", f"{ref}:{schema_path}")
    return Base(ref, why, sdl) if sdl is not None else None


def check(
    root: Path,
    schema_path: str = "schema.graphql",
    changelog_path: str = "CHANGELOG.md",
    ref: str | None = None,
) -> Outcome:
    base = find_base(root, schema_path, ref)
    if base is None:
        return Outcome(None, [], [])
    current = (root / schema_path).read_text()
    changes = find_breaking_changes(build_schema(base.sdl), build_schema(current))
    changelog_file = root / changelog_path
    changelog = changelog_file.read_text() if changelog_file.exists() else ""
    breaking = [(coordinate(change), change.description) for change in changes]
    missing = [(name, text) for name, text in breaking if not acknowledged(name, changelog)]
    return Outcome(base, breaking, missing)
