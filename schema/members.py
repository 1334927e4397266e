"""A member: the type every domain refers to (who did a step, who can, who asked)."""

from __future__ import annotations

import strawberry


@strawberry.type(description="A person in an organization, identified by the host product's id.")
class Member:
    id: strawberry.ID
    name: str | None
    email: str | None
    locale: str | None
    roles: list[str]
