"""Organizations and members are created on first sight and follow their latest token.

A worker remembers whom it has already written, keyed by the claims' hash, so a member seen
before costs no SQL at all; a changed role or name is written on the next request. Another
worker may have written different claims meanwhile, so a memory is trusted for a minute only.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from api.actor import Actor
from api.auth import MemberPrincipal
from api.progress.live import ProgressHub
from api.progress.store import (
    ensure_organization,
    find_member_by_claims,
    link_invitations,
    rename_organization,
    upsert_member,
)
from api.progress.unit import Change, commit


@dataclass(frozen=True)
class MemberRef:
    """Database keys of a member and their organization, for scoping queries."""

    organization_pk: int
    member_pk: int
    organization_name: str | None


class MemberRegistry:
    def __init__(
        self, hub: ProgressHub, max_entries: int = 100_000, trust_seconds: float = 60.0
    ) -> None:
        self._hub = hub
        self._seen: OrderedDict[tuple[str, str], tuple[str, MemberRef, float]] = OrderedDict()
        self._max_entries = max_entries
        self._trust_seconds = trust_seconds

    async def ensure(self, principal: MemberPrincipal) -> MemberRef:
        key = (principal.organization_id, principal.member_id)
        claims_hash = principal.claims_hash
        seen = self._seen.get(key)
        now = time.monotonic()
        if seen is not None and seen[0] == claims_hash and now - seen[2] < self._trust_seconds:
            self._seen.move_to_end(key)
            return seen[1]
        ref = await self._stored(principal) or await self._write(principal)
        self._seen[key] = (claims_hash, ref, now)
        self._seen.move_to_end(key)
        if len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)
        return ref

    async def _stored(self, principal: MemberPrincipal) -> MemberRef | None:
        """The member as stored, if with these very claims: one read, no write (the usual
        case when a worker's memory of them expires)."""
        stored = await find_member_by_claims(
            principal.organization_id, principal.member_id, principal.claims_hash
        )
        if stored is None:
            return None
        member_pk, organization_pk, organization_name = stored
        if principal.organization_name and principal.organization_name != organization_name:
            return None
        return MemberRef(organization_pk, member_pk, organization_name)

    async def _write(self, principal: MemberPrincipal) -> MemberRef:
        """Write what the token says, through the write unit: the organization's version
        moves (every worker's cached answers show the new or changed member) and a new
        member is a `member.joined` event."""
        organization_pk, stored_name = await ensure_organization(principal.organization_id)
        system = Actor(organization_pk, principal.organization_id, stored_name)

        async def decide(change: Change) -> dict[str, Any]:
            name = principal.organization_name
            if name and name != stored_name:
                change.write(rename_organization(organization_pk, name))
            joined = all(member.id != principal.member_id for member in change.members)
            change.write(
                upsert_member(
                    organization_pk,
                    principal.member_id,
                    principal.name,
                    principal.email,
                    principal.locale,
                    principal.roles,
                    principal.attributes,
                    principal.claims_hash,
                    change.now,
                )
            )
            if principal.email:
                change.write(
                    link_invitations(organization_pk, principal.member_id, principal.email)
                )
            if joined:
                change.emit(
                    "member.joined",
                    {
                        "memberId": principal.member_id,
                        "name": principal.name,
                        "email": principal.email,
                        "roles": list(principal.roles),
                    },
                )
            return {}

        await commit(system, self._hub, decide, in_order=True)
        ref = await self._stored(principal)
        assert ref is not None, "the member was just written with these claims"
        return ref
