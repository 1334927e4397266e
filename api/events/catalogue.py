"""The event catalogue: one JSON Schema per webhook event type, in `schemas/<type>.json`.

The schema files are the registry: adding a type is adding its schema (its `title` is the
type, its `description` the README's line). A webhook body is
`{"type", "timestamp", "data"}`; the event row's `properties` hold `data` except
`organizationId`, which delivery fills from the organization row (its external id never
changes), so every payload names the organization without the writer storing it twice.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

SCHEMAS = Path(__file__).resolve().parent / "schemas"
ALL_TYPES = "*"


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    schema: Mapping[str, Any]


@functools.cache
def catalogue() -> dict[str, EventType]:
    """Every event type, by name, in name order."""
    types = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = orjson.loads(path.read_bytes())
        name = schema["title"]
        if path.name != f"{name}.json":
            raise ValueError(f"{path}: the title must be the file's name ({name!r})")
        types[name] = EventType(name, schema["description"], schema)
    return types


def is_known(event_type: str) -> bool:
    return event_type in catalogue()


def webhook_body(
    event_type: str,
    created_at: dt.datetime,
    organization_id: str,
    properties: Mapping[str, Any],
) -> bytes:
    """The exact bytes sent (and signed): the same for every attempt of one message."""
    data = {"organizationId": organization_id, **properties}
    if "version" in data:
        data = {"version": data.pop("version"), **data}
    timestamp = created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return orjson.dumps(
        {"type": event_type, "timestamp": timestamp.replace("+00:00", "Z"), "data": data}
    )
