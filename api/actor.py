"""Who a use case acts for: an organization, and the member in it (or the admin key).

Built once per request from the authenticated caller (`api.context`), then passed
explicitly to every use case: the domain never reads a request or a GraphQL context.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api.auth import MemberPrincipal
from api.errors import forbidden
from api.progress.engine import Member as EngineMember
from api.progress.store import ADMIN_KEY_OWNER


@dataclass(frozen=True)
class Actor:
    """An organization and the member acting in it.

    The admin key acting for an organization has no member (`member_pk` None), or reads as
    one named member (`via_admin_key`): it may read what they read, never act as them.
    """

    organization_pk: int
    organization_id: str
    organization_name: str | None
    member_pk: int | None = None
    member_id: str = ""
    roles: frozenset[str] = frozenset()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    locale: str | None = None
    email: str | None = None
    name: str | None = None
    via_admin_key: bool = False

    @classmethod
    def of_claims(
        cls,
        claims: MemberPrincipal,
        organization_pk: int,
        organization_name: str | None,
        member_pk: int,
        *,
        via_admin_key: bool = False,
    ) -> Actor:
        """A member as their token's claims (or a writer's description) say."""
        return cls(
            organization_pk=organization_pk,
            organization_id=claims.organization_id,
            organization_name=claims.organization_name or organization_name,
            member_pk=member_pk,
            member_id=claims.member_id,
            roles=frozenset(claims.roles),
            attributes=claims.attributes,
            locale=claims.locale,
            email=claims.email,
            name=claims.name,
            via_admin_key=via_admin_key,
        )

    @functools.cached_property
    def engine(self) -> EngineMember:
        return EngineMember(id=self.member_id, roles=self.roles)

    @property
    def is_admin_key(self) -> bool:
        return self.via_admin_key or self.member_pk is None

    @property
    def key_owner(self) -> str:
        """Whose idempotency keys this actor's changes are kept under."""
        return ADMIN_KEY_OWNER if self.is_admin_key else self.member_id

    def acting_member(self) -> int:
        """The member making a change of their own; the admin key cannot act as one."""
        if self.is_admin_key or self.member_pk is None:
            raise forbidden(
                "this change is a member's own act: send it with the member's token, not the"
                " admin key"
            )
        return self.member_pk
