"""The one request context every resolver receives, made the same way for HTTP and WebSocket.

`sign_in` resolves the caller once: the principal from the headers (or, on a WebSocket, the
`connection_init` payload), then the actor the domain acts for, and the release served.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import HTTPConnection

from api.actor import Actor
from api.auth import (
    AdminPrincipal,
    AuthError,
    MemberPrincipal,
    Principal,
    authenticate,
    principal_from_claims,
)
from api.content import Catalog
from api.content.preview import PREVIEW_HEADER
from api.content.store import LiveRelease, served_catalog
from api.errors import HeedError, forbidden, not_found
from api.progress.reads import Reads
from api.progress.store import find_organization, load_member_profile
from api.settings import Settings

if TYPE_CHECKING:
    from api.runtime import Runtime

ADMIN_MEMBER_HEADER = "x-heed-member"
PREVIEW_MEMBER_HEADER = "x-heed-preview-member"
# The key of an organization or member that is not stored yet: it matches no row.
NOBODY = 0
NO_ORGANIZATION = (
    "the admin key reads and changes onboarding state for one organization:"
    " send X-Heed-Organization: <organization id>"
)


@dataclass
class Context:
    request: HTTPConnection
    runtime: Runtime
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    principal: Principal | None = None
    release: LiveRelease | None = None
    connection_params: dict[str, Any] | None = None
    _actor: Actor | None = None
    _no_actor: HeedError | None = None
    _reads: Reads | None = None

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    async def sign_in(self, headers: Mapping[str, str]) -> None:
        """Authenticate (raising AuthError), choose the release, and find the actor."""
        principal = authenticate(headers, self.settings)
        release = self.runtime.release
        if headers.get(PREVIEW_HEADER) == "drafts":
            if not isinstance(principal, AdminPrincipal):
                raise AuthError("draft preview needs the admin key", "FORBIDDEN")
            release = await self.runtime.preview.release()
        self.principal, self.release = principal, release
        described = headers.get(PREVIEW_MEMBER_HEADER)
        if described is not None:
            if headers.get(PREVIEW_HEADER) != "drafts":
                raise AuthError("X-Heed-Preview-Member needs X-Heed-Preview: drafts", "BAD_REQUEST")
            self._actor = await _previewed_member(described)
        elif isinstance(principal, MemberPrincipal):
            ref = await self.runtime.members.ensure(principal)
            self._actor = Actor.of_claims(
                principal, ref.organization_pk, ref.organization_name, ref.member_pk
            )
        elif principal.organization_id is None:
            self._no_actor = forbidden(NO_ORGANIZATION)
        else:
            self._actor, self._no_actor = await _admin_actor(
                principal.organization_id, headers.get(ADMIN_MEMBER_HEADER)
            )
        self._reads = Reads(self._actor) if self._actor else None

    @property
    def actor(self) -> Actor:
        """Who the domain acts for; FORBIDDEN or NOT_FOUND when the caller names nobody."""
        if self._actor is None:
            raise self._no_actor or forbidden(NO_ORGANIZATION)
        return self._actor

    @property
    def viewer(self) -> Actor | None:
        """The member whose audience content is filtered for; None for the admin key (it
        sees every item) unless it reads as a named member."""
        actor = self._actor
        return actor if actor is not None and actor.member_pk is not None else None

    @property
    def reads(self) -> Reads:
        """This request's batched reads of the actor's organization."""
        actor = self.actor
        if self._reads is None:
            self._reads = Reads(actor)
        return self._reads

    def read_again(self) -> None:
        """After a change: later fields read what it wrote."""
        if self._actor is not None:
            self._reads = Reads(self._actor)

    @property
    def member(self) -> MemberPrincipal | None:
        return self.principal if isinstance(self.principal, MemberPrincipal) else None

    @property
    def catalog(self) -> Catalog:
        return served_catalog(self.release)

    def locale(self, asked: str | None = None) -> str:
        """The locale to serve: the one asked for, the viewer's, or the default."""
        viewer = self.viewer
        return asked or (viewer.locale if viewer else None) or self.settings.default_locale


async def _previewed_member(described: str) -> Actor:
    """A member described by the writer (claims as a token carries them, as JSON): every
    query answers as they would see it, drafts included; their stored progress is read when
    they exist, and nothing is ever written (the admin key never acts as a member)."""
    try:
        claims = orjson.loads(described)
    except orjson.JSONDecodeError:
        raise AuthError(
            "X-Heed-Preview-Member must be JSON claims, e.g."
            ' {"org": "acme", "sub": "ann", "roles": ["billing"], "locale": "ru"}',
            "BAD_REQUEST",
        ) from None
    if not isinstance(claims, dict):
        raise AuthError("X-Heed-Preview-Member must be a JSON object of claims", "BAD_REQUEST")
    member = principal_from_claims(claims)
    found = await find_organization(member.organization_id)
    if found is None:
        return Actor.of_claims(member, NOBODY, None, NOBODY, via_admin_key=True)
    profile = await load_member_profile(found[0], member.member_id)
    member_pk = profile.row.pk if profile else NOBODY
    return Actor.of_claims(member, found[0], found[1], member_pk, via_admin_key=True)


async def _admin_actor(
    organization_id: str, member_id: str | None
) -> tuple[Actor | None, HeedError | None]:
    """The admin key acting for an organization, or reading as one of its members."""
    found = await find_organization(organization_id)
    if found is None:
        return None, not_found(
            f"no organization {organization_id[:128]!r}: it appears when its first member signs in"
        )
    organization_pk, name = found
    actor = Actor(organization_pk, organization_id, name)
    if not member_id:
        return actor, None
    profile = await load_member_profile(organization_pk, member_id[:128])
    if profile is None:
        return None, not_found(f"no member {member_id[:128]!r} in {organization_id[:128]!r}")
    member = profile.row
    return (
        Actor(
            organization_pk,
            organization_id,
            name,
            member_pk=member.pk,
            member_id=member.id,
            roles=frozenset(member.roles),
            attributes=profile.attributes,
            locale=member.locale,
            email=member.email,
            name=member.name,
            via_admin_key=True,
        ),
        None,
    )
