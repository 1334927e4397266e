"""Rate limits: per client address, per member, per organization, and stricter ones for failed
authentication and for invitations (`requestHelp`), answered with `429` and `Retry-After`.

Counters live in each worker's memory (GCRA: one timestamp per key, no SQL on the request
path). Each worker enforces its share of a limit, `limit / HEED_WORKERS`: a load balancer
spreads a client's requests over the workers, so the sum over the workers stays close to the
configured limit instead of multiplying it. `heed serve --workers N` sets HEED_WORKERS.
This is an approximation (a client pinned to one worker gets its share only); the README says
so.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections.abc import Iterable

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)

from api.auth import AdminPrincipal, MemberPrincipal, Principal
from api.settings import RateLimits

INVITATION_FIELDS = frozenset({"requestHelp"})
MAX_KEYS = 100_000  # past this, keys whose budget has refilled are forgotten


class RateLimited(Exception):
    """Over a limit; `retry_after` is whole seconds until one more request is allowed."""

    def __init__(self, what: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"too many {what}: retry in {self.retry_after} s")
        self.message = str(self)


class Bucket:
    """Generic cell rate algorithm: `per_minute` on average, `burst` at once."""

    def __init__(self, per_minute: float, burst: float) -> None:
        self.interval = 60.0 / per_minute
        self.burst = burst
        self._due: dict[str, float] = {}

    def wait(self, key: str, now: float, cost: int = 1) -> float:
        """Seconds until `cost` more would be allowed (0: allowed now); changes nothing."""
        due = max(self._due.get(key, now), now) + self.interval * cost
        return max(0.0, due - self.burst * self.interval - now)

    def take(self, key: str, now: float, cost: int = 1) -> float:
        """Count `cost` requests if allowed; else the seconds to wait (and count nothing)."""
        wait = self.wait(key, now, cost)
        if wait == 0.0:
            self.count(key, now, cost)
        return wait

    def count(self, key: str, now: float, cost: int = 1) -> None:
        """Count `cost` requests, allowed or not (the caller has checked)."""
        self._due[key] = max(self._due.get(key, now), now) + self.interval * cost
        if len(self._due) > MAX_KEYS:
            self._forget(now)

    def _forget(self, now: float) -> None:
        self._due = {key: due for key, due in self._due.items() if due > now}


def _bucket(per_minute: float, workers: int, burst_seconds: float, minimum_burst: float) -> Bucket:
    share = per_minute / workers
    return Bucket(share, max(minimum_burst, share * burst_seconds / 60))


class RateLimiter:
    def __init__(self, limits: RateLimits) -> None:
        workers = limits.workers
        self.address = _bucket(limits.per_address, workers, 10, 20)
        self.member = _bucket(limits.per_member, workers, 10, 20)
        self.organization = _bucket(limits.per_organization, workers, 10, 50)
        self.failed_auth = _bucket(limits.failed_auth_per_address, workers, 10, 5)
        self.member_invitations = _bucket(limits.invitations_per_member_hour / 60, workers, 0, 5)
        self.organization_invitations = _bucket(
            limits.invitations_per_organization_hour / 60, workers, 0, 20
        )

    def before_authentication(self, address: str) -> None:
        """Every request counts for its address; an address that keeps failing to
        authenticate is refused before its credentials are even checked."""
        now = time.monotonic()
        wait = self.failed_auth.wait(address, now)
        if wait:
            raise RateLimited("failed authentication attempts", wait)
        wait = self.address.take(address, now)
        if wait:
            raise RateLimited("requests from this address", wait)

    def failed_authentication(self, address: str) -> None:
        self.failed_auth.take(address, time.monotonic())

    def after_authentication(
        self, principal: Principal, query: object, operation_name: object
    ) -> None:
        if isinstance(principal, AdminPrincipal) or not isinstance(principal, MemberPrincipal):
            return  # the admin key is a server's: its address limit is enough
        now = time.monotonic()
        member = f"{principal.organization_id}\x1f{principal.member_id}"
        organization = principal.organization_id
        invitations = (
            invitation_count(query, operation_name if isinstance(operation_name, str) else None)
            if isinstance(query, str) and "requestHelp" in query
            else 0
        )
        if invitations:
            self._take_all(
                [
                    (self.member_invitations, member, "invitations from this member"),
                    (
                        self.organization_invitations,
                        organization,
                        "invitations from this organization",
                    ),
                ],
                now,
                invitations,
            )
        self._take_all(
            [
                (self.member, member, "requests from this member"),
                (self.organization, organization, "requests from this organization"),
            ],
            now,
            1,
        )

    @staticmethod
    def _take_all(checks: Iterable[tuple[Bucket, str, str]], now: float, cost: int) -> None:
        """All or nothing: a refused request uses none of its budgets."""
        checks = list(checks)
        for bucket, key, what in checks:
            wait = bucket.wait(key, now, cost)
            if wait:
                raise RateLimited(what, wait)
        for bucket, key, _ in checks:
            bucket.count(key, now, cost)


@functools.lru_cache(maxsize=256)
def invitation_count(query: str, operation_name: str | None) -> int:
    """How many invitation fields (aliases included) the mutation that runs selects at its
    root; 0 for documents that do not parse (execution reports those)."""
    try:
        document = parse(query, no_location=True, max_tokens=10_000)
    except GraphQLError:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and d.operation is OperationType.MUTATION
        and (operation_name is None or (d.name is not None and d.name.value == operation_name))
    ]
    return sum(_count(op.selection_set, fragments, set()) for op in operations)


def _count(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> int:
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += selection.name.value in INVITATION_FIELDS
        elif isinstance(selection, InlineFragmentNode):
            total += _count(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                total += _count(fragment.selection_set, fragments, seen | {fragment.name.value})
    return total


def client_address(peer: str | None, forwarded_for: str | None, trusted: Iterable[str]) -> str:
    """The address a request comes from: the peer, unless the peer is a trusted proxy, then
    the right-most address of X-Forwarded-For that is not itself a trusted proxy (addresses
    to its left are whatever the client wrote)."""
    networks = _networks(tuple(trusted))
    if not peer or not forwarded_for or not _within(peer, networks):
        return peer or "unknown"
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, networks):
            return hop[:64]
    return hops[0][:64] if hops else peer


@functools.lru_cache(maxsize=8)
def _networks(
    trusted: tuple[str, ...],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(proxy, strict=False) for proxy in trusted]


def _within(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
