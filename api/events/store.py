"""Webhook endpoints, the outbox queue and the delivery log in the database.

The queue is `webhook_message`, filled by the outbox trigger. A worker claims due messages
by pushing their `next_attempt_at` past the time it needs to send them (a lease): a worker
killed mid-send leaves messages that fall due again when the lease ends, so each is sent
at least once. Messages of one organization to one endpoint (a line) go in order: only the
oldest pending message of a line can be claimed, so a line has one message in flight or
waiting for its retry, and the next goes once it is delivered or given up. Postgres workers
claim with `FOR UPDATE SKIP LOCKED` (a row leased by one is never claimed by another);
SQLite runs one process, where one UPDATE claims atomically.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from api.db.models import (
    Event,
    Organization,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
    WebhookSubscription,
)

_CREATED_AT = Event._meta.fields_map["created_at"]
_PROPERTIES = Event._meta.fields_map["properties"]
_AT = WebhookMessage._meta.fields_map["next_attempt_at"]
_EXPIRES = WebhookEndpoint._meta.fields_map["previous_secret_expires_at"]
_FAILING_SINCE = WebhookEndpoint._meta.fields_map["failing_since"]
RESPONSE_BYTES = 1024  # how much of a receiver's answer the delivery log keeps


def _value(at: dt.datetime) -> Any:
    """A time as the database driver takes it."""
    return _AT.to_db_value(at, WebhookMessage)


def public_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


# Endpoints (ORM: administration, not a hot path).


async def organization_pk(external_id: str) -> int:
    """The organization's key, creating it as on first sight in a token."""
    organization, _ = await Organization.get_or_create(external_id=external_id)
    return organization.id


async def create_endpoint(
    url: str,
    events: Sequence[str],
    organization: int | None,
    description: str | None,
    secret: str,
) -> WebhookEndpoint:
    async with in_transaction() as connection:
        endpoint = await WebhookEndpoint.create(
            public_id=public_id("ep"),
            url=url,
            events=list(events),
            organization_id=organization,
            description=description,
            secret=secret,
            using_db=connection,
        )
        await _subscribe(endpoint, events, connection)
    return await endpoint_by_id(endpoint.public_id, None)  # type: ignore[return-value]


async def _subscribe(endpoint: WebhookEndpoint, events: Iterable[str], connection: Any) -> None:
    await WebhookSubscription.bulk_create(
        [WebhookSubscription(endpoint_id=endpoint.id, event_type=name) for name in events],
        using_db=connection,
    )


async def endpoint_by_id(public: str, scope: int | None) -> WebhookEndpoint | None:
    """An endpoint; an admin acting for one organization sees only that organization's."""
    query = WebhookEndpoint.filter(public_id=public).select_related("organization")
    if scope is not None:
        query = query.filter(organization_id=scope)
    return await query.first()


async def list_endpoints(scope: int | None) -> list[WebhookEndpoint]:
    query = WebhookEndpoint.all().select_related("organization").order_by("id")
    if scope is not None:
        query = query.filter(organization_id=scope)
    return await query


async def update_endpoint(
    endpoint: WebhookEndpoint, changes: Mapping[str, Any], events: Sequence[str] | None
) -> WebhookEndpoint:
    """Apply `changes` (column values) and, when given, the new list of event types."""
    async with in_transaction() as connection:
        if changes:
            await WebhookEndpoint.filter(id=endpoint.id).using_db(connection).update(**changes)
        if events is not None:
            await WebhookSubscription.filter(endpoint_id=endpoint.id).using_db(connection).delete()
            await _subscribe(endpoint, events, connection)
    return await endpoint_by_id(endpoint.public_id, None)  # type: ignore[return-value]


async def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """Its messages and delivery log go with it."""
    await WebhookEndpoint.filter(id=endpoint.id).delete()


# The queue.


@dataclass(frozen=True)
class Claimed:
    """A message a worker holds the lease of, with everything needed to send it."""

    id: int
    public_id: str
    endpoint_id: int
    organization_id: int
    attempts: int
    attempt_base: int
    event_type: str
    created_at: dt.datetime
    organization: str
    properties: dict[str, Any]
    url: str
    signing_secrets: tuple[str, ...]
    failing_since: dt.datetime | None


_DUE = (
    "SELECT m.id FROM webhook_message m JOIN webhook_endpoint e ON e.id = m.endpoint_id"
    " WHERE m.state = 'pending' AND m.next_attempt_at <= $2 AND e.enabled"
    " AND NOT EXISTS (SELECT 1 FROM webhook_message p WHERE p.endpoint_id = m.endpoint_id"
    " AND p.organization_id = m.organization_id AND p.state = 'pending' AND p.id < m.id)"
    " ORDER BY m.id LIMIT $3"
)
_LEASE = "SET attempts = attempts + 1, next_attempt_at = $1"
_DETAILS = (
    "SELECT m.id, m.public_id, m.endpoint_id, m.organization_id, m.attempts, m.attempt_base,"
    " ev.name, ev.created_at, o.external_id, ev.properties, e.url, e.secret,"
    " e.previous_secret, e.previous_secret_expires_at, e.failing_since"
    " FROM {messages} m JOIN event ev ON ev.id = m.event_id"
    " JOIN organization o ON o.id = m.organization_id"
    " JOIN webhook_endpoint e ON e.id = m.endpoint_id{where} ORDER BY m.id"
)
# Postgres: one statement. The due messages are chosen once (MATERIALIZED: not again for
# every row the update visits, whatever plan the statistics of a young queue suggest).
_CLAIM_POSTGRES = (
    f"WITH due AS MATERIALIZED ({_DUE} FOR UPDATE OF m SKIP LOCKED),"
    f" leased AS (UPDATE webhook_message w {_LEASE} FROM due WHERE w.id = due.id"
    " RETURNING w.id, w.public_id, w.endpoint_id, w.organization_id, w.attempts,"
    " w.attempt_base, w.event_id) " + _DETAILS.format(messages="leased", where="")
)
# SQLite: one process delivers, and an UPDATE claims atomically; the details follow.
_CLAIM_SQLITE = f"UPDATE webhook_message {_LEASE} WHERE id IN ({_DUE}) RETURNING id"


async def claim(now: dt.datetime, lease_until: dt.datetime, limit: int) -> list[Claimed]:
    """Lease up to `limit` due messages, oldest first, one per line."""
    values = [_value(lease_until), _value(now), limit]
    async with in_transaction() as connection:
        if _is_postgres(connection):
            await _plan_for_now(connection)
            _, details = await connection.execute_query(_CLAIM_POSTGRES, values)
            return [_claimed(row, now) for row in details]
        rows = await connection.execute_query_dict(_sql(connection, _CLAIM_SQLITE), values)
        if not rows:
            return []
        ids = [int(row["id"]) for row in rows]
        placeholders = ", ".join(f"${n}" for n in range(1, len(ids) + 1))
        where = f" WHERE m.id IN ({placeholders})"
        _, details = await connection.execute_query(
            _sql(connection, _DETAILS.format(messages="webhook_message", where=where)), ids
        )
    return [_claimed(row, now) for row in details]


async def _plan_for_now(connection: Any) -> None:
    """The claim is planned anew each round, for the queue as it is: a plan cached while the
    queue was young and empty scans it whole and sorts on every round (20-40 ms a claim at a
    few hundred pending messages, against 1-6 ms)."""
    await connection.execute_script("SET LOCAL plan_cache_mode = force_custom_plan")


async def refresh_statistics() -> None:
    """Analyze the queue (Postgres). Autovacuum analyzes a table once a tenth of it has
    changed, at most once a minute: after a burst the planner still believes the queue as
    it was, and a claim on 10,000 pending messages took 110 ms instead of 1.1 ms
    (EXPLAIN ANALYZE, Postgres 15). The worker calls this while it has a backlog."""
    connection = WebhookMessage._meta.db
    if _is_postgres(connection):
        await connection.execute_script("ANALYZE webhook_message")


def _claimed(row: Sequence[Any], now: dt.datetime) -> Claimed:
    (pk, public, endpoint, organization, attempts, base, name, created, external) = row[:9]
    properties, url, secret, previous, expires, failing = row[9:]
    expires = _EXPIRES.to_python_value(expires)
    live = (secret,) if not previous or expires is None or expires <= now else (secret, previous)
    return Claimed(
        id=int(pk),
        public_id=public,
        endpoint_id=int(endpoint),
        organization_id=int(organization),
        attempts=int(attempts),
        attempt_base=int(base),
        event_type=name,
        created_at=_CREATED_AT.to_python_value(created),
        organization=external,
        properties=_PROPERTIES.to_python_value(properties) or {},
        url=url,
        signing_secrets=live,
        failing_since=_FAILING_SINCE.to_python_value(failing),
    )


@dataclass(frozen=True)
class Attempt:
    """What one send did; `next_attempt_at` None means no retry."""

    succeeded: bool
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response: str | None
    at: dt.datetime
    next_attempt_at: dt.datetime | None


async def record_attempts(attempts: Sequence[tuple[Claimed, Attempt]]) -> None:
    """Log a round's attempts and move their messages on, in one transaction: one statement
    for the delivered, one for the given up, one per retry. A message whose lease was lost
    meanwhile is left as the newer claim made it; one whose endpoint was deleted meanwhile
    is gone, with its log."""
    async with in_transaction() as connection:
        live = await _lock_endpoints(connection, {m.endpoint_id for m, _ in attempts})
        kept = [(m, a) for m, a in attempts if m.endpoint_id in live]
        if not kept:
            return
        delivered = [m for m, a in kept if a.succeeded]
        failed = [m for m, a in kept if not a.succeeded and a.next_attempt_at is None]
        now = max(a.at for _, a in kept)
        if delivered:
            await _move(connection, "state = 'delivered', delivered_at = $1", now, delivered)
        if failed:
            await _move(connection, "state = 'failed', next_attempt_at = $1", now, failed)
        for message, attempt in kept:
            if attempt.next_attempt_at is not None:
                await _move(connection, "next_attempt_at = $1", attempt.next_attempt_at, [message])
        await _insert_log(kept, connection)


async def _move(
    connection: Any, changes: str, at: dt.datetime, messages: Sequence[Claimed]
) -> None:
    """Change messages still held under the claim that leased them (`changes`: constants)."""
    held = " OR ".join(
        f"(id = ${2 * n + 2} AND attempts = ${2 * n + 3})" for n in range(len(messages))
    )
    values: list[Any] = [_value(at)]
    for message in messages:
        values += [message.id, message.attempts]
    sql = f"UPDATE webhook_message SET {changes} WHERE {held}"  # noqa: S608
    await connection.execute_query(_sql(connection, sql), values)


_LOG_COLUMNS = (
    "public_id, message_id, endpoint_id, attempt, succeeded, status_code, latency_ms, error,"
    " response, created_at"
)


async def _lock_endpoints(connection: Any, endpoint_ids: set[int]) -> set[int]:
    """Take the endpoints' rows before their messages', in the order a deletion takes them
    (the endpoint, then its messages by cascade), so the two never deadlock; the ids of
    those that still exist."""
    ids = sorted(endpoint_ids)
    placeholders = ", ".join(f"${n}" for n in range(1, len(ids) + 1))
    sql = f"SELECT id FROM webhook_endpoint WHERE id IN ({placeholders}) ORDER BY id"  # noqa: S608
    if _is_postgres(connection):
        sql += " FOR KEY SHARE"
    _, rows = await connection.execute_query(_sql(connection, sql), ids)
    return {int(row[0]) for row in rows}


async def _insert_log(attempts: Sequence[tuple[Claimed, Attempt]], connection: Any) -> None:
    width = 10
    rows = ", ".join(
        "(" + ", ".join(f"${n * width + k}" for k in range(1, width + 1)) + ")"
        for n in range(len(attempts))
    )
    values: list[Any] = []
    for message, attempt in attempts:
        values += [
            public_id("dlv"),
            message.id,
            message.endpoint_id,
            message.attempts,
            attempt.succeeded,
            attempt.status_code,
            attempt.latency_ms,
            attempt.error,
            attempt.response,
            _value(attempt.at),
        ]
    sql = f"INSERT INTO webhook_delivery ({_LOG_COLUMNS}) VALUES {rows}"  # noqa: S608
    await connection.execute_query(_sql(connection, sql), values)


async def endpoint_succeeded(endpoint_id: int) -> None:
    await WebhookEndpoint.filter(id=endpoint_id, failing_since__isnull=False).update(
        failing_since=None
    )


async def endpoint_failed(endpoint_id: int, now: dt.datetime, disable_after: float) -> str | None:
    """Note a failure; when the endpoint has failed for `disable_after` seconds, disable it
    and return the reason (once: the worker that disables it logs it)."""
    await WebhookEndpoint.filter(id=endpoint_id, failing_since__isnull=True).update(
        failing_since=now
    )
    since = await WebhookEndpoint.filter(id=endpoint_id).values_list("failing_since", flat=True)
    if not since or (now - since[0]).total_seconds() < disable_after:  # type: ignore[operator]
        return None
    reason = f"every delivery failed since {since[0].isoformat(timespec='seconds')}"  # type: ignore[union-attr]
    disabled = await WebhookEndpoint.filter(id=endpoint_id, enabled=True).update(
        enabled=False, disabled_reason=reason
    )
    return reason if disabled else None


async def purge(before: dt.datetime) -> None:
    """Forget finished messages and delivery log entries older than `before` (pending
    messages stay, however old; events stay in `event`, so a replay since a time still
    finds them)."""
    await WebhookDelivery.filter(created_at__lt=before).delete()
    await WebhookMessage.filter(state__in=("delivered", "failed"), created_at__lt=before).delete()


# Replays.

_RANDOM_ID = {
    "sqlite": "'msg_' || lower(hex(randomblob(16)))",
    "postgres": "'msg_' || replace(gen_random_uuid()::text, '-', '')",
}


async def replay_delivery(delivery_public_id: str, scope: int | None, now: dt.datetime) -> bool:
    """Send a logged delivery's message again (same webhook-id, a fresh retry budget)."""
    query = WebhookDelivery.filter(public_id=delivery_public_id)
    if scope is not None:
        query = query.filter(endpoint__organization_id=scope)
    message_ids = await query.values_list("message_id", flat=True)
    if not message_ids:
        return False
    await _requeue(WebhookMessage._meta.db, "m.id = $2", [message_ids[0]], now)
    return True


async def replay_since(endpoint: WebhookEndpoint, since: dt.datetime, now: dt.datetime) -> int:
    """Queue every event since `since` the endpoint subscribes to: messages it had are sent
    again, events from before it subscribed (or while it was disabled) get new ones."""
    since_value = _CREATED_AT.to_db_value(since, Event)
    async with in_transaction() as connection:
        if not await _lock_endpoints(connection, {endpoint.id}):
            return 0
        requeued = await _requeue(
            connection,
            "m.endpoint_id = $2 AND m.event_id IN (SELECT id FROM event WHERE created_at >= $3)",
            [endpoint.id, since_value],
            now,
        )
        created = await connection.execute_query_dict(
            _sql(connection, _REPLAY_NEW["postgres" if _is_postgres(connection) else "sqlite"]),
            [endpoint.id, _value(now), since_value, endpoint.organization_id],  # type: ignore[attr-defined]
        )
    return requeued + len(created)


async def _requeue(connection: Any, where: str, values: list[Any], now: dt.datetime) -> int:
    """`where` is one of this module's constant conditions on `m`, never input."""
    rows = await connection.execute_query_dict(
        _sql(connection, _REQUEUE.format(where=where)), [_value(now), *values]
    )
    return len(rows)


_REQUEUE = (
    "UPDATE webhook_message SET state = 'pending', next_attempt_at = $1,"
    " attempt_base = attempts WHERE id IN (SELECT m.id FROM webhook_message m"
    " WHERE {where}) RETURNING id"
)
_REPLAY_NEW = {
    dialect: (
        "INSERT INTO webhook_message (public_id, endpoint_id, event_id, organization_id,"  # noqa: S608
        " state, attempts, attempt_base, next_attempt_at, created_at)"
        f" SELECT {random_id}, $1, ev.id, ev.organization_id, 'pending', 0, 0,"
        " $2, $2 FROM event ev WHERE ev.created_at >= $3 AND ev.kind <> 'app'"
        " AND EXISTS (SELECT 1 FROM webhook_subscription s WHERE s.endpoint_id = $1"
        " AND s.event_type IN (ev.name, '*'))"
        " AND ev.organization_id = COALESCE($4, ev.organization_id)"
        " AND NOT EXISTS (SELECT 1 FROM webhook_message m WHERE m.endpoint_id = $1"
        " AND m.event_id = ev.id) ORDER BY ev.id RETURNING id"
    )
    for dialect, random_id in _RANDOM_ID.items()
}


# The delivery log.


@dataclass(frozen=True)
class DeliveryRow:
    pk: int
    id: str
    event_id: str
    event_type: str
    attempt: int
    succeeded: bool
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response: str | None
    created_at: dt.datetime


async def deliveries(endpoint_pk: int, first: int, before_pk: int | None) -> list[DeliveryRow]:
    """Newest first; `before_pk` continues a page."""
    connection = WebhookDelivery._meta.db
    sql = (
        "SELECT d.id, d.public_id, m.public_id, ev.name, d.attempt, d.succeeded, d.status_code,"
        " d.latency_ms, d.error, d.response, d.created_at FROM webhook_delivery d"
        " JOIN webhook_message m ON m.id = d.message_id JOIN event ev ON ev.id = m.event_id"
        " WHERE d.endpoint_id = $1"
    )
    values: list[Any] = [endpoint_pk, first]
    if before_pk is not None:
        sql += " AND d.id < $3"
        values.append(before_pk)
    _, rows = await connection.execute_query(
        _sql(connection, sql + " ORDER BY d.id DESC LIMIT $2"), values
    )
    return [
        DeliveryRow(
            int(row[0]),
            row[1],
            row[2],
            row[3],
            int(row[4]),
            bool(row[5]),
            row[6],
            row[7],
            row[8],
            row[9],
            _AT.to_python_value(row[10]),
        )
        for row in rows
    ]


def _is_postgres(connection: Any) -> bool:
    return connection.capabilities.dialect == "postgres"  # type: ignore[no-any-return]


def _sql(connection: Any, sql: str) -> str:
    """Statements use `$n` placeholders; SQLite spells them `?n`."""
    return sql if _is_postgres(connection) else sql.replace("$", "?")
