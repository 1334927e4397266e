"""How Heed's one error type reaches clients.

A use case raises `HeedError`; in a mutation, `mutate` turns it into the payload's
`userErrors` (the data a client acts on); in a query it surfaces as a top-level error whose
`extensions.code` is the same code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from api.errors import ErrorCode as DomainErrorCode
from api.errors import HeedError, HeedErrors
from schema.members import Member

ErrorCode = strawberry.enum(
    DomainErrorCode, name="ErrorCode", description="Why a mutation did not do what was asked."
)


@strawberry.type(description="Why a mutation did not do what was asked, as data to act on.")
class UserError:
    code: ErrorCode  # type: ignore[valid-type]
    message: str
    field: list[str] | None
    roles: list[str] = strawberry.field(description="ROLE_REQUIRED: the roles that can.")
    candidates: list[Member] = strawberry.field(
        description="ROLE_REQUIRED: the members who hold them, to invite."
    )


async def user_error(info: strawberry.Info, error: HeedError) -> UserError:
    candidates: list[Member] = []
    if error.candidates:
        by_id = {member.id: member for member in await info.context.reads.members()}
        candidates = [Member.from_row(by_id[c]) for c in error.candidates if c in by_id]
    return UserError(
        code=error.code,
        message=error.message,
        field=list(error.field),
        roles=list(error.roles),
        candidates=candidates,
    )


T = TypeVar("T")
P = TypeVar("P")


async def mutate(
    info: strawberry.Info,
    payload: Callable[..., P],
    change: Callable[[], Awaitable[T]],
    answer: Callable[[T], P],
) -> P:
    """Run one use case for a mutation: its result as the payload, or its error (also one
    raised while naming the actor) as the payload's `userErrors`. Fields read after it see
    what it wrote."""
    try:
        result = await change()
    except HeedError as error:
        errors = error.errors if isinstance(error, HeedErrors) else (error,)
        return payload(user_errors=[await user_error(info, e) for e in errors])
    info.context.read_again()
    return answer(result)
