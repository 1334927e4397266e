"""Releases in the database: publish a build, load the latest one, fetch old revisions.

Rendering happens once per item revision, here at publish time; workers load the rendered
payloads and never render. On Postgres the new release number is announced with NOTIFY inside
the publishing transaction, so listeners hear of it exactly when it is committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api.content.catalog import Catalog
from api.content.model import Item, Problem
from api.content.pipeline import build
from api.db.models import ContentRevision, Release, ReleaseItem
from api.errors import ErrorCode, HeedError

RELEASE_CHANNEL = "heed_release"
LOAD_BATCH = 100  # payload rows decoded at a time when loading a release


@dataclass(frozen=True)
class LiveRelease:
    """A release as a worker serves it: immutable, shared by every request."""

    number: int
    content_hash: str
    created_at: dt.datetime
    catalog: Catalog


def served_catalog(release: LiveRelease | None) -> Catalog:
    """The catalog being served; NO_RELEASE before anything is published."""
    if release is None:
        raise HeedError(
            ErrorCode.NO_RELEASE, "no content has been published yet: run 'heed content publish'"
        )
    return release.catalog


@dataclass(frozen=True)
class PublishResult:
    number: int
    content_hash: str
    created: bool
    new_revisions: int
    items: int
    warnings: tuple[Problem, ...] = ()  # published all the same (see `Build.warnings`)


class PublishRefused(Exception):
    """The content has problems; nothing was published."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the content")
        self.problems = problems


async def publish(
    root: Path,
    *,
    default_locale: str = "en",
    cache: dict[str, Item] | None = None,
    shown_from: Path | None = None,
) -> PublishResult:
    """Build `root` and store it as a new release, unless it equals the latest one.

    `cache` (rendered items by source hash) is for a caller that publishes again and again,
    such as the content watcher: filled from the latest release when empty, then kept
    current by each build. `shown_from`: see `pipeline.discover`.
    """
    previous = await _latest_revisions()
    if cache is None:
        cache = await _render_cache()
    elif not cache:
        cache.update(await _render_cache())
    result = await asyncio.to_thread(
        build,
        root,
        previous=previous,
        cache=cache,
        default_locale=default_locale,
        shown_from=shown_from,
    )
    if result.problems:
        raise PublishRefused(result.problems)
    latest = await Release.all().order_by("-number").first()
    if latest is not None and latest.content_hash == result.content_hash:
        return PublishResult(
            latest.number,
            latest.content_hash,
            False,
            0,
            latest.item_count,
            tuple(result.warnings),
        )
    number = 1 if latest is None else latest.number + 1
    items = list(result.items.values())
    try:
        async with in_transaction() as connection:
            new = [item for item in items if previous.get(item.key, ("", 0))[1] < item.revision]
            await ContentRevision.bulk_create(
                [
                    ContentRevision(
                        item_id=item.id,
                        locale=item.locale,
                        revision=item.revision,
                        source_hash=item.source_hash,
                        payload=item.to_dict(),
                    )
                    for item in new
                ],
                using_db=connection,
            )
            await Release.create(
                number=number,
                content_hash=result.content_hash,
                item_count=len(items),
                using_db=connection,
            )
            revision_ids = await _revision_ids(items, connection)
            await ReleaseItem.bulk_create(
                [ReleaseItem(release_id=number, revision_id=rid) for rid in revision_ids],
                using_db=connection,
            )
            if connection.capabilities.dialect == "postgres":
                await connection.execute_query(
                    "SELECT pg_notify($1, $2)", [RELEASE_CHANNEL, str(number)]
                )
    except IntegrityError:
        raise PublishConflict from None
    return PublishResult(
        number, result.content_hash, True, len(new), len(items), tuple(result.warnings)
    )


class PublishConflict(Exception):
    def __init__(self) -> None:
        super().__init__("another publish committed first; run it again")


async def _latest_revisions() -> dict[tuple[str, str], tuple[str, int]]:
    """The highest revision ever given to each item (a re-added item continues from it)."""
    latest: dict[tuple[str, str], tuple[str, int]] = {}
    rows = await ContentRevision.all().values_list("item_id", "locale", "revision", "source_hash")
    for item_id, locale, revision, source_hash in rows:
        key = (item_id, locale)
        if key not in latest or latest[key][1] < revision:
            latest[key] = (source_hash, revision)
    return latest


async def _render_cache() -> dict[str, Item]:
    """Rendered items of the latest release, by source hash: unchanged files skip rendering."""
    latest = await Release.all().order_by("-number").first()
    if latest is None:
        return {}
    return {item.source_hash: item for item in await _release_items(latest.number)}


async def _release_items(number: int, known: Catalog | None = None) -> list[Item]:
    """A release's items, read a batch of rows at a time: a decoded payload is several times
    the size of the item made from it, and a worker's memory stays near its highest mark.
    A release's rows never change once committed, so the batches need no transaction.

    Items `known` already holds at the same revision are taken from it, not read again:
    after one edit, a swap reads one payload."""
    rows = await ContentRevision.filter(releases__release_id=number).values_list(
        "id", "item_id", "locale", "revision"
    )
    items: list[Item] = []
    wanted: list[int] = []
    for row_id, item_id, locale, revision in rows:
        item = known.item(item_id, locale) if known is not None else None
        if item is not None and item.revision == revision:
            items.append(item)
        else:
            wanted.append(row_id)
    wanted.sort()
    for start in range(0, len(wanted), LOAD_BATCH):
        payloads = await ContentRevision.filter(
            id__in=wanted[start : start + LOAD_BATCH]
        ).values_list("payload", flat=True)
        items += [Item.from_dict(payload) for payload in payloads]  # type: ignore[arg-type]
    return items


async def _revision_ids(items: list[Item], connection: object) -> list[int]:
    wanted = {(item.id, item.locale, item.revision) for item in items}
    rows = (
        await ContentRevision.filter(item_id__in={item.id for item in items})
        .using_db(
            connection  # type: ignore[arg-type]
        )
        .values_list("id", "item_id", "locale", "revision")
    )
    return [row[0] for row in rows if (row[1], row[2], row[3]) in wanted]


async def latest_release_number() -> int | None:
    latest = await Release.all().order_by("-number").first().values_list("number", flat=True)
    return latest  # type: ignore[return-value]


async def load_release(
    number: int | None = None,
    *,
    default_locale: str = "en",
    fallback: bool = True,
    previous: Catalog | None = None,
) -> LiveRelease | None:
    """The given (or latest) release with its rendered items, ready to serve from memory;
    what `previous` (the catalog being served) holds unchanged is reused, not read again."""
    query = Release.all() if number is None else Release.filter(number=number)
    release = await query.order_by("-number").first()
    if release is None:
        return None
    catalog = Catalog(
        await _release_items(release.number, previous),
        default_locale=default_locale,
        fallback=fallback,
        previous=previous,
    )
    return LiveRelease(release.number, release.content_hash, release.created_at, catalog)


async def item_revision(item_id: str, locale: str, revision: int) -> Item | None:
    """Any revision ever published, exactly as it was served (a flow's with its steps);
    older ones only the database still holds."""
    payload = await ContentRevision.get_or_none(
        item_id=item_id, locale=locale, revision=revision
    ).values_list("payload", flat=True)
    return None if payload is None else Item.from_dict(payload)  # type: ignore[arg-type]
