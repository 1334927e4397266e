"""Which URLs Heed may call: https in production, and never an internal address (SSRF).

A URL is checked when an endpoint is created or changed, and again before every delivery,
on the addresses the name resolves to then (DNS can change after the check); the request
then goes to the address that was checked, so a second lookup cannot swap in another one.
Operators who do want private targets say so (HEED_WEBHOOK_ALLOW_PRIVATE, ..._ALLOW_HTTP);
development allows loopback so a receiver on the same machine works.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from api.settings import Settings

MAX_URL_LENGTH = 2048
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(Exception):
    """The URL may not be called; the message says why and is safe to show."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the addresses to connect to for it, in the resolver's order."""

    url: str
    host: str
    addresses: tuple[str, ...]


def check_syntax(url: str, settings: Settings) -> SplitResult:
    if not url or len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"the URL must be 1 to {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise UrlRefused("the URL is not valid") from None
    allowed = ("https", "http") if _http_allowed(settings) else ("https",)
    if parts.scheme not in allowed:
        raise UrlRefused(f"the URL must start with {' or '.join(s + '://' for s in allowed)}")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    if parts.username or parts.password:
        raise UrlRefused("the URL must not carry credentials: use the signature to authenticate")
    if parts.fragment:
        raise UrlRefused("the URL must not have a #fragment")
    return parts


async def resolve(url: str, settings: Settings) -> Target:
    """The URL and the addresses it resolves to, if every one of them is allowed."""
    parts = check_syntax(url, settings)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _literal(host) or await _lookup(host, port)
    if not addresses:
        raise UrlRefused(f"the host {host!r} does not resolve")
    for address in addresses:
        problem = _refused(address, settings)
        if problem:
            raise UrlRefused(f"the host {host!r} resolves to {problem} address {address}")
    return Target(url, host, tuple(dict.fromkeys(str(address) for address in addresses)))


def _literal(host: str) -> list[Address]:
    """A host written as an address is that address: no lookup (the resolver would run one
    in a thread for each delivery)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        return []


async def _lookup(host: str, port: int) -> list[Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlRefused(f"the host {host!r} does not resolve") from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def _refused(address: Address, settings: Settings) -> str | None:
    """What is wrong with calling this address, or None."""
    if settings.webhooks.allow_private:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if not settings.is_production else "a loopback"
    if address.is_link_local:
        return "a link-local (cloud metadata)"
    if address.is_private:
        return "a private"
    if not address.is_global or address.is_multicast:
        return "a non-public"
    return None


def _http_allowed(settings: Settings) -> bool:
    return not settings.is_production or settings.webhooks.allow_http
