"""The write unit: the one way onboarding state changes.

`commit` runs a change in one transaction: it takes the organization's lock (bumping its
state version, which also retires every cached answer), reads under the lock everything the
change decides on, lets the use case decide, then writes the change's rows, its events, its
idempotency record and its live notifications together. On Postgres the writes and the
NOTIFYs go as one statement, so any change costs three statements. After commit, SQLite's
in-process subscribers are told.

An idempotency key replays: a retry with the same key (and the same target) gets the stored
outcome, success or error, and writes nothing; the same key for something else is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from tortoise.transactions import in_transaction

from api.actor import Actor
from api.errors import ErrorCode, HeedError
from api.progress.live import ProgressAction, ProgressHub
from api.progress.store import (
    EventRow,
    MemberRow,
    OpenHelpRequest,
    UnderLock,
    ViewerState,
    Write,
    insert_events,
    lock_organization,
    read_under_lock,
    remember_outcome,
    run_writes,
)

EVENT_VERSION = 1


@dataclass(frozen=True)
class Idempotency:
    key: str
    operation: str
    target: Mapping[str, Any]


@dataclass
class Change:
    """A change being decided: what was read under the lock, and what it will write.

    The use case updates `state` in memory as it writes, so its answer needs no second read.
    """

    actor: Actor
    now: dt.datetime
    read: UnderLock
    writes: list[Write] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    more: Any = None  # what the use case's `read_more` read under the lock

    @property
    def state(self) -> ViewerState:
        return self.read.state

    @property
    def members(self) -> list[MemberRow]:
        return self.read.members

    @property
    def open_help(self) -> list[OpenHelpRequest]:
        return self.read.open_help

    def write(self, write: Write) -> None:
        self.writes.append(write)

    def emit(self, event_type: str, data: Mapping[str, Any]) -> None:
        """An event of the catalogue, written in this change's transaction (its outbox)."""
        properties = {"version": EVENT_VERSION, "actorId": self.actor.member_id or None, **data}
        self.events.append(EventRow(self.actor.member_pk, event_type, properties))

    def record_app_event(self, name: str, properties: Mapping[str, Any]) -> None:
        """An app event reported by the host (`track`): kept as sent, not a catalogue event."""
        self.events.append(EventRow(self.actor.member_pk, name, properties, "app"))

    def all_writes(self) -> list[Write]:
        """The change's rows, then its events in the order they happened, in one statement."""
        if not self.events:
            return list(self.writes)
        return [*self.writes, insert_events(self.actor.organization_pk, self.events, self.now)]

    @property
    def emitted(self) -> list[tuple[str, dict[str, Any]]]:
        """The catalogue events this change emitted so far (type, data)."""
        return [(e.name, dict(e.properties)) for e in self.events if e.kind != "app"]

    def announce(
        self,
        flow_id: str,
        step_id: str | None,
        action: ProgressAction,
        *,
        badge_id: str | None = None,
    ) -> None:
        """Tell the organization's live subscribers, once committed."""
        notice = {
            "organizationId": self.actor.organization_id,
            "flowId": flow_id,
            "stepId": step_id,
            "action": action,
            "memberId": self.actor.member_id or None,  # None: the admin key
            "at": self.now.isoformat(),
        }
        if badge_id is not None:
            notice["badgeId"] = badge_id
        self.notices.append(notice)


@dataclass(frozen=True)
class Committed:
    """A change's outcome: what the use case returned (or, on a replay, what it returned
    the first time), and the state as the change left it."""

    record: dict[str, Any]
    change: Change
    replayed: bool


class _Replay(Exception):
    """Leaves the transaction without writing: the key's outcome is already stored."""


Decide = Callable[[Change], Awaitable[dict[str, Any]]]
# Reads a use case needs beyond the common read, made under the lock (connection given).
ReadMore = Callable[[UnderLock, Any], Awaitable[Any]]


async def commit(
    actor: Actor,
    hub: ProgressHub,
    decide: Decide,
    *,
    idempotency: Idempotency | None = None,
    state_of: str | None = None,
    in_order: bool = False,
    now: dt.datetime | None = None,
    read_more: ReadMore | None = None,
) -> Committed:
    """Run `decide` under the organization's lock and write what it asks for.

    `decide` returns a plain record (kept for idempotent replays) or raises `HeedError`;
    with a key, the error is kept too, so a retry gets the same answer. `state_of` names
    whose state is read (the actor's by default); `in_order` sends writes that depend on
    each other one by one. `now` is the change's time (a test's clock; the real one by
    default); `read_more` reads what only this use case needs, under the lock.
    """
    key = (actor.key_owner, idempotency.key) if idempotency else None
    now = now or dt.datetime.now(dt.UTC)
    change: Change | None = None
    try:
        async with in_transaction() as connection:
            locked = await lock_organization(actor.organization_pk, connection)
            read = await read_under_lock(
                actor.organization_pk,
                locked,
                actor.member_id if state_of is None else state_of,
                key,
                connection,
            )
            change = Change(actor, now, read)
            if idempotency is not None and read.stored is not None:
                raise _Replay
            if read_more is not None:
                change.more = await read_more(read, connection)
            try:
                record = await decide(change)
            except HeedError as error:
                if idempotency is None:
                    raise
                change.writes = [_remember(change, idempotency, {"error": error.as_record()})]
                change.events, change.notices = [], []
                await run_writes(change.writes, [], connection)
                raise
            if idempotency is not None:
                change.write(_remember(change, idempotency, record))
            notices = [orjson.dumps(notice).decode() for notice in change.notices]
            await run_writes(change.all_writes(), notices, connection, in_order=in_order)
    except _Replay:
        assert change is not None
        assert idempotency is not None
        return Committed(_replayed(change, idempotency), change, replayed=True)
    assert change is not None
    for notice in change.notices:
        hub.deliver_local(notice)
    return Committed(record, change, replayed=False)


def _remember(change: Change, idempotency: Idempotency, outcome: dict[str, Any]) -> Write:
    actor = change.actor
    return remember_outcome(
        actor.organization_pk,
        actor.key_owner,
        idempotency.key,
        idempotency.operation,
        {**outcome, "target": dict(idempotency.target)},
        change.now,
    )


def _replayed(change: Change, idempotency: Idempotency) -> dict[str, Any]:
    assert change.read.stored is not None
    operation, outcome = change.read.stored
    if operation != idempotency.operation or outcome.get("target") != dict(idempotency.target):
        raise HeedError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            f"this idempotency key was already used for another {operation}",
            ("input", "idempotencyKey"),
        )
    if "error" in outcome:
        raise HeedError.from_record(outcome["error"])
    if outcome.get("errors"):  # kept by an earlier version of Heed: a list of errors
        raise HeedError.from_record(outcome["errors"][0])
    return {name: value for name, value in outcome.items() if name not in ("target", "errors")}
