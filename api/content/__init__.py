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


def check_command(root: str | Path, *, include_drafts: bool = False, watch: bool = False) -> int:
    """`heed content check`: print each problem as `path:line:col: message` (warnings as
    `path:line:col: warning: message`), paths relative to the current directory; 1 if any
    error. With `watch`, check again after every change until interrupted."""
    root = Path(root)
    if not root.is_dir():
        print(f"{root}: not a directory", file=sys.stderr)
        return 2
    if not watch:
        return _check_once(root, include_drafts)
    from api.content.watch import changes, describe

    print(describe(root), flush=True)
    for _ in changes(root):  # the first run comes once the watch is in place
        _check_once(root, include_drafts, announce=True)
    return 0


def _check_once(root: Path, include_drafts: bool, *, announce: bool = False) -> int:
    """One check, printed; in watch mode it starts with a line saying so (editors' problem
    matchers take it, and the closing summary, as the bounds of one run)."""
    from api.content.pipeline import check
    from api.content.watch import shown

    name = shown(root)
    if announce:
        print(f"checking {name}/ ...", flush=True)
    found = check(root, include_drafts=include_drafts, shown_from=Path.cwd())
    for problem in found:
        print(problem)
    errors = sum(1 for p in found if p.is_error)
    warnings = len(found) - errors
    files = len({p.path for p in found})
    if errors:
        also = f" and {warnings} warning(s)" if warnings else ""
        print(f"{errors} problem(s){also} in {files} file(s)", flush=True)
        return 1
    with_warnings = f", with {warnings} warning(s) in {files} file(s)" if warnings else ""
    print(f"{name}: content is valid{with_warnings}", flush=True)
    return 0
