"""Who is asking: the member, their organization and their roles."""

from __future__ import annotations

import strawberry

from resolvers import viewer as resolve


@strawberry.type(description="A person in an organization, identified by the host product's id.")
class Member:
    id: strawberry.ID
    name: str | None
    email: str | None
    locale: str | None
    roles: list[str]


@strawberry.type(description="A customer account, identified by the host product's id.")
class Organization:
    id: strawberry.ID
    name: str | None


@strawberry.type(description="The member making the request, as their token describes them.")
class Viewer:
    member: Member
    organization: Organization
    roles: list[str]
    locale: str = strawberry.field(description="The viewer's locale, or the default one.")


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="The member making the request.")
    def viewer(self, info: strawberry.Info) -> Viewer:
        return resolve.viewer(info.context)  # type: ignore[return-value]
