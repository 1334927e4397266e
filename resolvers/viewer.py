"""The viewer comes from verified token claims: resolving it touches no database."""

from __future__ import annotations

from dataclasses import dataclass

from api.context import Context


@dataclass(frozen=True)
class MemberView:
    id: str
    name: str | None
    email: str | None
    locale: str | None
    roles: list[str]


@dataclass(frozen=True)
class OrganizationView:
    id: str
    name: str | None


@dataclass(frozen=True)
class ViewerView:
    member: MemberView
    organization: OrganizationView
    roles: list[str]
    locale: str


def viewer(context: Context) -> ViewerView:
    principal = context.member
    assert context.member_ref is not None
    return ViewerView(
        member=MemberView(
            id=principal.member_id,
            name=principal.name,
            email=principal.email,
            locale=principal.locale,
            roles=list(principal.roles),
        ),
        organization=OrganizationView(
            id=principal.organization_id,
            name=principal.organization_name or context.member_ref.organization_name,
        ),
        roles=list(principal.roles),
        locale=principal.locale or context.settings.default_locale,
    )
