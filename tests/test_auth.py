"""Authentication through the real app: every way a token can be wrong gets a 401 saying why."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import jwt
import pytest
from starlette.applications import Starlette

from api.auth import AuthError, principal_from_claims, principal_from_token
from api.db.models import Member, Organization
from api.members import MemberRegistry
from api.settings import Settings
from tests.conftest import TEST_ADMIN_KEY, TEST_SECRET, SQLCounter, auth, graphql, unique

VIEWER = "{ viewer { member { id name email locale roles } organization { id name } roles } }"


async def post(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/graphql", json={"query": VIEWER}, headers=headers)


def signed(claims: dict[str, object], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def valid_claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {"sub": "ann", "org": "acme", "exp": int(time.time()) + 60}
    claims.update(overrides)
    return claims


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing Authorization header"),
        ({"Authorization": "Token abc"}, "expected 'Bearer <token>'"),
        ({"Authorization": "Bearer not-a-jwt"}, "invalid token"),
        ({"Authorization": "Bearer " + signed(valid_claims(), "another-secret-" * 3)}, "signature"),
        (
            {"Authorization": "Bearer " + signed(valid_claims(exp=int(time.time()) - 120))},
            "expired",
        ),
        ({"Authorization": "Bearer " + signed(valid_claims(), algorithm="HS512")}, "algorithm"),
        ({"Authorization": "Bearer " + signed({"sub": "ann", "org": "acme"})}, "'exp' claim"),
        ({"Authorization": "Bearer " + signed(valid_claims(org=None))}, "'org'"),
        ({"Authorization": "Bearer " + signed(valid_claims(sub=""))}, "'sub'"),
        ({"Authorization": "Bearer " + signed(valid_claims(roles="x" * 0 or 5))}, "'roles'"),
        ({"x-heed-admin-key": "wrong-key"}, "invalid admin key"),
    ],
)
async def test_bad_credentials_get_401_with_reason(
    client: httpx.AsyncClient, headers: dict[str, str], reason: str
) -> None:
    response = await post(client, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["errors"][0]
    assert reason in error["message"]
    assert error["extensions"]["code"] in ("UNAUTHENTICATED", "TOKEN_EXPIRED")


async def test_unsigned_token_is_refused(client: httpx.AsyncClient) -> None:
    forged = jwt.encode(valid_claims(), key="", algorithm="none")
    response = await post(client, {"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_viewer_comes_from_the_token(client: httpx.AsyncClient) -> None:
    org, member = unique("acme"), unique("ann")
    headers = auth(
        org,
        member,
        ("billing", "admin"),
        name="Ann Lee",
        email="ann@acme.test",
        locale="ru",
        organization_name="Acme",
    )
    body = await graphql(client, VIEWER, headers)
    assert body["data"]["viewer"] == {
        "member": {
            "id": member,
            "name": "Ann Lee",
            "email": "ann@acme.test",
            "locale": "ru",
            "roles": ["admin", "billing"],
        },
        "organization": {"id": org, "name": "Acme"},
        "roles": ["admin", "billing"],
    }


async def test_members_are_created_on_first_sight_and_follow_their_token(
    client: httpx.AsyncClient, app: Starlette, sql_counter: SQLCounter
) -> None:
    org, member = unique("acme"), unique("ann")
    await graphql(client, VIEWER, auth(org, member, ("billing",), name="Ann"))
    stored = await Member.get(external_id=member).prefetch_related("organization")
    assert stored.organization.external_id == org
    assert (stored.roles, stored.name) == (["billing"], "Ann")

    sql_counter.statements.clear()
    await graphql(client, "{ __typename }", auth(org, member, ("billing",), name="Ann"))
    assert sql_counter.statements == [], "authenticating a member already seen costs no SQL"

    registry = app.state.runtime.members
    # as on a worker that forgot
    app.state.runtime.members = MemberRegistry(app.state.runtime.progress_hub, trust_seconds=0)
    try:
        sql_counter.statements.clear()
        await graphql(client, "{ __typename }", auth(org, member, ("billing",), name="Ann"))
    finally:
        app.state.runtime.members = registry
    assert len(sql_counter.statements) == 1, "unchanged claims: one read, no write"
    assert sql_counter.statements[0].startswith("SELECT"), sql_counter.statements

    await graphql(client, VIEWER, auth(org, member, ("billing", "legal"), name="Ann Lee"))
    stored = await Member.get(external_id=member)
    assert (stored.roles, stored.name) == (["billing", "legal"], "Ann Lee")
    assert await Organization.filter(external_id=org).count() == 1
    assert await Member.filter(external_id=member).count() == 1


async def test_same_member_id_in_two_organizations_are_two_members(
    client: httpx.AsyncClient,
) -> None:
    member = unique("ann")
    first, second = unique("acme"), unique("globex")
    await graphql(client, VIEWER, auth(first, member))
    await graphql(client, VIEWER, auth(second, member))
    orgs = await Member.filter(external_id=member).values_list(
        "organization__external_id", flat=True
    )
    assert sorted(orgs) == sorted([first, second])


async def test_admin_key_authenticates_but_is_not_a_member(client: httpx.AsyncClient) -> None:
    response = await post(client, {"x-heed-admin-key": TEST_ADMIN_KEY})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_verified_token_is_remembered_until_exp_and_never_across_a_key_rotation(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.auth

    key = unique("rotation-test-secret-") * 2
    before = replace(settings, jwt_secret=key, jwt_public_key=None, jwt_leeway_seconds=0)
    rotated = replace(before, jwt_secret=key + "-rotated")
    now = time.time()
    token = signed(valid_claims(exp=int(now) + 30), key)
    decodes: list[str] = []
    decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append("decode") or decode(*a, **k))

    first = principal_from_token(token, before)
    assert principal_from_token(token, before) is first  # verified once
    assert decodes == ["decode"]
    with pytest.raises(AuthError, match="signature"):
        principal_from_token(token, rotated)  # the old key's entry is not found
    assert decodes == ["decode", "decode"]
    # Past `exp` the entry is not used: the token is verified again (PyJWT reads its own
    # clock, so here it still verifies; an expired token's refusal is tested above).
    monkeypatch.setattr(api.auth.time, "time", lambda: now + 31)
    principal_from_token(token, before)
    assert decodes == ["decode", "decode", "decode"]


def test_the_verified_token_cache_is_bounded() -> None:
    from api.auth import VerifiedTokens

    cache = VerifiedTokens(2)
    principal = principal_from_claims({"org": "acme", "sub": "ann"})
    for token in ("a", "b", "c"):
        cache.put(token, (), principal, time.time() + 60)
    assert cache.get("a", ()) is None
    assert cache.get("c", ()) is principal
