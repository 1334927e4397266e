"""Who is calling: a member (JWT from the host product's backend) or an admin (API key).

The token is the source of truth for a member's roles and attributes, so authentication needs
no database: the principal is built from verified claims alone.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jwt
import orjson

from api.limits import MAX_ID_LENGTH, InputRejected, check_json, text_problem
from api.settings import Settings

ADMIN_KEY_HEADER = "x-heed-admin-key"
ADMIN_ORG_HEADER = "x-heed-organization"
MAX_ROLES = 64
MAX_ROLE_LENGTH = 64
MAX_ATTRIBUTES_BYTES = 4096
MAX_ATTRIBUTES_DEPTH = 8
MAX_TOKEN_BYTES = 16 * 1024
DEV_TOKEN_TTL_SECONDS = 30 * 24 * 3600
VERIFIED_TOKENS = 4096  # tokens remembered per worker once verified


class AuthError(Exception):
    """Authentication failed; `reason` is safe to show to the caller."""

    def __init__(self, reason: str, code: str = "UNAUTHENTICATED") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class MemberPrincipal:
    """A member of an organization, exactly as the host product's token describes them."""

    organization_id: str
    member_id: str
    roles: tuple[str, ...] = ()
    organization_name: str | None = None
    name: str | None = None
    email: str | None = None
    locale: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def claims_hash(self) -> str:
        """Changes whenever anything Heed stores about the member changes (computed once
        per request: the member registry and the answer cache both key on it)."""
        body = orjson.dumps(
            [
                self.roles,
                self.organization_name,
                self.name,
                self.email,
                self.locale,
                dict(self.attributes),
            ],
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class AdminPrincipal:
    """A server or operator holding the admin key, optionally acting for one organization."""

    organization_id: str | None = None


Principal = MemberPrincipal | AdminPrincipal


def authenticate(headers: Mapping[str, str], settings: Settings) -> Principal:
    """Resolve the caller from request headers, or raise AuthError saying why not."""
    admin_key = headers.get(ADMIN_KEY_HEADER)
    if admin_key is not None:
        if not settings.admin_key:
            raise AuthError("admin key authentication is not configured (HEED_ADMIN_KEY)")
        if not hmac.compare_digest(
            admin_key.encode("utf-8", "replace"), settings.admin_key.encode()
        ):
            raise AuthError("invalid admin key")
        org = headers.get(ADMIN_ORG_HEADER) or None
        return AdminPrincipal(organization_id=_checked_id(org, ADMIN_ORG_HEADER) if org else None)
    authorization = headers.get("authorization")
    if not authorization:
        raise AuthError("missing Authorization header: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("malformed Authorization header: expected 'Bearer <token>'")
    return principal_from_token(token.strip(), settings)


class VerifiedTokens:
    """Tokens that verified, with their principal: a member's signature is checked once, not
    on every request (about 45 µs each). An entry serves only until the token's `exp` (plus
    the configured leeway), and only under the key and checks it verified with, which are
    part of its key: a rotated key or a changed audience never finds it. Least recently used
    entries go first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[
            tuple[str, tuple[str | None, ...]], tuple[MemberPrincipal, float]
        ]
        self._entries = OrderedDict()

    def get(self, token: str, checks: tuple[str | None, ...]) -> MemberPrincipal | None:
        key = (token, checks)
        found = self._entries.get(key)
        if found is None:
            return None
        principal, until = found
        if time.time() >= until:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return principal

    def put(
        self, token: str, checks: tuple[str | None, ...], principal: MemberPrincipal, until: float
    ) -> None:
        self._entries[(token, checks)] = (principal, until)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


VERIFIED = VerifiedTokens(VERIFIED_TOKENS)


def principal_from_token(token: str, settings: Settings) -> MemberPrincipal:
    key = settings.jwt_verification_key
    if not key:
        raise AuthError("token authentication is not configured (HEED_JWT_SECRET)")
    if len(token) > MAX_TOKEN_BYTES:
        raise AuthError(f"token longer than {MAX_TOKEN_BYTES} bytes")
    checks = (key, settings.jwt_algorithm, settings.jwt_audience, settings.jwt_issuer)
    cached = VERIFIED.get(token, checks)
    if cached is not None:
        return cached
    claims = _verified_claims(token, key, settings)
    principal = principal_from_claims(claims)
    VERIFIED.put(token, checks, principal, float(claims["exp"]) + settings.jwt_leeway_seconds)
    return principal


def _verified_claims(token: str, key: str, settings: Settings) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            # Audience is always checked: with none configured, a token meant for another
            # service (it carries `aud`) is refused rather than accepted.
            options={"require": ["exp", "sub"], "verify_aud": True},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired", "TOKEN_EXPIRED") from None
    except jwt.InvalidAlgorithmError:
        raise AuthError(f"token algorithm not allowed: expected {settings.jwt_algorithm}") from None
    except jwt.InvalidSignatureError:
        raise AuthError("token signature does not verify") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token is missing the '{exc.claim}' claim") from None
    except jwt.InvalidAudienceError:
        raise AuthError("token audience does not match") from None
    except jwt.InvalidIssuerError:
        raise AuthError("token issuer does not match") from None
    except jwt.ImmatureSignatureError:
        raise AuthError("token is not valid yet (nbf or iat in the future)") from None
    except jwt.InvalidIssuedAtError:
        raise AuthError("token claim 'iat' must be a number") from None
    except jwt.DecodeError:
        # PyJWT's text here quotes codec internals; say what matters to the caller.
        raise AuthError("invalid token: not a well-formed JWT (header.payload.signature)") from None
    except Exception:
        # Any other refusal (bad claim types, a payload the JSON decoder gives up on): the
        # token is not acceptable, and that is all the caller needs to hear.
        raise AuthError("invalid token") from None
    return claims


def principal_from_claims(claims: Mapping[str, Any]) -> MemberPrincipal:
    roles = claims.get("roles", [])
    if isinstance(roles, str):
        roles = [part for part in roles.replace(",", " ").split() if part]
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise AuthError("token claim 'roles' must be a list of strings")
    if len(roles) > MAX_ROLES or any(
        not 0 < len(role) <= MAX_ROLE_LENGTH or text_problem(role) for role in roles
    ):
        raise AuthError(
            f"token claim 'roles' must hold at most {MAX_ROLES} names "
            f"of 1 to {MAX_ROLE_LENGTH} characters"
        )
    attributes = claims.get("attrs", {})
    if not isinstance(attributes, dict):
        raise AuthError("token claim 'attrs' must be an object")
    try:
        check_json(attributes, "token claim 'attrs'", MAX_ATTRIBUTES_DEPTH)
    except InputRejected as exc:
        raise AuthError(str(exc)) from None
    if len(orjson.dumps(attributes)) > MAX_ATTRIBUTES_BYTES:
        raise AuthError(f"token claim 'attrs' is larger than {MAX_ATTRIBUTES_BYTES} bytes")
    return MemberPrincipal(
        organization_id=_checked_id(claims.get("org"), "org"),
        member_id=_checked_id(claims.get("sub"), "sub"),
        roles=tuple(sorted(set(roles))),
        organization_name=_optional_text(claims, "org_name", 200),
        name=_optional_text(claims, "name", 200),
        email=_optional_text(claims, "email", 320),
        locale=_optional_text(claims, "locale", 35),
        attributes=attributes,
    )


def _checked_id(value: object, claim: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AuthError(f"token claim '{claim}' must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise AuthError(f"token claim '{claim}' is longer than {MAX_ID_LENGTH} characters")
    problem = text_problem(value)
    if problem is not None:
        raise AuthError(f"token claim '{claim}' {problem}")
    return value


def _optional_text(claims: Mapping[str, Any], claim: str, limit: int) -> str | None:
    value = claims.get(claim)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise AuthError(f"token claim '{claim}' must be a string of at most {limit} characters")
    problem = text_problem(value)
    if problem is not None:
        raise AuthError(f"token claim '{claim}' {problem}")
    return value


def mint_token(
    settings: Settings,
    *,
    organization_id: str,
    member_id: str,
    roles: tuple[str, ...] = (),
    organization_name: str | None = None,
    name: str | None = None,
    email: str | None = None,
    locale: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    ttl_seconds: int = DEV_TOKEN_TTL_SECONDS,
) -> str:
    """A token as the host product's backend would sign it (HS* secrets only)."""
    if not settings.jwt_secret or not settings.jwt_algorithm.startswith("HS"):
        raise AuthError("minting tokens needs HEED_JWT_SECRET with an HS* algorithm")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": member_id,
        "org": organization_id,
        "roles": list(roles),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    optional = {
        "org_name": organization_name,
        "name": name,
        "email": email,
        "locale": locale,
        "attrs": attributes,
    }
    claims.update({key: value for key, value in optional.items() if value})
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)


def with_development_secret(settings: Settings) -> Settings:
    """In development without a configured key, use a local secret kept in the data folder.

    Kept on disk so that tokens printed by `heed serve` and `heed token` stay valid across
    restarts; never used in production, where a missing key is a configuration error.
    """
    if settings.is_production or settings.jwt_verification_key:
        return settings
    path = Path(settings.data_dir) / "dev-jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return replace(settings, jwt_secret=path.read_text().strip())
