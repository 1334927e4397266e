"""Who the benchmark's organizations and members are, and the tokens they carry.

Seeding and token minting share these definitions, so a seeded member's `claims_hash` is the
one the server computes from their token: the server sees them as already stored.
"""

from __future__ import annotations

from typing import Any

from api.auth import mint_token, principal_from_claims
from api.settings import Settings

MEMBERS_PER_ORG = 10
ACTIVE_SLOTS = 5  # members 0-4 have personal progress; 5-9 have none yet (completeStep pool)
ROLES_BY_SLOT: tuple[tuple[str, ...], ...] = (
    ("admin",),
    ("billing",),
    ("it_admin",),
    ("legal",),
    ("office_manager",),
    (),
    ("billing",),
    (),
    ("it_admin", "office_manager"),
    (),
)
TOKEN_TTL_SECONDS = 6 * 3600


def org_external_id(org: int) -> str:
    return f"org-{org:05d}"


def org_name(org: int) -> str:
    return f"Organization {org:05d}"


def member_external_id(org: int, slot: int) -> str:
    return f"u{org:05d}-{slot}"


def claims(org: int, slot: int) -> dict[str, Any]:
    """The claims a bench token carries (besides iat/exp)."""
    return {
        "sub": member_external_id(org, slot),
        "org": org_external_id(org),
        "roles": list(ROLES_BY_SLOT[slot]),
        "org_name": org_name(org),
        "name": f"Member {slot} of {org_name(org)}",
        "email": f"user{slot}@org{org:05d}.test",
    }


def claims_hash(org: int, slot: int) -> str:
    """Exactly what `MemberPrincipal.claims_hash` gives for this member's token."""
    return principal_from_claims(claims(org, slot)).claims_hash


def token(secret: str, org: int, slot: int) -> str:
    c = claims(org, slot)
    return mint_token(
        Settings(jwt_secret=secret),
        organization_id=c["org"],
        member_id=c["sub"],
        roles=tuple(c["roles"]),
        organization_name=c["org_name"],
        name=c["name"],
        email=c["email"],
        ttl_seconds=TOKEN_TTL_SECONDS,
    )


def spread(orgs: int, count: int, slots: range, offset: int = 0) -> list[tuple[int, int]]:
    """`count` (org, slot) pairs spread evenly over `orgs` organizations and the given slots."""
    return [((j * orgs // count + offset) % orgs, slots[j % len(slots)]) for j in range(count)]
