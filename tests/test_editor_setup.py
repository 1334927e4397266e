"""The committed editor setup reads what `heed content check` prints, in watch mode too."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from api.content import check_command
from tests.test_cli import HEED

ROOT = Path(__file__).resolve().parent.parent
TASKS = json.loads((ROOT / ".vscode" / "tasks.json").read_text())

ARTICLE = """---
id: hello
kind: article
title: Hello
summary: Say hello.
phase: enable
---
Body.
"""
FLOW = """---
id: setup
kind: flow
title: Set up
summary: Get going.
phase: enable
---
## First {#first}

One.

## Second {#second}

Two.
"""
RU_FLOW = """---
id: setup
title: Настройка
summary: Начнём.
---
## Первый {#first}

Один.
"""


def task(label: str) -> dict[str, Any]:
    return next(t for t in TASKS["tasks"] if t["label"] == label)


def matcher(label: str) -> dict[str, Any]:
    found: dict[str, Any] = task(label)["problemMatcher"]
    return found


def problems_matched(output: str, label: str) -> list[tuple[str, int, int, str, str]]:
    """What VS Code would list in the Problems panel for this output."""
    spec = matcher(label)
    pattern = spec["pattern"]
    out = []
    for line in output.splitlines():
        m = re.match(pattern["regexp"], line)
        if m:
            severity = m.group(pattern["severity"]) or spec["severity"]
            out.append(
                (
                    m.group(pattern["file"]),
                    int(m.group(pattern["line"])),
                    int(m.group(pattern["column"])),
                    severity,
                    m.group(pattern["message"]),
                )
            )
    return out


def test_both_tasks_run_the_check_from_the_workspace(tmp_path: Path) -> None:
    for label in ("heed: check content", "heed: watch content"):
        spec = task(label)
        assert spec["command"].endswith("/.venv/bin/heed")
        assert spec["args"][:2] == ["content", "check"]
        assert spec["options"]["cwd"] == "${workspaceFolder}"
        assert matcher(label)["fileLocation"] == ["relative", "${workspaceFolder}"]
    assert "--watch" in task("heed: watch content")["args"]
    assert task("heed: watch content")["isBackground"]


def test_the_problem_matcher_reads_every_problem_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    content = tmp_path / "content"
    (content / "flows").mkdir(parents=True)
    (content / "a.md").write_text(ARTICLE.replace("kind: article", "kind: artcle"))
    (content / "flows" / "setup.md").write_text(FLOW)
    (content / "flows" / "setup.ru.md").write_text(RU_FLOW)
    monkeypatch.chdir(tmp_path)  # as the task runs: from the workspace folder
    assert check_command("content") == 1
    output = capsys.readouterr().out
    found = problems_matched(output, "heed: check content")
    assert [(f, line, col, severity) for f, line, col, severity, _ in found] == [
        ("content/a.md", 3, 7, "error"),
        ("content/flows/setup.ru.md", 9, 1, "warning"),
    ]
    assert found[0][4].startswith("unknown kind `artcle` (did you mean `article`?)")
    assert found[1][4].startswith("step `second` is not translated yet")
    assert all((tmp_path / f).is_file() for f, *_ in found), "paths open as printed"
    summary = output.splitlines()[-1]
    assert summary == "1 problem(s) and 1 warning(s) in 2 file(s)"
    assert re.match(matcher("heed: watch content")["background"]["endsPattern"], summary)


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def _until(lines: queue.Queue[str], pattern: str, seen: list[str]) -> str:
    """Read lines until one matches `pattern`; the output so far is in `seen`."""
    while True:
        try:
            line = lines.get(timeout=30)
        except queue.Empty:
            raise AssertionError(f"no line matching {pattern!r} in {seen}") from None
        seen.append(line)
        if re.match(pattern, line):
            return line


def test_check_watch_checks_again_on_every_save(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text(ARTICLE)
    (content / "README.md").write_text("# Not content\n")
    background = matcher("heed: watch content")["background"]
    process = subprocess.Popen(  # noqa: S603 (our own CLI)
        [*HEED, "content", "check", "--watch", "content"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        _until(lines, background["beginsPattern"], seen)
        assert seen[0].startswith("watching content/ for changes: 1 content file(s)")
        assert _until(lines, background["endsPattern"], seen) == "content: content is valid"

        (content / "a.md").write_text(ARTICLE.replace("phase: enable", "phase: onboard"))
        start = len(seen)
        _until(lines, background["beginsPattern"], seen)
        _until(lines, background["endsPattern"], seen)
        run = "\n".join(seen[start:])
        matched = problems_matched(run, "heed: watch content")
        assert [(f, line, col) for f, line, col, *_ in matched] == [("content/a.md", 6, 8)]
        assert seen[-1] == "1 problem(s) in 1 file(s)"

        (content / "a.md").write_text(ARTICLE)
        _until(lines, background["beginsPattern"], seen)
        assert _until(lines, background["endsPattern"], seen) == "content: content is valid"
        assert process.poll() is None, "a broken file does not stop the watch"
    finally:
        process.terminate()
        process.wait(timeout=20)
