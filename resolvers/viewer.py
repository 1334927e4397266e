"""The viewer comes from the actor the request signed in as: resolving it touches no database."""

from __future__ import annotations

import strawberry

from schema import viewer as types
from schema.members import Member
from schema.team import Organization


def viewer(info: strawberry.Info) -> types.Viewer:
    context = info.context
    actor = context.actor
    return types.Viewer(
        member=Member(
            id=strawberry.ID(actor.member_id),
            name=actor.name,
            email=actor.email,
            locale=actor.locale,
            roles=sorted(actor.roles),
        ),
        organization=Organization(
            id=strawberry.ID(actor.organization_id), name=actor.organization_name
        ),
        roles=sorted(actor.roles),
        locale=context.locale(),
    )
