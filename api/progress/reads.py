"""Per-request reads: each batch read runs at most once per request, however many fields
ask for it, so a query's statement count is bounded by its shape, never by the data.

Made fresh for every request (and again after a change), so a member always reads their own
writes. A request that read its organization's state version (`share`) also reuses the
organization's members and help requests another request read at the same version.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from api.actor import Actor
from api.progress.store import (
    HelpRequestRow,
    MemberRow,
    ViewerState,
    load_help_requests,
    load_members,
    load_organization,
    load_viewer_state,
)

T = TypeVar("T")
ORGANIZATIONS_SHARED = 4096  # organizations whose rows one worker keeps


class SharedRows:
    """Organization-wide rows (members, help requests) by the organization's state version,
    shared by one worker's requests. Every write to them bumps the version in the same
    transaction, and a state-reading request reads the version first: rows kept under the
    version it read are what another read would return. The least recently used
    organizations go first."""

    def __init__(self, size: int = ORGANIZATIONS_SHARED) -> None:
        self._size = size
        self._rows: OrderedDict[int, tuple[int, dict[str, Any]]] = OrderedDict()

    def get(self, organization_pk: int, version: int) -> dict[str, Any]:
        """The rows kept for this version (a dict to fill when there are none yet)."""
        found = self._rows.get(organization_pk)
        if found is not None and found[0] == version:
            self._rows.move_to_end(organization_pk)
            return found[1]
        if found is not None and found[0] > version:
            return {}  # a request that read an older version: never replaces newer rows
        rows: dict[str, Any] = {}
        self._rows[organization_pk] = (version, rows)
        self._rows.move_to_end(organization_pk)
        if len(self._rows) > self._size:
            self._rows.popitem(last=False)
        return rows


class Reads:
    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self._results: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._shared: dict[str, Any] = {}
        self._deferred: dict[str, Callable[[], Any]] = {}

    def share(self, rows: SharedRows, version: int) -> None:
        """The request read the organization at `version`: its members and help requests
        come from (and go to) the rows kept for that version."""
        self._shared = rows.get(self.actor.organization_pk, version)

    async def _organization_wide(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        shared = self._shared
        if name in shared:
            return shared[name]  # type: ignore[no-any-return]
        value = await self.once(name, load)
        shared[name] = value
        return value

    async def once(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        """Run `load` the first time `name` is asked for in this request; reuse after."""
        if name in self._deferred:
            self._results[name] = self._deferred.pop(name)()
        if name not in self._results:
            async with self._locks.setdefault(name, asyncio.Lock()):
                if name not in self._results:
                    self._results[name] = await load()
        return self._results[name]  # type: ignore[no-any-return]

    def prime(self, name: str, value: Any) -> None:
        """Something the request already read: not read again."""
        self._results[name] = value

    def prime_viewer_state(self, build: Callable[[], ViewerState]) -> None:
        """State the request already read (with the organization's version), built from its
        rows when first asked for."""
        self._deferred["state"] = build

    async def viewer_state(self) -> ViewerState:
        actor = self.actor
        return await self.once(
            "state", lambda: load_viewer_state(actor.organization_pk, actor.member_id)
        )

    async def members(self) -> list[MemberRow]:
        return await self._organization_wide(
            "members", lambda: load_members(self.actor.organization_pk)
        )

    async def members_by_pk(self) -> dict[int, MemberRow]:
        return {member.pk: member for member in await self.members()}

    async def organization(self) -> tuple[str | None, int | None]:
        """The organization's stored name and its owner's key."""
        return await self.once(
            "organization", lambda: load_organization(self.actor.organization_pk)
        )

    async def help_requests(self) -> list[HelpRequestRow]:
        return await self._organization_wide(
            "help_requests", lambda: load_help_requests(self.actor.organization_pk)
        )
