"""Rate limits: 429 with Retry-After per member, per organization, per client address, for
failed authentication and for invitations; X-Forwarded-For believed only from trusted
proxies; the same limits over WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette

from api.ratelimit import Bucket, RateLimiter, client_address, invitation_count
from api.settings import Settings
from tests.conftest import TEST_ADMIN_KEY, UNLIMITED, auth, running_app, unique
from tests.hostile.transports import over_websocket

VIEWER = {"query": "{ viewer { roles } }"}
REQUEST_HELP = """mutation($input: RequestHelpInput!) { requestHelp(input: $input) {
  userErrors { code } } }"""


def limited(settings: Settings, **limits: int) -> Settings:
    return replace(settings, rate_limits=replace(UNLIMITED, **limits))


@pytest.fixture
async def member_limited(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async with running_app(limited(settings, per_member=60)) as pair:
        yield pair


def test_a_bucket_allows_its_burst_then_says_when_to_retry() -> None:
    bucket = Bucket(per_minute=60, burst=3)
    assert [bucket.take("k", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("k", 100.0) == pytest.approx(1.0)
    assert bucket.take("other", 100.0) == 0.0
    assert bucket.take("k", 101.0) == 0.0  # one second later, one more
    assert bucket.take("k", 101.0) > 0


def test_workers_share_a_limit_instead_of_multiplying_it() -> None:
    one = RateLimiter(replace(UNLIMITED, per_member=600, workers=1)).member
    four = RateLimiter(replace(UNLIMITED, per_member=600, workers=4)).member
    assert four.interval == pytest.approx(one.interval * 4)


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    proxies = ("10.0.0.0/8",)
    assert client_address("10.1.2.3", "203.0.113.5", proxies) == "203.0.113.5"
    # The client wrote the left-most entries; the proxies appended the right-most.
    assert client_address("10.1.2.3", "1.1.1.1, 203.0.113.5, 10.9.9.9", proxies) == "203.0.113.5"
    assert client_address("198.51.100.7", "203.0.113.5", proxies) == "198.51.100.7"
    assert client_address("10.1.2.3", None, proxies) == "10.1.2.3"
    assert client_address("10.1.2.3", "garbage", ()) == "10.1.2.3"


def test_invitations_are_counted_per_field_and_alias() -> None:
    query = "mutation { a: requestHelp(input: $i) { id } b: requestHelp(input: $i) { id } }"
    assert invitation_count(query, None) == 2
    fragment = "mutation { ...F } fragment F on Mutation { requestHelp(input: $i) { id } }"
    assert invitation_count(fragment, None) == 1
    assert invitation_count("{ viewer { roles } }", None) == 0
    two_operations = "mutation A { requestHelp(input: $i) { id } } mutation B { track { id } }"
    assert invitation_count(two_operations, "B") == 0


async def test_a_member_over_their_limit_gets_429_with_retry_after(
    member_limited: tuple[Starlette, httpx.AsyncClient],
) -> None:
    _, client = member_limited
    org = unique("busy")
    ann, bob = auth(org, "ann"), auth(org, "bob")
    statuses = [(await client.post("/graphql", json=VIEWER, headers=ann)).status_code]
    while statuses[-1] == 200 and len(statuses) < 100:
        statuses.append((await client.post("/graphql", json=VIEWER, headers=ann)).status_code)
    refused = await client.post("/graphql", json=VIEWER, headers=ann)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert 10 <= statuses.count(200) <= 30  # the burst, about ten seconds' worth
    # Another member of the same organization is not held back by Ann.
    assert (await client.post("/graphql", json=VIEWER, headers=bob)).status_code == 200


async def test_an_organization_has_its_own_limit(settings: Settings) -> None:
    async with running_app(limited(settings, per_organization=60)) as (_, client):
        org = unique("crowd")
        statuses = [
            (await client.post("/graphql", json=VIEWER, headers=auth(org, f"m{n}"))).status_code
            for n in range(80)
        ]
        elsewhere = await client.post("/graphql", json=VIEWER, headers=auth(unique("x"), "m"))
    assert statuses.count(429) > 0
    assert statuses.index(429) >= 40
    assert elsewhere.status_code == 200


async def test_an_address_has_its_own_limit(settings: Settings) -> None:
    async with running_app(limited(settings, per_address=60)) as (_, client):
        admin = {"X-Heed-Admin-Key": TEST_ADMIN_KEY}
        statuses = [
            (
                await client.post(
                    "/graphql", json={"query": "{ release { number } }"}, headers=admin
                )
            ).status_code
            for _ in range(40)
        ]
    assert statuses[0] == 200
    assert statuses[-1] == 429


async def test_failed_authentication_is_limited_harder(settings: Settings) -> None:
    proxied = replace(limited(settings, failed_auth_per_address=30), trusted_proxies=("127.0.0.1",))
    async with running_app(proxied) as (_, client):
        attacker = {"X-Forwarded-For": "203.0.113.5"}
        wrong = [
            (
                await client.post(
                    "/graphql", json=VIEWER, headers={**attacker, "X-Heed-Admin-Key": "w" * 30}
                )
            ).status_code
            for _ in range(8)
        ]
        right = {"X-Heed-Admin-Key": TEST_ADMIN_KEY, "Content-Type": "application/json"}
        blocked = await client.post(
            "/graphql", json={"query": "{ release { number } }"}, headers={**attacker, **right}
        )
        other_client = await client.post(
            "/graphql",
            json={"query": "{ release { number } }"},
            headers={"X-Forwarded-For": "203.0.113.6", **right},
        )
    assert wrong[:5] == [401] * 5
    assert wrong[-1] == 429
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert other_client.status_code == 200


async def test_forwarded_for_from_an_untrusted_peer_does_not_escape_limits(
    settings: Settings,
) -> None:
    async with running_app(limited(settings, failed_auth_per_address=30)) as (_, client):
        statuses = [
            (
                await client.post(
                    "/graphql",
                    json=VIEWER,
                    headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Heed-Admin-Key": "w" * 30},
                )
            ).status_code
            for n in range(8)
        ]
    assert statuses[-1] == 429


async def test_invitations_are_limited_per_member(settings: Settings) -> None:
    async with running_app(limited(settings, invitations_per_member_hour=30)) as (_, client):
        ann = auth(unique("inv"), "ann", ("admin",))
        statuses = []
        for number in range(7):
            response = await client.post(
                "/graphql",
                json={
                    "query": REQUEST_HELP,
                    "variables": {
                        "input": {
                            "flowId": "reception-setup",
                            "stepId": "add-nda",
                            "email": f"new{number}@inv.test",
                        }
                    },
                },
                headers=ann,
            )
            statuses.append(response.status_code)
        aliased = (
            "mutation { "
            + " ".join(
                f'r{n}: requestHelp(input: {{flowId: "reception-setup", stepId: "add-nda", '
                f'email: "alias{n}@inv.test"}}) {{ userErrors {{ code }} }}'
                for n in range(6)
            )
            + " }"
        )
        at_once = await client.post(
            "/graphql", json={"query": aliased}, headers=auth(unique("inv"), "bob", ("admin",))
        )
        other_queries = await client.post("/graphql", json=VIEWER, headers=ann)
    assert statuses[:5] == [200] * 5
    assert statuses[-1] == 429
    assert at_once.status_code == 429
    assert other_queries.status_code == 200  # only invitations are held back


async def test_websocket_operations_count_against_the_same_limits(
    member_limited: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = member_limited
    ann = auth(unique("wsbusy"), "ann")
    for _ in range(40):
        await client.post("/graphql", json=VIEWER, headers=ann)
    outcome = await over_websocket(app, "{ viewer { roles } }", None, ann)
    assert outcome.codes == ["RATE_LIMITED"], outcome
    assert outcome.errors[0]["extensions"]["retryAfter"] >= 1
