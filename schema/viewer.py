"""Who is asking: the member, their organization, roles and the help asked of them."""

from __future__ import annotations

import strawberry

from resolvers import engagement as engagement_resolvers
from resolvers import team as team_resolvers
from resolvers import viewer as resolve
from schema.engagement import Badge
from schema.members import Member
from schema.permissions import ReadsAsMember
from schema.team import HelpRequest, Organization


@strawberry.type(description="The member making the request, as their token describes them.")
class Viewer:
    member: Member
    organization: Organization
    roles: list[str]
    locale: str = strawberry.field(description="The viewer's locale, or the default one.")

    @strawberry.field(description="Open requests from colleagues to do a step.")
    async def help_requests(self, info: strawberry.Info) -> list[HelpRequest]:
        return await team_resolvers.help_requests(info, "to_viewer")

    @strawberry.field(description="Requests the viewer sent, newest first, with their outcome.")
    async def sent_help_requests(self, info: strawberry.Info) -> list[HelpRequest]:
        return await team_resolvers.help_requests(info, "sent")

    @strawberry.field(description="Badges the viewer earned, oldest first (read when asked).")
    async def badges(self, info: strawberry.Info) -> list[Badge]:
        return await engagement_resolvers.badges(info)


@strawberry.type
class ViewerQuery:
    @strawberry.field(
        description="The member making the request.", permission_classes=[ReadsAsMember]
    )
    def viewer(self, info: strawberry.Info) -> Viewer:
        return resolve.viewer(info)
