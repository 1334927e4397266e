"""What shows when: `nextUp` for a surface, and the seen and dismissed marks it respects.

Tips, announcements, surveys and tours (flows) name a surface (`placement`) and a
`priority` in content. For one viewer and surface, `next_up` answers at most the surface's
limit, highest priority first, among the items whose audience the viewer is in, leaving out
what the viewer dismissed or completed (a flow completed, a survey answered, an announcement
already seen or no longer live); nothing while the surface cools off after the last item
shown on it. Marks are kept by item id, so they survive content changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from api.actor import Actor
from api.content import Catalog, Item, Resolved, audience_matches, is_live
from api.content.spec import PLACED_KINDS
from api.engagement.store import MarkRow, load_mark, load_marks, put_mark
from api.engagement.surveys import hidden_until
from api.errors import ErrorCode, HeedError, not_found
from api.progress.live import ProgressHub
from api.progress.reads import Reads
from api.progress.steps import check_text
from api.progress.store import UnderLock, ViewerState, completed_flow_ids, flow_definition
from api.progress.unit import Change, commit
from api.settings import Surface


@dataclass(frozen=True)
class ItemStateResult:
    item: Resolved
    mark: MarkRow


def surface_of(surfaces: Mapping[str, Surface], name: str) -> Surface:
    found = surfaces.get(name)
    if found is None:
        raise HeedError(
            ErrorCode.UNKNOWN_SURFACE,
            f"no surface {name[:40]!r}; use one of {', '.join(sorted(surfaces))}",
            ("surface",),
        )
    return found


async def viewer_marks(actor: Actor, reads: Reads) -> dict[str, MarkRow]:
    return await reads.once(
        "item_marks", lambda: load_marks(actor.organization_pk, actor.member_id)
    )


async def next_up(
    actor: Actor,
    catalog: Catalog,
    reads: Reads,
    surfaces: Mapping[str, Surface],
    surface: str,
    locale: str,
    now: dt.datetime,
) -> list[Resolved]:
    """What this viewer should be shown on `surface` now (two statements: marks, state)."""
    settings = surface_of(surfaces, surface)
    marks = await viewer_marks(actor, reads)
    last_shown = max(
        (m.shown_at for m in marks.values() if m.surface == surface and m.shown_at is not None),
        default=None,
    )
    if last_shown is not None and now < last_shown + dt.timedelta(hours=settings.cool_off_hours):
        return []
    state = await reads.viewer_state()
    flows = [r.item for r in catalog.items(kind="flow", locale=locale)]
    completed = completed_flow_ids(state, flows, actor.member_id)
    candidates = [
        resolved
        for kind in PLACED_KINDS
        for resolved in catalog.items(kind=kind, locale=locale)
        if resolved.item.placement == surface
        and audience_matches(
            resolved.item.audience, actor.roles, actor.attributes, locale, completed
        )
        and _still_due(resolved.item, marks.get(resolved.item.id), state, completed, actor, now)
    ]
    candidates.sort(key=lambda r: (-r.item.priority, r.item.id))
    return candidates[: settings.limit]


def _still_due(
    item: Item,
    mark: MarkRow | None,
    state: ViewerState,
    completed: set[str],
    actor: Actor,
    now: dt.datetime,
) -> bool:
    if item.kind == "survey":
        until = hidden_until(item, mark)
        return until is None or now >= until
    if mark is not None and mark.dismissed_at is not None:
        return False
    if item.kind == "announcement":
        return is_live(item, now) and (mark is None or mark.seen_at is None)
    if item.kind == "flow":
        record = state.record(flow_definition(item), actor.member_id)
        dismissed = record is not None and record.dismissed_at is not None
        return item.id not in completed and not dismissed
    return True


Verb = Literal["seen", "dismissed"]


async def mark_item(
    actor: Actor,
    catalog: Catalog,
    hub: ProgressHub,
    item_id: str,
    verb: Verb,
    locale: str,
    now: dt.datetime,
) -> ItemStateResult:
    """`markSeen` (first seen kept, last shown refreshed: it starts the surface's cool-off)
    or `dismiss` (kept until a survey's repeat period lets it show again): idempotent, per
    member, through the write unit."""
    check_text(itemId=item_id)
    actor.acting_member()
    resolved = catalog.get(item_id, locale)
    if resolved is None:
        raise not_found(f"no content item {item_id!r}", "itemId")
    item = resolved.item

    async def read_mark(_: UnderLock, connection: Any) -> MarkRow | None:
        return await load_mark(actor.organization_pk, actor.member_id, item_id, connection)

    async def decide(change: Change) -> dict[str, Any]:
        old = change.more or MarkRow(item_id)
        at = change.now
        if verb == "seen":
            surface = item.placement or old.surface
            new = replace(old, surface=surface, seen_at=old.seen_at or at, shown_at=at)
        elif old.dismissed_at is not None and (
            item.kind != "survey" or at < (hidden_until(item, old) or at)
        ):
            new = old  # already dismissed, and still in force
        else:
            new = replace(old, surface=old.surface or item.placement, dismissed_at=at)
        if new != old:
            change.write(put_mark(actor.organization_pk, actor.member_id, new))
        return {"mark": new}  # sent without an idempotency key: never stored

    committed = await commit(actor, hub, decide, now=now, read_more=read_mark)
    return ItemStateResult(resolved, committed.record["mark"])
