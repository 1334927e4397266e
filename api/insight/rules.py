"""The insight rules as pure functions: a milestone's status, the health formula, the period a
nudge belongs to, and the statistics over organizations. No I/O: the store supplies the facts.

Milestone status (documented in the README):
- `REACHED` when its criterion is met (at the moment it was first met);
- else `OVERDUE` once its target has passed;
- else `AT_RISK` when less than a fifth of the time from the organization's start to the
  target is left and less than half of the criterion is met;
- else `ON_TRACK`.

Health score (0 to 100) = 100 x the weighted mean of its components, each from 0 to 1:
- recency (25%): 1 on the day of the account's last activity, falling linearly to 0 after
  `RECENCY_DAYS` days without any;
- adoption (25%): the share of members who finished every flow of their role's path;
- milestones (30%): the mean over milestones of 1 (reached on time or on track), 0.5 (reached
  late or at risk) or 0 (overdue);
- help (10%): 1 with no open help request, falling by a fifth for each one, 0 from five;
- NPS (10%, only when the account answered an NPS question): (NPS + 100) / 200.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

AT_RISK_TIME_LEFT = 0.2  # less than a fifth of the time left ...
AT_RISK_MET = 0.5  # ... and less than half of the criterion met
RECENCY_DAYS = 30
HELP_ZERO_AT = 5
DAY = dt.timedelta(days=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class MilestoneStatus(StrEnum):
    """Where an organization stands on one milestone."""

    REACHED = "REACHED"
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    OVERDUE = "OVERDUE"


def milestone_status(
    now: dt.datetime,
    started: dt.datetime,
    target: dt.datetime,
    reached: dt.datetime | None,
    met: float,
) -> MilestoneStatus:
    """The status rule above; `met` is the share of the criterion met, 0 to 1."""
    if reached is not None:
        return MilestoneStatus.REACHED
    if now > target:
        return MilestoneStatus.OVERDUE
    span = (target - started).total_seconds()
    left = (target - now).total_seconds()
    if span > 0 and left / span < AT_RISK_TIME_LEFT and met < AT_RISK_MET:
        return MilestoneStatus.AT_RISK
    return MilestoneStatus.ON_TRACK


def days_between(start: dt.datetime, end: dt.datetime) -> float:
    return round((end - start) / DAY, 3)


@dataclass(frozen=True)
class Component:
    """One part of the health score: its value (0 to 1), its weight, and why."""

    name: str
    value: float
    weight: float
    detail: str


@dataclass(frozen=True)
class HealthFacts:
    """What the health score is computed from, for one organization."""

    last_activity: dt.datetime | None
    members: int
    members_done: int
    milestones: Sequence[tuple[MilestoneStatus, bool]]  # (status, reached on time)
    open_help: int
    nps: float | None
    nps_answers: int


def milestone_score(status: MilestoneStatus, on_time: bool) -> float:
    if status is MilestoneStatus.REACHED:
        return 1.0 if on_time else 0.5
    return {MilestoneStatus.ON_TRACK: 1.0, MilestoneStatus.AT_RISK: 0.5}.get(status, 0.0)


def health_components(facts: HealthFacts, now: dt.datetime) -> list[Component]:
    """The components of the formula above, each with the detail a person reads."""
    if facts.last_activity is None:
        recency = Component("recency", 0.0, 0.25, "no activity yet")
    else:
        idle = max(0.0, (now - facts.last_activity) / DAY)
        recency = Component(
            "recency",
            round(max(0.0, 1 - idle / RECENCY_DAYS), 4),
            0.25,
            f"last activity {idle:.1f} days ago",
        )
    adoption = Component(
        "adoption",
        round(facts.members_done / facts.members, 4) if facts.members else 0.0,
        0.25,
        f"{facts.members_done} of {facts.members} members finished their path",
    )
    scores = [milestone_score(status, on_time) for status, on_time in facts.milestones]
    counts = {s: sum(1 for status, _ in facts.milestones if status is s) for s in MilestoneStatus}
    milestones = Component(
        "milestones",
        round(sum(scores) / len(scores), 4) if scores else 1.0,
        0.3,
        ", ".join(f"{n} {s.lower().replace('_', ' ')}" for s, n in counts.items() if n)
        or "no milestones",
    )
    help_value = 1 - min(facts.open_help, HELP_ZERO_AT) / HELP_ZERO_AT
    help_ = Component("help", round(help_value, 4), 0.1, f"{facts.open_help} open help requests")
    if facts.nps is None:
        nps = Component("nps", 0.0, 0.0, "no NPS answers yet")
    else:
        nps = Component(
            "nps",
            round((facts.nps + 100) / 200, 4),
            0.1,
            f"NPS {facts.nps:.0f} from {facts.nps_answers} answers",
        )
    return [recency, adoption, milestones, help_, nps]


def health_score(components: Sequence[Component]) -> int:
    weight = sum(c.weight for c in components)
    if not weight:
        return 0
    return round(100 * sum(c.value * c.weight for c in components) / weight)


def period_of(now: dt.datetime, days: int) -> str:
    """The nudge period holding `now`: periods of `days` days counted from the Unix epoch,
    named by their first day (`2026-11-26`)."""
    index = math.floor((now - EPOCH) / (DAY * days))
    return (EPOCH + index * days * DAY).date().isoformat()


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def percentile_90(values: Sequence[float]) -> float | None:
    """The 90th percentile, interpolated between the closest ranks."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=10, method="inclusive")[8], 3)


def rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
