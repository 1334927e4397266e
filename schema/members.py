"""A member: the type every domain refers to (who did a step, who can, who asked)."""

from __future__ import annotations

import strawberry

from api.progress.store import MemberRow


@strawberry.type(description="A person in an organization, identified by the host product's id.")
class Member:
    id: strawberry.ID
    name: str | None
    email: str | None
    locale: str | None
    roles: list[str]

    @classmethod
    def from_row(cls, row: MemberRow) -> Member:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            email=row.email,
            locale=row.locale,
            roles=list(row.roles),
        )

    @classmethod
    def maybe(cls, row: MemberRow | None) -> Member | None:
        return cls.from_row(row) if row is not None else None
