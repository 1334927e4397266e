"""Heed's one error vocabulary: a code enum and the one exception the domain raises.

Use cases raise `HeedError`; the GraphQL layer turns it into `userErrors` in a mutation's
payload, or into a top-level error (its `code` in `extensions`) when a query cannot answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Why something was not done. The GraphQL `ErrorCode` enum is this enum."""

    NOT_FOUND = "NOT_FOUND"
    STEP_LOCKED = "STEP_LOCKED"
    ROLE_REQUIRED = "ROLE_REQUIRED"
    NOT_SKIPPABLE = "NOT_SKIPPABLE"
    NOT_DONE = "NOT_DONE"
    ALREADY_DONE = "ALREADY_DONE"
    ALREADY_SKIPPED = "ALREADY_SKIPPED"
    FORBIDDEN = "FORBIDDEN"
    INVALID_INPUT = "INVALID_INPUT"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NO_RELEASE = "NO_RELEASE"
    ALREADY_ANSWERED = "ALREADY_ANSWERED"
    UNKNOWN_SURFACE = "UNKNOWN_SURFACE"


# Codes that mean "nothing needed doing": a mutation answers them as a success.
SUCCESS_CODES = frozenset({ErrorCode.ALREADY_DONE, ErrorCode.ALREADY_SKIPPED})


class HeedError(Exception):
    """An expected failure, with a machine-readable code and a message safe to show.

    `field` is the input path it concerns; for ROLE_REQUIRED, `roles` are the roles that can
    and `candidates` the ids of the members who hold one.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        field: Sequence[str] = (),
        *,
        roles: Sequence[str] = (),
        candidates: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = tuple(field)
        self.roles = tuple(roles)
        self.candidates = tuple(candidates)

    @property
    def extensions(self) -> dict[str, Any]:
        """Read by graphql-core when the error surfaces as a top-level GraphQL error."""
        return {"code": self.code.value}

    def as_record(self) -> dict[str, Any]:
        """Plain data, so an idempotent retry can raise the same error again."""
        return {
            "code": self.code.value,
            "message": self.message,
            "field": list(self.field),
            "roles": list(self.roles),
            "candidates": list(self.candidates),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> HeedError:
        return cls(
            ErrorCode(record["code"]),
            record["message"],
            record.get("field", ()),
            roles=record.get("roles", ()),
            candidates=record.get("candidates", ()),
        )


class HeedErrors(HeedError):
    """Several expected failures found at once (every wrong answer of a survey), each its
    own `userError`; reads as the first."""

    def __init__(self, errors: Sequence[HeedError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self.errors = tuple(errors)


def invalid(message: str, *field: str) -> HeedError:
    return HeedError(ErrorCode.INVALID_INPUT, message, field)


def not_found(message: str, *field: str) -> HeedError:
    return HeedError(ErrorCode.NOT_FOUND, message, field)


def forbidden(message: str, *field: str) -> HeedError:
    return HeedError(ErrorCode.FORBIDDEN, message, field)
