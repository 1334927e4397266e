"""Per-request loaders: each batch read runs at most once per request, however many fields
ask for it. Built fresh for every request, so a member always reads their own writes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise.expressions import Q

from api.db.models import HelpRequest
from api.members import MemberRef
from api.progress.store import (
    MemberRow,
    ViewerState,
    load_members,
    load_viewer_state,
    organization_owner,
)

T = TypeVar("T")


class Loaders:
    def __init__(self, member_ref: MemberRef, member_key: str, email: str | None) -> None:
        self.member_ref = member_ref
        self.member_key = member_key
        self.email = email
        self._results: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def once(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        """Run `load` the first time `name` is asked for in this request; reuse after."""
        if name not in self._results:
            async with self._locks.setdefault(name, asyncio.Lock()):
                if name not in self._results:
                    self._results[name] = await load()
        return self._results[name]  # type: ignore[no-any-return]

    def prime_viewer_state(self, state: ViewerState) -> None:
        """State the request already read (with the organization's version): not read again."""
        self._results["state"] = state

    def after_write(self, state: ViewerState) -> Loaders:
        """Loaders for the payload of this request's step change: the state its transaction
        left, and the members already read (a step change changes none)."""
        loaders = Loaders(self.member_ref, self.member_key, self.email)
        loaders.prime_viewer_state(state)
        if "members" in self._results:
            loaders._results["members"] = self._results["members"]
        return loaders

    async def viewer_state(self) -> ViewerState:
        return await self.once(
            "state",
            lambda: load_viewer_state(self.member_ref.organization_pk, self.member_key),
        )

    async def members(self) -> list[MemberRow]:
        return await self.once("members", lambda: load_members(self.member_ref.organization_pk))

    async def owner_pk(self) -> int | None:
        return await self.once("owner", lambda: organization_owner(self.member_ref.organization_pk))

    async def members_by_pk(self) -> dict[int, MemberRow]:
        return {member.pk: member for member in await self.members()}

    async def help_requests_to_viewer(self) -> list[HelpRequest]:
        """Open requests addressed to the viewer, by member link or by their email."""

        async def load() -> list[HelpRequest]:
            addressed = Q(invitee_id=self.member_ref.member_pk)
            if self.email:
                addressed |= Q(invitee_id=None, invitee_email=self.email.lower())
            return await HelpRequest.filter(
                addressed, organization_id=self.member_ref.organization_pk, status="open"
            ).order_by("created_at")

        return await self.once("help_to_viewer", load)
