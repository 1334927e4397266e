"""Badges: earned inside the change that meets their criterion, exactly once.

The write unit holds the organization's lock and reads the member's badges under it, so of
any number of concurrent changes only the first sees a badge missing and earns it; the unique
key on `badge_award` is the backstop. A criterion is checked on every change a member makes
(a step done or skipped, an app event): a badge added to content later is earned at the
member's next change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.actor import Actor
from api.content import Catalog, Item, audience_matches
from api.engagement.store import award_badge, count_app_events, load_badges
from api.progress.live import ProgressAction
from api.progress.reads import Reads
from api.progress.store import UnderLock, completed_flow_ids, flow_definition
from api.progress.unit import Change, ReadMore


@dataclass(frozen=True)
class EarnedBadge:
    item: Item
    earned_at: dt.datetime


def _badges(catalog: Catalog, locale: str) -> list[Item]:
    return [resolved.item for resolved in catalog.items(kind="badge", locale=locale)]


def counted_events(catalog: Catalog, locale: str, event: str) -> bool:
    """Whether some badge counts this app event (then `track` reads its count)."""
    return any(
        badge.criterion is not None and badge.criterion.event == event
        for badge in _badges(catalog, locale)
    )


def event_count_reader(actor: Actor, catalog: Catalog, locale: str, event: str) -> ReadMore | None:
    """`read_more` for `track`: the member's count of this event before it, under the lock,
    when an unearned badge counts it (otherwise no statement)."""

    async def read(read: UnderLock, connection: Any) -> dict[str, int]:
        wanted = [
            badge
            for badge in _badges(catalog, locale)
            if badge.criterion is not None
            and badge.criterion.event == event
            and badge.id not in read.badges
        ]
        if not wanted or actor.member_pk is None:
            return {}
        return {
            event: await count_app_events(actor.organization_pk, actor.member_pk, event, connection)
        }

    return read if counted_events(catalog, locale, event) else None


def award_badges(
    change: Change, catalog: Catalog, locale: str, events: Mapping[str, int] | None = None
) -> None:
    """Earn, in this change, every badge whose criterion the member now meets.

    `events` counts app events including this change's own.
    """
    actor = change.actor
    earned = change.read.badges
    flows = [r.item for r in catalog.items(kind="flow", locale=locale)]
    completed = completed_flow_ids(change.state, flows, actor.member_id)
    for badge in _badges(catalog, locale):
        if badge.id in earned or badge.criterion is None:
            continue
        if not audience_matches(badge.audience, actor.roles, actor.attributes, locale, completed):
            continue
        if not _met(change, badge, flows, completed, events or {}):
            continue
        change.write(award_badge(actor.organization_pk, actor.member_id, badge.id, change.now))
        earned[badge.id] = change.now
        change.emit(
            "badge.earned",
            {
                "organizationId": actor.organization_id,
                "memberId": actor.member_id,
                "badgeId": badge.id,
                "criterion": badge.criterion.to_dict(),
            },
        )
        change.announce(
            badge.criterion.flow or "", None, ProgressAction.BADGE_EARNED, badge_id=badge.id
        )


def _met(
    change: Change,
    badge: Item,
    flows: list[Item],
    completed: set[str],
    events: Mapping[str, int],
) -> bool:
    criterion = badge.criterion
    assert criterion is not None
    member_id = change.actor.member_id
    if criterion.flow is not None and not criterion.steps:
        return criterion.flow in completed
    if criterion.flow is not None:
        flow = next((f for f in flows if f.id == criterion.flow), None)
        if flow is None:
            return False
        definition = flow_definition(flow)
        done = {
            mark.step_id
            for mark in change.state.marks.get(definition.id, ())
            if mark.state == "done" and mark.member_id in (None, member_id)
        }
        return set(criterion.steps) <= done
    if criterion.event is not None:
        return events.get(criterion.event, 0) >= criterion.times
    return criterion.helped and any(
        event_type == "help.resolved" and data.get("inviterId") not in (None, member_id)
        for event_type, data in change.emitted
    )


async def viewer_badges(
    actor: Actor, catalog: Catalog, reads: Reads, locale: str
) -> list[EarnedBadge]:
    """The viewer's badges, oldest first, in their locale (read only when asked for)."""
    awards = await reads.once("badges", lambda: load_badges(actor.organization_pk, actor.member_id))
    found = []
    for badge_id, earned_at in awards.items():
        resolved = catalog.get(badge_id, locale)
        if resolved is not None and resolved.item.kind == "badge":
            found.append(EarnedBadge(resolved.item, earned_at))
    return sorted(found, key=lambda badge: (badge.earned_at, badge.item.id))
