"""Content pipeline: markdown files in, validated and rendered items out, served from memory.

Pure except for reading the content directory; the database and GraphQL layers store and
serve what `build` returns.

Names are imported on first use: a parsing worker process imports `api.content.parse`, and
with it this package, and needs neither the catalog nor search.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.content.catalog import Catalog, Resolved, audience_matches, is_live
    from api.content.model import Audience, Item, Problem, Question, Step
    from api.content.pipeline import Build, build, check, content_hash, source_hash
    from api.content.search import Hit
    from api.content.spec import json_schema, write_json_schema

_MODULES = {
    "api.content.catalog": ("Catalog", "Resolved", "audience_matches", "is_live"),
    "api.content.model": ("Audience", "Item", "Problem", "Question", "Step"),
    "api.content.pipeline": ("Build", "build", "check", "content_hash", "source_hash"),
    "api.content.search": ("Hit",),
    "api.content.spec": ("json_schema", "write_json_schema"),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "Audience",
    "Build",
    "Catalog",
    "Hit",
    "Item",
    "Problem",
    "Question",
    "Resolved",
    "Step",
    "audience_matches",
    "build",
    "check",
    "check_command",
    "content_hash",
    "is_live",
    "json_schema",
    "source_hash",
    "write_json_schema",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def check_command(root: str | Path, *, include_drafts: bool = False) -> int:
    """`heed content check`: print each problem as `path:line:col: message`; 1 if any."""
    from api.content.pipeline import check

    root = Path(root)
    if not root.is_dir():
        print(f"{root}: not a directory", file=sys.stderr)
        return 2
    problems = check(root, include_drafts=include_drafts)
    for problem in problems:
        print(problem)
    if problems:
        files = len({p.path for p in problems})
        print(f"{len(problems)} problem(s) in {files} file(s)")
        return 1
    print(f"{root}: content is valid")
    return 0
