"""The one typed request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError
from starlette.requests import HTTPConnection

from api.auth import AdminPrincipal, MemberPrincipal, Principal
from api.content.store import LiveRelease
from api.members import MemberRef
from api.settings import Settings


class NotAMember(GraphQLError):
    """A member-only field was asked with the admin key: a client mistake, not a server fault."""

    def __init__(self) -> None:
        super().__init__(
            "this field needs a member's token, not the admin key",
            extensions={"code": "FORBIDDEN"},
        )


@dataclass
class Context:
    request: HTTPConnection
    request_id: str
    settings: Settings
    principal: Principal
    member_ref: MemberRef | None
    release: LiveRelease | None

    @property
    def member(self) -> MemberPrincipal:
        if not isinstance(self.principal, MemberPrincipal) or self.member_ref is None:
            raise NotAMember
        return self.principal

    @property
    def member_or_none(self) -> MemberPrincipal | None:
        return self.principal if isinstance(self.principal, MemberPrincipal) else None

    @property
    def is_admin(self) -> bool:
        return isinstance(self.principal, AdminPrincipal)
