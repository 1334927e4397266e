"""Who may read which state fields, declared once per field (strawberry permission classes).

Each raises Heed's own error, so the refusal says why (and with which code).
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.permission import BasePermission

from api.auth import AdminPrincipal
from api.errors import forbidden
from api.progress.team import require_driver


class ActsForOrganization(BasePermission):
    """A member, or the admin key acting for one organization (X-Heed-Organization)."""

    message = "this field needs a member's token, or the admin key with X-Heed-Organization"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return info.context.actor is not None  # raises FORBIDDEN or NOT_FOUND otherwise


class ReadsAsMember(BasePermission):
    """State seen through one member's eyes: a member, or the admin key reading as one
    (X-Heed-Organization and X-Heed-Member)."""

    message = "this field shows one member's view"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        if info.context.actor.member_pk is None:
            raise forbidden(
                "this field shows one member's view: with the admin key, name the member with"
                " X-Heed-Member: <member id>"
            )
        return True


class DrivesOrganization(BasePermission):
    """The onboarding owner, an admin, or the admin key acting for the organization."""

    message = "only the onboarding owner or an admin reads this"

    async def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        await require_driver(info.context.actor, info.context.reads, "reads this")
        return True


class HoldsAdminKey(BasePermission):
    """The admin key (with or without X-Heed-Organization): reads across organizations."""

    message = "this field needs the admin key"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        if not isinstance(info.context.principal, AdminPrincipal):
            raise forbidden("insights across organizations need the admin key")
        return True
