"""Watch the content folder: the writer's loop behind `heed serve --watch` and
`heed content check --watch`.

Changes come from the operating system's file events (`watchfiles`), not from polling, and a
burst of events (an editor writes a temporary file, then renames it) is one change.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from watchfiles import watch

from api.content.pipeline import is_content_file

QUIET_MS = 30  # a change is reported once no other event came for this long
ARM_MS = 100  # how soon the first (empty) report comes; idle wake-ups are this far apart


def is_content(path: str | Path, root: Path) -> bool:
    """Whether a path (absolute, as file events give it) is a content file under `root`."""
    rel = os.path.relpath(Path(path).resolve(), root.resolve())
    return not rel.startswith("..") and is_content_file(rel.replace(os.sep, "/"))


def shown(root: Path, shown_from: Path | None = None) -> str:
    """`root` as the writer should read it: relative to where the command was run."""
    return os.path.relpath(root.resolve(), (shown_from or Path.cwd()).resolve()).replace(
        os.sep, "/"
    )


def describe(root: Path, shown_from: Path | None = None) -> str:
    """What the watcher watches, in one line for the writer."""
    count = sum(1 for path in root.rglob("*.md") if is_content(path, root))
    return (
        f"watching {shown(root, shown_from)}/ for changes: {count} content file(s) "
        f"(markdown, not READMEs, schema/ or hidden folders); Ctrl-C to stop"
    )


def changes(root: Path) -> Iterator[set[str]]:
    """First an empty set, once the watch is in place (a caller runs then, and misses no
    change made while it runs); then, at each change, the changed paths."""
    resolved = root.resolve()
    armed = False
    for batch in watch(
        resolved,
        watch_filter=lambda _change, path: is_content(path, resolved),
        step=QUIET_MS,
        rust_timeout=ARM_MS,
        yield_on_timeout=True,
    ):
        if batch or not armed:
            armed = True
            yield {path for _, path in batch}
