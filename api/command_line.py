"""What every `heed` command shares: its one error type, its settings, how it reads a moment
and writes CSV (kept apart from `api.cli` so the domains' commands can use them too)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from api.auth import with_development_secret
from api.settings import Settings


class CommandError(Exception):
    """Ends the command with this message and exit code 1."""


def load_settings() -> Settings:
    return with_development_secret(Settings.from_env())


def moment(text: str) -> dt.datetime:
    """An ISO date or date-time argument, UTC unless it says otherwise."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def write_csv(
    output: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]], noun: str
) -> None:
    """A header and rows as CSV, to a file (saying how many rows) or to stdout; times as ISO."""
    with contextlib.ExitStack() as stack:
        out = (
            stack.enter_context(Path(output).open("w", newline="", encoding="utf-8"))
            if output
            else sys.stdout
        )
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                [value.isoformat() if isinstance(value, dt.datetime) else value for value in row]
            )
    if output:
        print(f"wrote {len(rows)} {noun}(s) to {output}", file=sys.stderr)
