"""The schema change check, in throwaway git repositories: a breaking change fails until the
changelog acknowledges it; additions pass; no history is reported, not failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.schema_changes import acknowledged, check
from tests.conftest import ROOT

V1 = "type Query { flow(id: ID!, locale: String): Flow }\ntype Flow { id: ID! title: String! }\n"
ADDED = V1.replace("title: String!", "title: String! summary: String")
REMOVED = V1.replace(" title: String!", "")
ARG_REMOVED = V1.replace(", locale: String", "")


def git(repo: Path, *args: str) -> None:
    subprocess.run(  # noqa: S603
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],  # noqa: S607
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main with schema v1, and a branch `work` checked out from it."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "schema.graphql").write_text(V1)
    git(tmp_path, "add", "schema.graphql")
    git(tmp_path, "commit", "-qm", "v1")
    git(tmp_path, "checkout", "-qb", "work")
    return tmp_path


def test_a_removed_field_fails_until_acknowledged(repo: Path) -> None:
    (repo / "schema.graphql").write_text(REMOVED)
    outcome = check(repo)
    assert outcome.base is not None
    assert [name for name, _ in outcome.unacknowledged] == ["Flow.title"]

    (repo / "CHANGELOG.md").write_text("## Unreleased\n- `Flow.title` is gone\n")
    assert check(repo).unacknowledged, "a line without 'Breaking' does not acknowledge"
    (repo / "CHANGELOG.md").write_text("## Unreleased\n- Breaking: `Flow.title` removed.\n")
    assert check(repo).unacknowledged == []


def test_additions_pass_and_arguments_count(repo: Path) -> None:
    (repo / "schema.graphql").write_text(ADDED)
    assert check(repo).breaking == []
    (repo / "schema.graphql").write_text(ARG_REMOVED)
    assert [name for name, _ in check(repo).unacknowledged] == ["Query.flow"]


def test_on_main_the_last_commit_is_checked(repo: Path) -> None:
    git(repo, "checkout", "-q", "main")
    (repo / "schema.graphql").write_text(REMOVED)
    git(repo, "commit", "-qam", "remove a field")
    outcome = check(repo)
    assert outcome.base is not None
    assert outcome.base.ref == "HEAD~1"
    assert outcome.unacknowledged


def test_no_history_is_reported_not_failed(tmp_path: Path) -> None:
    (tmp_path / "schema.graphql").write_text(V1)
    assert check(tmp_path).base is None
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "schema.graphql")
    git(tmp_path, "commit", "-qm", "first")
    assert check(tmp_path).base is None  # a first commit has no parent to compare with


def test_acknowledgement_names_the_whole_coordinate() -> None:
    assert acknowledged("Flow.title", "- BREAKING: Flow.title removed")
    assert not acknowledged("Flow.title", "- Breaking: Flow.titles removed")
    assert not acknowledged("Flow.title", "- Breaking: SubFlow.title removed")


def test_the_command_fails_with_what_to_write(repo: Path) -> None:
    (repo / "schema.graphql").write_text(REMOVED)
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "schema-changes"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert "breaking: Field Flow.title was removed." in result.stdout
    assert "- Breaking: `Flow.title`" in result.stderr
    assert "Traceback" not in result.stderr
