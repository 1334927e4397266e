"""Organizations and members are created on first sight and follow their latest token.

A worker remembers whom it has already written, keyed by the claims' hash, so a member seen
before costs no SQL at all; a changed role or name is written on the next request. Another
worker may have written different claims meanwhile, so a memory is trusted for a minute only.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from api.auth import MemberPrincipal
from api.db.models import HelpRequest, Member, Organization
from api.progress.store import bump_state_version


@dataclass(frozen=True)
class MemberRef:
    """Database keys of a member and their organization, for scoping queries."""

    organization_pk: int
    member_pk: int
    organization_name: str | None


class MemberRegistry:
    def __init__(self, max_entries: int = 100_000, trust_seconds: float = 60.0) -> None:
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
        ref = await _upsert(principal, claims_hash)
        self._seen[key] = (claims_hash, ref, now)
        self._seen.move_to_end(key)
        if len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)
        return ref


async def _upsert(principal: MemberPrincipal, claims_hash: str) -> MemberRef:
    """Write what the token says; if that changed anything, bump the organization's state
    version afterwards, so every worker's cached answers show a new or changed member.

    A member stored with these very claims (the usual case when a worker's memory of them
    expires) costs one read and no write.
    """
    stored = (
        await Member.filter(
            organization__external_id=principal.organization_id,
            external_id=principal.member_id,
            claims_hash=claims_hash,
        )
        .first()
        .values_list("id", "organization_id", "organization__name")
    )
    if stored is not None and stored[2] == (principal.organization_name or stored[2]):
        member_pk, organization_pk, organization_name = stored
        return MemberRef(organization_pk, member_pk, organization_name)
    organization, changed = await _organization(principal)
    fields = {
        "name": principal.name,
        "email": principal.email,
        "locale": principal.locale,
        "roles": list(principal.roles),
        "attributes": dict(principal.attributes),
        "claims_hash": claims_hash,
    }
    member = await Member.get_or_none(
        organization_id=organization.id, external_id=principal.member_id
    )
    if member is None:
        try:
            member = await Member.create(
                organization_id=organization.id, external_id=principal.member_id, **fields
            )
            changed = True
        except IntegrityError:
            # Another request created them first: theirs is as good as ours.
            member = await Member.get(
                organization_id=organization.id, external_id=principal.member_id
            )
    if member.claims_hash != claims_hash:
        await Member.filter(id=member.id).update(**fields)
        changed = True
    if principal.email and changed:
        # Help requests sent to this email before they signed in now reach them as a member.
        changed |= bool(
            await HelpRequest.filter(
                organization_id=organization.id,
                invitee_id=None,
                invitee_email=principal.email.lower(),
            ).update(invitee_id=member.id)
        )
    if changed:
        await bump_state_version(organization.id)
    return MemberRef(
        organization_pk=organization.id, member_pk=member.id, organization_name=organization.name
    )


async def _organization(principal: MemberPrincipal) -> tuple[Organization, bool]:
    """The token's organization, and whether this call changed what is stored of it."""
    organization = await Organization.get_or_none(external_id=principal.organization_id)
    if organization is None:
        try:
            organization = await Organization.create(
                external_id=principal.organization_id, name=principal.organization_name
            )
        except IntegrityError:
            organization = await Organization.get(external_id=principal.organization_id)
    if principal.organization_name and organization.name != principal.organization_name:
        await Organization.filter(id=organization.id).update(name=principal.organization_name)
        organization.name = principal.organization_name
        return organization, True
    return organization, False
