"""The one typed request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from starlette.requests import HTTPConnection

from api.auth import MemberPrincipal, Principal
from api.content.store import LiveRelease
from api.loaders import Loaders
from api.members import MemberRef
from api.progress.live import ProgressHub
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
    principal: Principal | None
    member_ref: MemberRef | None
    release: LiveRelease | None
    progress_hub: ProgressHub
    connection_params: dict[str, Any] | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = self.fresh_loaders()

    def fresh_loaders(self) -> Loaders:
        """New loaders, for reading again after this request's own write."""
        member = self.member_or_none
        return Loaders(
            self.member_ref,  # type: ignore[arg-type]
            member.member_id if member else "",
            member.email if member else None,
        )

    @property
    def member(self) -> MemberPrincipal:
        if not isinstance(self.principal, MemberPrincipal) or self.member_ref is None:
            raise NotAMember
        return self.principal

    @property
    def member_or_none(self) -> MemberPrincipal | None:
        return self.principal if isinstance(self.principal, MemberPrincipal) else None
