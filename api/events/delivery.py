"""One attempt to send one message, and when to try again.

Retries: on a network error, a timeout, 408, 409, 425, 429 and any 5xx, after
`retry_base_seconds * 2^(n-1)` (capped at `retry_max_seconds`), drawn at random between half
and all of it (jitter, so failed receivers are not hit by every retry at once), or after the
receiver's `Retry-After` when that is later. Other answers (2xx: delivered; 3xx and other
4xx: refused, redirects are not followed) are final. After `max_attempts` the message is
given up and the next one of its line goes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
import ssl
import time

import aiohttp
from yarl import URL

from api.events.catalogue import is_known, webhook_body
from api.events.signing import signature_header
from api.events.store import RESPONSE_BYTES, Attempt, Claimed
from api.events.urls import Target, UrlRefused, resolve
from api.settings import Settings

RETRIED_STATUSES = frozenset({408, 409, 425, 429})
USER_AGENT = "Heed-Webhooks/1"


def http_client(settings: Settings) -> aiohttp.ClientSession:
    """A session for one receiving host; proxies from the environment are not used (the
    address checked is the one connected to), answers are logged as received (not
    decompressed), no cookie jar (deliveries carry no state between them). aiohttp: a
    delivery costs a tenth of the CPU it cost with httpx, and that CPU is taken from the
    API's own requests in the same process. `send` bounds the whole exchange itself, so the
    session sets no timer of its own."""
    bundle = settings.webhooks.ca_bundle
    connector = aiohttp.TCPConnector(
        limit=settings.webhooks.concurrency * 2,
        ssl=ssl.create_default_context(cafile=bundle) if bundle else True,
        use_dns_cache=False,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        skip_auto_headers=("Accept-Encoding",),
    )


async def lookup(url: str, settings: Settings) -> Target | str:
    """The checked target of `url`, or why it may not be called now (then retried: DNS
    changes). A round looks each URL up once for all its messages."""
    try:
        async with asyncio.timeout(settings.webhooks.timeout_seconds):
            return await resolve(url, settings)
    except UrlRefused as refused:
        return str(refused)
    except TimeoutError:
        return "name lookup timed out"


async def send(
    client: aiohttp.ClientSession, message: Claimed, target: Target | str, settings: Settings
) -> Attempt:
    started = dt.datetime.now(dt.UTC)
    if not is_known(message.event_type):
        return _attempt(message, settings, started, error="not in the event catalogue")
    if isinstance(target, str):
        return _attempt(message, settings, started, error=target, retry=True)
    body = webhook_body(
        message.event_type, message.created_at, message.organization, message.properties
    )
    timestamp = int(time.time())
    url = URL(target.url)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": url.raw_authority,
        "webhook-id": message.public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            message.signing_secrets, message.public_id, timestamp, body
        ),
    }
    clock = time.perf_counter()
    try:
        # The whole exchange, not each read: a receiver dripping its answer cannot hold a
        # delivery past its lease.
        async with asyncio.timeout(settings.webhooks.timeout_seconds):
            status, retry_after, head = await _post(client, url, target, body, headers)
    except TimeoutError:
        return _attempt(message, settings, started, error="timed out", retry=True, clock=clock)
    except aiohttp.ClientConnectorError as exc:
        error = f"could not connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc}"
        return _attempt(message, settings, started, error=error, retry=True, clock=clock)
    except aiohttp.ClientError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return _attempt(message, settings, started, error=error, retry=True, clock=clock)
    if 200 <= status < 300:
        return _attempt(message, settings, started, status=status, response=head, clock=clock)
    retry = status >= 500 or status in RETRIED_STATUSES
    return _attempt(
        message,
        settings,
        started,
        status=status,
        response=head,
        error=f"HTTP {status}" + (" (redirects are not followed)" if status < 400 else ""),
        retry=retry,
        retry_after=_retry_after(retry_after, started),
        clock=clock,
    )


async def _post(
    client: aiohttp.ClientSession,
    url: URL,
    target: Target,
    body: bytes,
    headers: dict[str, str],
) -> tuple[int, str | None, str]:
    """POST to the checked addresses in turn until one accepts the connection: the status,
    the Retry-After header and the first bytes of the answer. TLS is checked against the
    URL's host name, not the address connected to."""
    sni = target.host if url.scheme == "https" else None
    for n, address in enumerate(target.addresses, start=1):
        try:
            async with client.post(
                url.with_host(address),
                data=body,
                headers=headers,
                allow_redirects=False,
                server_hostname=sni,
            ) as response:
                return response.status, response.headers.get("retry-after"), await _head(response)
        except aiohttp.ClientConnectorError:
            if n == len(target.addresses):
                raise
    raise AssertionError("resolve() returns at least one address")


async def _head(response: aiohttp.ClientResponse) -> str:
    """The first bytes of the answer, for the delivery log."""
    read = b""
    while len(read) < RESPONSE_BYTES:
        chunk = await response.content.read(RESPONSE_BYTES - len(read))
        if not chunk:
            break
        read += chunk
    return read.decode("utf-8", "replace")


def _attempt(
    message: Claimed,
    settings: Settings,
    started: dt.datetime,
    *,
    status: int | None = None,
    response: str | None = None,
    error: str | None = None,
    retry: bool = False,
    retry_after: float | None = None,
    clock: float | None = None,
) -> Attempt:
    succeeded = error is None
    latency = None if clock is None else round((time.perf_counter() - clock) * 1000)
    next_at = None
    made = message.attempts - message.attempt_base
    if retry and made < settings.webhooks.max_attempts:
        delay = max(retry_delay(made, settings), retry_after or 0.0)
        next_at = started + dt.timedelta(seconds=min(delay, settings.webhooks.retry_max_seconds))
    return Attempt(succeeded, status, latency, error, response, started, next_at)


def retry_delay(attempts_made: int, settings: Settings) -> float:
    """Exponential backoff with jitter: between half and all of base * 2^(n-1), capped."""
    ceiling = min(
        settings.webhooks.retry_base_seconds * 2 ** (attempts_made - 1),
        settings.webhooks.retry_max_seconds,
    )
    return ceiling * (0.5 + random.random() / 2)  # noqa: S311 (jitter, not a secret)


def _retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Retry-After in seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - now).total_seconds(), 0.0)
