"""Per-request reads: each batch read runs at most once per request, however many fields
ask for it, so a query's statement count is bounded by its shape, never by the data.

Made fresh for every request (and again after a change), so a member always reads their own
writes.
"""

from __future__ import annotations

import asyncio
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


class Reads:
    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self._results: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def once(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        """Run `load` the first time `name` is asked for in this request; reuse after."""
        if name not in self._results:
            async with self._locks.setdefault(name, asyncio.Lock()):
                if name not in self._results:
                    self._results[name] = await load()
        return self._results[name]  # type: ignore[no-any-return]

    def prime(self, name: str, value: Any) -> None:
        """Something the request already read: not read again."""
        self._results[name] = value

    def prime_viewer_state(self, state: ViewerState) -> None:
        """State the request already read (with the organization's version)."""
        self.prime("state", state)

    async def viewer_state(self) -> ViewerState:
        actor = self.actor
        return await self.once(
            "state", lambda: load_viewer_state(actor.organization_pk, actor.member_id)
        )

    async def members(self) -> list[MemberRow]:
        return await self.once("members", lambda: load_members(self.actor.organization_pk))

    async def members_by_pk(self) -> dict[int, MemberRow]:
        return {member.pk: member for member in await self.members()}

    async def organization(self) -> tuple[str | None, int | None]:
        """The organization's stored name and its owner's key."""
        return await self.once(
            "organization", lambda: load_organization(self.actor.organization_pk)
        )

    async def help_requests(self) -> list[HelpRequestRow]:
        return await self.once(
            "help_requests", lambda: load_help_requests(self.actor.organization_pk)
        )
